//! Artifacts in Azure Blob Storage (`--artifacts-destination az://CONTAINER/PREFIX`) against
//! a real Azure Storage emulator (Azurite, started by `tests/support/azurite.rs`): the
//! shared artifact round trip (a 65 MiB file in blocks, listings, folder and file
//! downloads, a subtree deleted), every file a blob under the prefix, and nothing on the
//! local disk.

#[path = "support/artifact_round_trip.rs"]
mod artifact_round_trip;
#[path = "support/azurite.rs"]
mod azurite;

use std::sync::Arc;

use trackd_client::Client;
use trackd_server::artifacts::ObjectArtifacts;
use trackd_server::server::ServerHandle;
use trackd_server::{Store, StoreConfig, Tracker};

// One test in this file, on a runtime it builds itself: the emulator's address reaches
// object_store's Azure client only through the environment, which is set before any other
// thread of this process exists.
#[test]
fn round_trip_over_azure_blob_storage() {
    let Some(azurite) = azurite::Azurite::start() else {
        return;
    };
    azurite.create_container("trackd");
    for (key, value) in azurite.env() {
        std::env::set_var(key, value);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let repository = ObjectArtifacts::open("az://trackd/team/a").unwrap();
        let tracker = Tracker::open(Store::open(StoreConfig::new(dir.path())).unwrap())
            .unwrap()
            .with_artifact_repository(Arc::new(repository));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = ServerHandle::start_on(listener, tracker, Default::default()).unwrap();
        let client = Client::connect(&server.url()).await.unwrap();
        artifact_round_trip::round_trip(&client).await;

        let blobs = azurite.blobs("trackd");
        assert!(
            blobs.iter().any(|b| b.ends_with("/artifacts/data/a.txt"))
                && blobs
                    .iter()
                    .any(|b| b.ends_with("/artifacts/model/model.json")),
            "{blobs:?}"
        );
        assert!(
            blobs.iter().all(|b| b.starts_with("team/a/0/")),
            "{blobs:?}"
        );
        assert!(
            !blobs.iter().any(|b| b.contains("data/sub")),
            "deleted: {blobs:?}"
        );
        let local = dir.path().join("artifacts");
        assert!(
            !local.exists() || std::fs::read_dir(&local).unwrap().next().is_none(),
            "nothing on the local disk"
        );
        server.shutdown().await.unwrap();
    });
}
