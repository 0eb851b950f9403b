//! A damaged store, as the real binary meets it: database files truncated or with flipped
//! bits, a store directory the user may not write, an artifacts directory made read-only.
//! Every case ends one of two ways — the data is read whole, or the store is refused with a
//! message naming the problem — and never with a panic or with part of the data.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use trackd_client::Client;
use trackd_server::server::{ServeOptions, ServerHandle};
use trackd_server::StoreConfig;

const POINTS: i64 = 5_000;

/// A store with three experiments and one run of `POINTS` points; returns the run id.
async fn make_store(dir: &Path) -> String {
    let server = ServerHandle::start(
        "127.0.0.1:0".parse().unwrap(),
        StoreConfig::new(dir),
        ServeOptions::default(),
    )
    .await
    .unwrap();
    let client = Client::connect(&server.url()).await.unwrap();
    for name in ["e1", "e2", "e3"] {
        client.create_experiment(name).await.unwrap();
    }
    let run = client.start_run().start().await.unwrap();
    for step in 0..POINTS {
        run.log_metric("loss", step as f64 * 0.5, step)
            .await
            .unwrap();
    }
    let id = run.id().to_owned();
    run.finish().await.unwrap();
    server.shutdown().await.unwrap();
    id
}

fn trackd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trackd"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("the trackd binary runs")
}

fn copy_dir(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-r")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

/// How one damaged copy was met.
#[derive(Debug, PartialEq)]
enum Met {
    /// Every experiment and every point read.
    Whole,
    /// Refused, naming the corruption.
    Refused,
}

/// Reads the store at `dir` with the tools; panics unless the answer is whole or a named
/// refusal.
fn meet(dir: &Path, run_id: &str, case: &str) -> Met {
    let uri = dir.to_str().unwrap();
    let list = trackd(&["experiments", "list", "--json", "--tracking-uri", uri]);
    let stderr = String::from_utf8_lossy(&list.stderr);
    assert!(!stderr.contains("panicked"), "{case}: {stderr}");
    if list.status.code() == Some(5) {
        assert!(
            stderr.contains("is corrupted") && stderr.contains("backup"),
            "{case}: {stderr}"
        );
        return Met::Refused;
    }
    assert_eq!(list.status.code(), Some(0), "{case}: {stderr}");
    let experiments: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(
        experiments.as_array().unwrap().len(),
        4,
        "{case}: part of the data: {experiments}"
    );
    // The database opened whole: so must the history be.
    assert_eq!(read_history(dir, run_id, case, "db"), Met::Whole, "{case}");
    Met::Whole
}

/// splitmix64, seeded: the same flips on every run.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn file_in(dir: &Path, prefix: &str) -> PathBuf {
    std::fs::read_dir(dir.join("db"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .unwrap_or_else(|| panic!("no db/{prefix}* in {}", dir.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_store_is_read_whole_or_refused_by_name_never_in_part() {
    let tmp = tempfile::tempdir().unwrap();
    let original = tmp.path().join("original");
    let run_id = make_store(&original).await;
    assert_eq!(meet(&original, &run_id, "intact"), Met::Whole);

    let mut refused = 0;
    let mut case_no = 0;
    let mut damaged = |damage: &dyn Fn(&Path), case: &str| {
        case_no += 1;
        let dir = tmp.path().join(format!("case-{case_no}"));
        copy_dir(&original, &dir);
        damage(&dir);
        let met = meet(&dir, &run_id, case);
        if met == Met::Refused {
            refused += 1;
        }
        (dir, met)
    };

    // Truncated database files (the data lies in the first few KiB): a store cut into its
    // data is refused, by the tools and by the server.
    for keep in [0u64, 1000, 100_000] {
        let (dir, met) = damaged(
            &|dir| {
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(dir.join("db/db"))
                    .unwrap();
                file.set_len(keep).unwrap();
            },
            &format!("db truncated to {keep} bytes"),
        );
        if met == Met::Whole {
            continue;
        }
        let server = trackd(&["server", "--store", dir.to_str().unwrap(), "--port", "0"]);
        let stderr = String::from_utf8_lossy(&server.stderr);
        assert_ne!(server.status.code(), Some(0), "{stderr}");
        assert!(
            stderr.contains("is corrupted") && !stderr.contains("panicked"),
            "{stderr}"
        );
    }
    // Single flipped bits where the data is (the first 16 KiB of the database file), and in
    // the snapshot.
    let mut seed = 0x7472_6163_6b64u64;
    for i in 0..24 {
        let at = (next(&mut seed) % 16_384) as usize;
        let bit = (next(&mut seed) % 8) as u8;
        damaged(
            &|dir| {
                let path = dir.join("db/db");
                let mut bytes = std::fs::read(&path).unwrap();
                bytes[at] ^= 1 << bit;
                std::fs::write(&path, bytes).unwrap();
            },
            &format!("flip {i}: bit {bit} of byte {at}"),
        );
    }
    damaged(
        &|dir| {
            let path = file_in(dir, "snap.");
            let mut bytes = std::fs::read(&path).unwrap();
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0x10;
            std::fs::write(&path, bytes).unwrap();
        },
        "a flipped bit in the snapshot",
    );

    // The chunk log (sealed chunks' payloads). A flipped bit in a record: the store opens,
    // and the history is read whole or refused by name, never in part.
    let segment = "chunks/00000001.chunks";
    let log_len = std::fs::metadata(original.join(segment)).unwrap().len();
    assert!(
        log_len > 1000,
        "the points are in the chunk log: {log_len} bytes"
    );
    let mut history_refused = 0;
    for i in 0..8 {
        let at = next(&mut seed) % log_len;
        let case = format!("chunk log flip {i}: byte {at}");
        let dir = tmp.path().join(format!("chunks-{i}"));
        copy_dir(&original, &dir);
        let path = dir.join(segment);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[at as usize] ^= 0x04;
        std::fs::write(&path, bytes).unwrap();
        if read_history(&dir, &run_id, &case, "00000001.chunks") == Met::Refused {
            history_refused += 1;
        }
    }
    assert!(history_refused >= 6, "{history_refused} of 8 flips refused");
    // Cut after a clean close: refused at open, not trimmed.
    let (dir, met) = damaged(
        &|dir| {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(dir.join(segment))
                .unwrap();
            file.set_len(log_len / 2).unwrap();
        },
        "the chunk log cut in half",
    );
    assert_eq!(met, Met::Refused);
    assert!(refused >= 5, "the damage was real: {refused} refusals");
    let server = trackd(&["server", "--store", dir.to_str().unwrap(), "--port", "0"]);
    let stderr = String::from_utf8_lossy(&server.stderr);
    assert!(
        stderr.contains("is corrupted") && stderr.contains("00000001.chunks"),
        "{stderr}"
    );
}

/// Reads the history: every point, or a refusal that names the corruption and `names`.
fn read_history(dir: &Path, run_id: &str, case: &str, names: &str) -> Met {
    let history = trackd(&[
        "metrics",
        "history",
        run_id,
        "loss",
        "--json",
        "--tracking-uri",
        dir.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&history.stderr);
    assert!(!stderr.contains("panicked"), "{case}: {stderr}");
    if history.status.code() != Some(0) {
        assert!(
            stderr.contains("is corrupted") && stderr.contains(names),
            "{case}: {stderr}"
        );
        return Met::Refused;
    }
    let points: Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(
        points.as_array().unwrap().len() as i64,
        POINTS,
        "{case}: part of the history"
    );
    Met::Whole
}

/// Whether this process is root (then the permission cases run the binary as `nobody`:
/// root ignores file modes).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `trackd ARGS` as an unprivileged user: `nobody` when we are root, else ourselves.
fn unprivileged(args: &[&str]) -> Command {
    let mut command = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "nobody", "--"])
            .arg(env!("CARGO_BIN_EXE_trackd"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_trackd"))
    };
    command.args(args).env_remove("RUST_LOG");
    command
}

fn chmod(path: &Path, mode: &str) {
    assert!(Command::new("chmod")
        .arg(mode)
        .arg(path)
        .status()
        .unwrap()
        .success());
}

fn chown_nobody(path: &Path) {
    if is_root() {
        assert!(Command::new("chown")
            .args(["-R", "nobody"])
            .arg(path)
            .status()
            .unwrap()
            .success());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_the_user_cannot_write_is_refused_and_a_read_only_artifacts_directory_refuses_uploads_only(
) {
    // The binary must be reachable by `nobody`: a copy in a world-readable directory.
    let tmp = tempfile::tempdir().unwrap();
    chmod(tmp.path(), "755");
    let binary_ok = unprivileged(&["--version"]).output().unwrap();
    if !binary_ok.status.success() {
        // The build directory is not readable by `nobody` (a private home): nothing to run.
        eprintln!(
            "SKIPPED: the trackd binary cannot be run unprivileged here: {}",
            String::from_utf8_lossy(&binary_ok.stderr)
        );
        return;
    }

    // A store directory the user may not enter.
    let locked = tmp.path().join("locked");
    make_store(&locked).await;
    chmod(&locked, "700");
    if !is_root() {
        chmod(&locked, "000");
    }
    let out = unprivileged(&["server", "--store", locked.to_str().unwrap(), "--port", "0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("permission denied on the store at") && !stderr.contains("panicked"),
        "{stderr}"
    );
    chmod(&locked, "700");

    // A store the user owns, with an artifacts directory it may not write: the server
    // serves, tracking writes work, uploads are refused with the reason.
    let store = tmp.path().join("store");
    make_store(&store).await;
    chown_nobody(&store);
    let artifacts = store.join("artifacts");
    if is_root() {
        assert!(Command::new("chown")
            .args(["root"])
            .arg(&artifacts)
            .status()
            .unwrap()
            .success());
        chmod(&artifacts, "755");
    } else {
        chmod(&artifacts, "555");
    }
    let mut child = unprivileged(&["server", "--store", store.to_str().unwrap(), "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server_logs;
    let addr = {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let line = lines
            .next()
            .expect("the server printed its address")
            .unwrap();
        // The server logs to stdout: keep reading it, as a terminal would.
        let logs = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());
        server_logs = logs;
        line.split("http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_owned()
    };
    let client = Client::connect(&format!("http://{addr}")).await.unwrap();
    let run = client.start_run().start().await.unwrap();
    run.log_metric("loss", 1.0, 0).await.unwrap();
    run.flush().await.unwrap();
    let file = tmp.path().join("model.txt");
    std::fs::write(&file, "weights").unwrap();
    let refused = client
        .log_artifact(run.id(), &file, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.to_lowercase().contains("permission denied"),
        "{refused}"
    );
    assert_eq!(
        client.metric_history(run.id(), "loss").await.unwrap().len(),
        1
    );
    run.finish().await.unwrap();
    // As `nobody`, the server outlives a kill of `runuser`: stop it by its store.
    let _ = Command::new("pkill")
        .args(["-f", &format!("server --store {}", store.display())])
        .status();
    child.kill().unwrap();
    child.wait().unwrap();
    let logs = server_logs.join().unwrap().join("\n");
    assert!(
        logs.contains("permission denied") && !logs.contains("panicked"),
        "{logs}"
    );
    chmod(&artifacts, "755");
}
