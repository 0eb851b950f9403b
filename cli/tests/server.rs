//! The real `trackd` binary: its command line, its `TRACKD_*` variables, and its signals.

mod common;

use common::start;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command};
use std::time::Duration;

/// One HTTP/1.1 GET; the status line and body.
fn get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Flags and `TRACKD_*` variables configure the server; SIGTERM shuts it down gracefully
/// (exit 0, the store closed so another process can open it).
#[test]
fn flags_and_variables_configure_it_and_sigterm_stops_it_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let (mut child, addr) = start(
        &["--port", "0", "--store", store.to_str().unwrap()],
        &[
            ("TRACKD_MAX_ARTIFACT_MB", "1"),
            ("TRACKD_HOST", "127.0.0.1"),
        ],
    );
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    assert!(get(&addr, "/health").starts_with("HTTP/1.1 200"));
    // TRACKD_MAX_ARTIFACT_MB=1 took effect: a 2 MiB upload is refused from its length.
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "PUT /api/2.0/mlflow-artifacts/artifacts/0/0123456789abcdef0123456789abcdef/artifacts/x HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\n\r\n"
    )
    .unwrap();
    let mut head = [0u8; 12];
    s.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 413");
    signal(&child, "TERM");
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful exit: {status:?}");
    // The store was closed: it opens again.
    let (mut again, addr) = start(&["--port", "0", "--store", store.to_str().unwrap()], &[]);
    assert!(get(&addr, "/health").starts_with("HTTP/1.1 200"));
    signal(&again, "INT");
    assert!(again.wait().unwrap().success(), "SIGINT is graceful too");
}

/// A bad flag is refused with a usage message and a failing exit code.
#[test]
fn a_bad_flag_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_trackd"))
        .args(["server", "--port", "not-a-number"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--port"), "{stderr}");
}

/// A non-loopback address without --auth is refused at start (nothing is served), unless
/// --insecure-no-auth says something in front authenticates.
#[test]
fn a_public_address_without_auth_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let out = Command::new(env!("CARGO_BIN_EXE_trackd"))
        .args([
            "server",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--store",
            store.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refusing to listen on 0.0.0.0 without authentication")
            && stderr.contains("--auth"),
        "{stderr}"
    );
    assert!(!store.join("db").exists(), "nothing was opened");
}

/// A second signal exits at once (code 130) while a graceful shutdown is still waiting for
/// an open request — here a PUT whose body stalls, with a 600 s grace period.
#[test]
fn a_second_signal_exits_without_draining() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let (mut child, addr) = start(
        &[
            "--port",
            "0",
            "--store",
            store.to_str().unwrap(),
            "--shutdown-grace-secs",
            "600",
        ],
        &[],
    );
    // A run, and an upload into it that sends half its body and stalls.
    let mut s = TcpStream::connect(&addr).unwrap();
    let body = r#"{"experiment_id": "0"}"#;
    write!(
        s,
        "POST /api/2.0/mlflow/runs/create HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let run_id = answer
        .split("\"run_id\":\"")
        .nth(1)
        .and_then(|rest| rest.get(..32))
        .unwrap_or_else(|| panic!("no run id in {answer}"))
        .to_owned();
    let mut stalled = TcpStream::connect(&addr).unwrap();
    write!(
        stalled,
        "PUT /api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts/x.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{}",
        "a".repeat(500)
    )
    .unwrap();
    stalled.flush().unwrap();
    // The upload has begun on the server (its temporary file exists).
    let run_dir = store
        .join("artifacts")
        .join("0")
        .join(&run_id)
        .join("artifacts");
    wait_for("the upload to begin", || {
        std::fs::read_dir(&run_dir).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().contains(".upload-"))
        })
    });
    signal(&child, "TERM");
    // Shutdown has begun (the listener is closed) and is waiting for the stalled upload.
    wait_for("the listener to close", || {
        TcpStream::connect(&addr).is_err()
    });
    assert!(child.try_wait().unwrap().is_none(), "still draining");
    signal(&child, "TERM");
    let mut status = None;
    wait_for("the process to exit after the second signal", || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    assert_eq!(status.unwrap().code(), Some(130), "exited without draining");
    drop(stalled);
}

/// Polls `done` every 10 ms for up to 30 s (far below the 600 s a missing behaviour would
/// take), panicking with `what` if it never holds.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("timed out waiting for {what}");
}

#[path = "../../tests/support/moto.rs"]
mod moto;

/// One HTTP/1.1 request with a JSON or raw body; the whole response.
fn request(addr: &str, method: &str, path: &str, body: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// `--artifacts-destination s3://BUCKET/PREFIX` with the endpoint and credentials from the
/// standard AWS variables: an upload through the artifact proxy becomes an object under the
/// prefix (moto, a real S3 server), reads back through the proxy, and the store directory
/// holds no artifact file.
#[test]
fn artifacts_go_to_the_s3_destination_named_by_the_flag() {
    let Some(s3) = moto::Moto::start() else {
        return;
    };
    s3.create_bucket_now("cli-artifacts");
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let env = s3.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (mut child, addr) = start(
        &[
            "--port",
            "0",
            "--store",
            store.to_str().unwrap(),
            "--artifacts-destination",
            "s3://cli-artifacts/team",
        ],
        &env,
    );
    let created = request(
        &addr,
        "POST",
        "/api/2.0/mlflow/runs/create",
        r#"{"experiment_id": "0"}"#,
    );
    let run_id = created
        .split("\"run_id\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("{created}"))
        .to_owned();
    let file = format!("/api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts/notes/a.txt");
    let put = request(&addr, "PUT", &file, "hello s3");
    assert!(put.starts_with("HTTP/1.1 200"), "{put}");
    assert_eq!(
        s3.keys_now("cli-artifacts", ""),
        vec![format!("team/0/{run_id}/artifacts/notes/a.txt")]
    );
    let back = get(&addr, &file);
    assert!(
        back.starts_with("HTTP/1.1 200") && back.ends_with("hello s3"),
        "{back}"
    );
    let local_files = walk(&store.join("artifacts"));
    assert!(local_files.is_empty(), "{local_files:?}");
    signal(&child, "TERM");
    assert!(child.wait().unwrap().success());
}

/// Files under `dir` (recursively).
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().unwrap().is_dir() {
            out.extend(walk(&entry.path()));
        } else {
            out.push(entry.path());
        }
    }
    out
}
