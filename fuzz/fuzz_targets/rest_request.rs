//! Fuzzes one REST endpoint's request (first byte: which endpoint, body or query string), as a client could send it: see `trackd_server::fuzzing::check_rest_request` for what must hold. `tests/fuzz_seeds.rs`
//! replays every committed seed through the same body.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    trackd_server::fuzzing::check_rest_request(input);
});
