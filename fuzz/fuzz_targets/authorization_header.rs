#![no_main]
// `gateway::fuzz::authorization_header` (its corpus is replayed by `gateway/tests/gateway/fuzz.rs`).
libfuzzer_sys::fuzz_target!(|data: &[u8]| gateway::fuzz::authorization_header(data));
