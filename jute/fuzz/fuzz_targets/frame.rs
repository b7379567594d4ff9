#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| jute_fuzz::run(jute_fuzz::bodies::frame, data));
