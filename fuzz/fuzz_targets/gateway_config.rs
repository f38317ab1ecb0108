#![no_main]
// `gateway::fuzz::config` (its corpus is replayed by `gateway/tests/gateway/fuzz.rs`).
libfuzzer_sys::fuzz_target!(|data: &[u8]| gateway::fuzz::config(data));
