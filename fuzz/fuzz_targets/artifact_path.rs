//! Fuzzes the artifact path validator with a client's path: see
//! `trackd_server::fuzzing::check_artifact_path` for what must hold. `tests/fuzz_seeds.rs`
//! replays every committed seed through the same body.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    trackd_server::fuzzing::check_artifact_path(input);
});
