#![no_main]
// Bearer extraction from Authorization headers and the request target.
libfuzzer_sys::fuzz_target!(|data: &[u8]| gateway::validation::fuzz::authorization_header(data));
