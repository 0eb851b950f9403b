//! The artifact round trip every repository must pass, shared by the local, S3 (moto) and
//! Azure (Azurite) tests: a tree with a 65 MiB file uploaded, listed one level and whole,
//! downloaded (a folder and one file), a subtree deleted, more files logged.
#![allow(dead_code)]

use std::path::Path;

use tonic::Code;
use trackd_client::Client;

/// Deterministic pseudo-random bytes.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn same_file(a: &Path, b: &Path) {
    let (x, y) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    assert!(
        x.len() == y.len() && x == y,
        "{} and {} differ",
        a.display(),
        b.display()
    );
}

fn listed(files: &[trackd_client::FileInfo]) -> Vec<(String, bool, Option<u64>)> {
    files
        .iter()
        .map(|f| (f.path.clone(), f.is_dir, f.file_size))
        .collect()
}

const BIG: usize = 65 << 20;

/// A nested directory with a 65 MiB file goes up and comes back byte for byte; listing,
/// single-file and folder download, and delete behave like MLflow's.
pub async fn round_trip(client: &Client) {
    let src = tempfile::tempdir().unwrap();
    write(&src.path().join("a.txt"), b"hello");
    write(&src.path().join("sub/b.bin"), &noise(1000, 7));
    write(&src.path().join("sub/deep/big.bin"), &noise(BIG, 42));
    let run = client.start_run().start().await.unwrap();
    run.log_artifacts(src.path(), Some("data")).await.unwrap();

    let top = run.list_artifacts("", false).await.unwrap();
    assert_eq!(listed(&top), vec![("data".into(), true, None)]);
    let all = run.list_artifacts("data", true).await.unwrap();
    assert_eq!(
        listed(&all),
        vec![
            ("data/a.txt".into(), false, Some(5)),
            ("data/sub".into(), true, None),
            ("data/sub/b.bin".into(), false, Some(1000)),
            ("data/sub/deep".into(), true, None),
            ("data/sub/deep/big.bin".into(), false, Some(BIG as u64)),
        ]
    );
    let one_level = run.list_artifacts("data/sub", false).await.unwrap();
    assert_eq!(one_level.len(), 2);

    let dst = tempfile::tempdir().unwrap();
    let folder = run.download_artifacts("data", dst.path()).await.unwrap();
    assert_eq!(folder, dst.path().join("data"));
    for rel in ["a.txt", "sub/b.bin", "sub/deep/big.bin"] {
        same_file(&src.path().join(rel), &folder.join(rel));
    }
    let single = run
        .download_artifacts("data/sub/deep/big.bin", dst.path().join("one"))
        .await
        .unwrap();
    assert_eq!(single, dst.path().join("one/big.bin"));
    same_file(&src.path().join("sub/deep/big.bin"), &single);
    let leftovers: Vec<_> = std::fs::read_dir(dst.path().join("one")).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary files left behind");

    client.delete_artifact(run.id(), "data/sub").await.unwrap();
    assert_eq!(
        listed(&run.list_artifacts("data", true).await.unwrap()),
        vec![("data/a.txt".into(), false, Some(5))]
    );
    let missing = client
        .delete_artifact(run.id(), "data/sub")
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let missing = run
        .download_artifacts("nope.txt", dst.path())
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound, "{missing}");
    assert!(!dst.path().join("nope.txt").exists());

    // log_artifact: the file lands at <artifact_path>/<basename>, or at the root.
    write(&src.path().join("model.json"), b"{}");
    run.log_artifact(src.path().join("model.json"), Some("model"))
        .await
        .unwrap();
    run.log_artifact(src.path().join("a.txt"), None)
        .await
        .unwrap();
    let names: Vec<String> = run
        .list_artifacts("", true)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert!(
        names.contains(&"model/model.json".to_owned()) && names.contains(&"a.txt".to_owned()),
        "{names:?}"
    );
    assert_eq!(
        run.get_artifact_uri(Some("model")),
        format!("{}/model", run.artifact_uri())
    );
    assert!(run.artifact_uri().starts_with("mlflow-artifacts:/0/"));
    run.finish().await.unwrap();
}
