//! Arbitrary text as a declared schema: a result or a clean error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = liteshift_tests::check::check_declared_text(data) {
        panic!("{e}");
    }
});
