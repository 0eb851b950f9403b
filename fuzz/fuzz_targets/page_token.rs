//! Fuzzes a page token offered to every kind of listing: see `trackd_server::fuzzing::check_page_token` for what must hold. `tests/fuzz_seeds.rs`
//! replays every committed seed through the same body.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    trackd_server::fuzzing::check_page_token(input);
});
