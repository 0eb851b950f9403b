//! Fuzzes one LogStream batch as it arrives on the wire: see `trackd_server::fuzzing::check_log_stream_batch` for what must hold. `tests/fuzz_seeds.rs`
//! replays every committed seed through the same body.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    trackd_server::fuzzing::check_log_stream_batch(input);
});
