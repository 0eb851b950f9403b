//! Fuzzes the search filter parser: no input may panic, and whatever parses must print to a
//! filter that parses back to the same tree and type-checks the same way. The body is
//! `trackd_server::query::check_filter_round_trip`, which `tests/fuzz_seeds.rs` also runs
//! over every committed seed, so CI keeps what fuzzing found.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    trackd_server::query::check_filter_round_trip(input);
});
