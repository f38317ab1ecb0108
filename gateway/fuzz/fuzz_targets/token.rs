#![no_main]
// The token parser: `gateway::validation::fuzz::token` (shared with the stable proptest harness).
libfuzzer_sys::fuzz_target!(|data: &[u8]| gateway::validation::fuzz::token(data));
