//! Fuzzes a stored metric chunk (or points to encode), as a damaged store could hold: see `trackd_server::fuzzing::check_metric_chunk` for what must hold. `tests/fuzz_seeds.rs`
//! replays every committed seed through the same body.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    trackd_server::fuzzing::check_metric_chunk(input);
});
