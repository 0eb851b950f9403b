//! Replays the committed fuzz corpus (`fuzz/seeds/filter_parse/`) through the fuzz target's
//! body on every test run, so what fuzzing found stays found without a nightly toolchain.

/// Every seed of the filter parser's corpus passes the fuzz body (no panic, round trip).
#[test]
fn every_committed_filter_seed_passes_the_fuzz_body() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/filter_parse");
    let mut replayed = 0;
    for entry in std::fs::read_dir(dir).expect("the corpus directory") {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        // libFuzzer hands the target only inputs that are UTF-8 (`&str`); others are skipped
        // there too.
        if let Ok(input) = std::str::from_utf8(&bytes) {
            let outcome =
                std::panic::catch_unwind(|| trackd_server::query::check_filter_round_trip(input));
            assert!(outcome.is_ok(), "seed {} fails: {input:?}", path.display());
            replayed += 1;
        }
    }
    assert!(replayed > 100, "the corpus was replayed ({replayed} seeds)");
}
