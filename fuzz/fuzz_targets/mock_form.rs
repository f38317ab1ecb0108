#![no_main]
// `mock_idp::fuzz::form` (its corpus is replayed by `mock-idp/tests/mock_idp/fuzz.rs`).
libfuzzer_sys::fuzz_target!(|data: &[u8]| mock_idp::fuzz::form(data));
