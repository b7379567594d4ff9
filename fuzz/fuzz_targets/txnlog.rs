#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrokeeper_fuzz::bodies::txnlog(data));
