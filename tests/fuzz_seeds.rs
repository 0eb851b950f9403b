//! Replays the committed fuzz corpora (`fuzz/seeds/<target>/`) through the fuzz targets'
//! bodies (`trackd_server::fuzzing`) on every test run, so what fuzzing found stays found
//! without a nightly toolchain.

use std::path::PathBuf;

/// Runs `body` over every seed of `target`'s corpus; returns how many were replayed.
fn replay(target: &str, body: impl Fn(&[u8]) + std::panic::RefUnwindSafe) -> usize {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).expect("the corpus directory") {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| body(&bytes));
        assert!(
            outcome.is_ok(),
            "{target} seed {} fails: {:?}",
            path.display(),
            String::from_utf8_lossy(&bytes)
        );
        replayed += 1;
    }
    replayed
}

/// libFuzzer hands `&str` targets only inputs that are UTF-8; others are skipped there too.
fn utf8(body: impl Fn(&str)) -> impl Fn(&[u8]) {
    move |bytes| {
        if let Ok(input) = std::str::from_utf8(bytes) {
            body(input)
        }
    }
}

#[test]
fn every_filter_seed_passes() {
    let n = replay(
        "filter_parse",
        utf8(trackd_server::query::check_filter_round_trip),
    );
    assert!(n > 100, "the corpus was replayed ({n} seeds)");
}

#[test]
fn every_rest_request_seed_passes() {
    let n = replay("rest_request", trackd_server::fuzzing::check_rest_request);
    assert!(n >= 41, "the corpus was replayed ({n} seeds)");
}

#[test]
fn every_log_stream_batch_seed_passes() {
    let n = replay(
        "log_stream_batch",
        trackd_server::fuzzing::check_log_stream_batch,
    );
    assert!(n >= 5, "the corpus was replayed ({n} seeds)");
}

#[test]
fn every_metric_chunk_seed_passes() {
    let n = replay("metric_chunk", trackd_server::fuzzing::check_metric_chunk);
    assert!(n >= 7, "the corpus was replayed ({n} seeds)");
}

#[test]
fn every_page_token_seed_passes() {
    let n = replay("page_token", trackd_server::fuzzing::check_page_token);
    assert!(n >= 8, "the corpus was replayed ({n} seeds)");
}

#[test]
fn every_artifact_path_seed_passes() {
    let n = replay(
        "artifact_path",
        utf8(trackd_server::fuzzing::check_artifact_path),
    );
    assert!(n >= 22, "the corpus was replayed ({n} seeds)");
}
