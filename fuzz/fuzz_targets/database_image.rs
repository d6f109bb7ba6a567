//! Mutated database images (seeds: `fuzz/seeds/database_image/`, valid images of
//! `liteshift_tests::check::IMAGE_SCHEMA`): inspect, check, plan and apply on each — never a
//! panic, a clean error for a damaged file, and the file unchanged whenever liteshift refuses.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = liteshift_tests::check::check_database_image(data) {
        panic!("{e}");
    }
});
