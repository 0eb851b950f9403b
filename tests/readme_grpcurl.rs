//! Runs the README's grpcurl walk-through, exactly as written, against a real server.
//! grpcurl is installed by `.ci/run`, which also makes it required (a missing grpcurl
//! fails); only a plain `cargo test` without it skips, saying so on stderr.

mod common;

use std::process::Command;

fn walkthrough() -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("<!-- grpcurl-walkthrough:start -->")
        .expect("start marker");
    let end = readme
        .find("<!-- grpcurl-walkthrough:end -->")
        .expect("end marker");
    let block = &readme[start..end];
    let body_start = block.find("```bash\n").expect("bash block") + "```bash\n".len();
    let body_end = block[body_start..].find("```").expect("closing fence") + body_start;
    block[body_start..body_end].to_owned()
}

/// Every command of the README's grpcurl section succeeds and shows what the README says.
#[tokio::test]
async fn readme_grpcurl_walkthrough_works() {
    if Command::new("grpcurl").arg("-version").output().is_err() {
        assert!(
            !common::tools_required(),
            "grpcurl must be installed (.ci/run does it)"
        );
        eprintln!(
            "SKIPPED: grpcurl not installed; run `bash .ci/run` to exercise the README walk-through"
        );
        return;
    }
    let server = common::TestServer::start().await;
    let script = walkthrough().replace("127.0.0.1:5000", &server.handle.addr().to_string());
    let output = tokio::task::spawn_blocking(move || {
        Command::new("bash")
            .args(["-euo", "pipefail", "-c", &script])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "walk-through failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    for expected in [
        "trackd.v1.TrackingService",
        "trackd.v1.ModelService",
        "\"experimentId\"",
        "\"key\": \"loss\"",
        "Changing param values is not allowed",
        "\"status\": \"SERVING\"",
    ] {
        assert!(
            stdout.contains(expected) || stderr.contains(expected),
            "missing {expected:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
    }
}
