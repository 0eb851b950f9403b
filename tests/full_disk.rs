//! A full disk under a live server: writes are refused with RESOURCE_EXHAUSTED before sled
//! is asked to write (sled 0.34 can hang for good after a failed write), nothing
//! acknowledged is lost, reads keep working, and once space is freed writes resume without a
//! restart. The store lives on a small tmpfs the test mounts (root, as `.ci/run` has); a plain
//! `cargo test` that cannot mount skips, saying so.

mod common;
#[path = "support/small_disk.rs"]
mod small_disk;

use std::time::Duration;

use small_disk::SmallDisk;
use trackd_client::{Client, Metric};
use trackd_server::server::{ServeOptions, ServerHandle};
use trackd_server::StoreConfig;

fn batch(step0: i64) -> Vec<Metric> {
    (0..1000)
        .map(|i| Metric {
            key: "loss".into(),
            value: (step0 + i) as f64 * 0.001,
            timestamp: 1_700_000_000_000 + step0 + i,
            step: step0 + i,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_keeps_reads_and_recovers_without_a_restart() {
    let work = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(&work.path().join("disk"), 72) else {
        assert!(
            !common::tools_required(),
            "mounting a tmpfs failed (.ci/run runs as root)"
        );
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs root)");
        return;
    };
    // The default reserve: 64 MiB kept free, so about 8 MiB of this disk can be written.
    let server = ServerHandle::start(
        "127.0.0.1:0".parse().unwrap(),
        StoreConfig::new(disk.0.join("store")),
        ServeOptions::default(),
    )
    .await
    .unwrap();
    let client = Client::connect(&server.url()).await.unwrap();
    let run = client.start_run().start().await.unwrap();
    let id = run.id().to_owned();
    // Synchronous durable batches until the disk is "full" (bounded: 200 MiB worth at most).
    let mut acknowledged = 0i64;
    let refusal = loop {
        assert!(acknowledged < 10_000_000, "the disk never filled");
        let answer = tokio::time::timeout(
            Duration::from_secs(30),
            client.log_batch(
                &id,
                &batch(acknowledged),
                Vec::<(String, String)>::new(),
                Vec::<(String, String)>::new(),
            ),
        )
        .await
        .expect("a write on a full disk is answered, not left hanging");
        match answer {
            Ok(()) => acknowledged += 1000,
            Err(e) => break e,
        }
    };
    assert_eq!(
        refusal.error_code(),
        Some("RESOURCE_EXHAUSTED"),
        "{refusal}"
    );
    assert!(
        refusal
            .to_string()
            .contains("The disk holding the store is full"),
        "{refusal}"
    );
    assert!(acknowledged > 0);
    // Reads go on, and hold every acknowledged point.
    let history = client.metric_history(&id, "loss").await.unwrap();
    assert_eq!(history.len() as i64, acknowledged);
    // Space freed: the next write goes through, on the same server.
    disk.grow(512);
    client
        .log_batch(
            &id,
            &batch(acknowledged),
            Vec::<(String, String)>::new(),
            Vec::<(String, String)>::new(),
        )
        .await
        .unwrap();
    assert_eq!(
        client.metric_history(&id, "loss").await.unwrap().len() as i64,
        acknowledged + 1000
    );
    run.finish().await.unwrap();
    server.shutdown().await.unwrap();
}
