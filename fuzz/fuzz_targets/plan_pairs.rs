//! diff + plan + apply over arbitrary pairs of small structured schemas.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = liteshift_tests::check::check_pair_from_bytes(data) {
        panic!("{e}");
    }
});
