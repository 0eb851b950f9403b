//! What a closed store holds, tree by tree: entries, key bytes and value bytes as sled hands
//! them out (the logical size, before sled's own page and log overhead), its metric chunks
//! (inline in sled or in the chunk log), and a compacted copy of the database (every live
//! entry written once into a fresh database, as a backup does). The disk benchmark
//! (`bench -- --disk`) separates the chunk encoding's bytes from the overhead with these.

use std::path::Path;

use super::backup::copy_db;
use super::chunk_log::ChunkRef;
use super::StoreError;
use crate::backend::Copied;
use crate::error::{Result, TrackingError};

/// The logical size of one sled tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeUsage {
    /// The tree's name (`metric_chunks`, `runs`, ...).
    pub name: String,
    /// Entries in it.
    pub entries: u64,
    /// Sum of the keys' lengths.
    pub key_bytes: u64,
    /// Sum of the values' lengths.
    pub value_bytes: u64,
}

fn open(store_dir: &Path) -> Result<sled::Db> {
    let db = store_dir.join("db");
    if !db.is_dir() {
        return Err(TrackingError::not_found(format!(
            "no store database at {}",
            db.display()
        )));
    }
    sled::Config::new()
        .path(&db)
        .mode(sled::Mode::LowSpace)
        .open()
        .map_err(|e| TrackingError::from(StoreError::from(e)))
}

/// Every tree of the store at `store_dir` (not open in another process), by name.
pub fn tree_usage(store_dir: &Path) -> Result<Vec<TreeUsage>> {
    let db = open(store_dir)?;
    let mut usage = Vec::new();
    for name in db.tree_names() {
        let tree = db.open_tree(&name).map_err(StoreError::from)?;
        let mut tree_usage = TreeUsage {
            name: String::from_utf8_lossy(&name).into_owned(),
            ..TreeUsage::default()
        };
        for entry in tree.iter() {
            let (k, v) = entry.map_err(StoreError::from)?;
            tree_usage.entries += 1;
            tree_usage.key_bytes += k.len() as u64;
            tree_usage.value_bytes += v.len() as u64;
        }
        usage.push(tree_usage);
    }
    usage.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(usage)
}

/// Where a store's metric chunks are, and their encoded size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChunkUsage {
    /// Chunks held inline in sled.
    pub inline_chunks: u64,
    /// Their encoded bytes.
    pub inline_bytes: u64,
    /// Chunks in the chunk log.
    pub logged_chunks: u64,
    /// Their encoded bytes (the records' payloads).
    pub logged_bytes: u64,
    /// The chunk log's segment files.
    pub log_files: u64,
    /// Their size on disk (records, headers and unreferenced records included).
    pub log_bytes: u64,
}

/// The metric chunks of the store at `store_dir` (not open in another process).
pub fn chunk_usage(store_dir: &Path) -> Result<ChunkUsage> {
    let db = open(store_dir)?;
    let tree = db.open_tree("metric_chunks").map_err(StoreError::from)?;
    let mut usage = ChunkUsage::default();
    for value in tree.iter().values() {
        let value = value.map_err(StoreError::from)?;
        match ChunkRef::decode(&value) {
            Some(r) => {
                usage.logged_chunks += 1;
                usage.logged_bytes += u64::from(r.len);
            }
            None => {
                usage.inline_chunks += 1;
                usage.inline_bytes += value.len() as u64;
            }
        }
    }
    (usage.log_files, usage.log_bytes) = super::chunk_log::disk_usage(&store_dir.join("chunks"));
    Ok(usage)
}

/// Writes a compacted copy of the store's database at `dest` (which must not exist).
pub fn compacted_copy(store_dir: &Path, dest: &Path) -> Result<Copied> {
    let db = open(store_dir)?;
    copy_db(&db, dest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Point, RunWrites};

    #[tokio::test]
    async fn usage_counts_the_chunks_of_a_series() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::Store::open(crate::StoreConfig::new(dir.path())).unwrap();
        let tracker = crate::Tracker::new(store.clone());
        let caller = crate::domain::Caller::InProcess;
        let run = tracker
            .create_run(&caller, crate::tracker::NewRun::default())
            .await
            .unwrap();
        // MLflow's batch limit is 1,000 metrics: ten batches.
        for batch in 0..10 {
            let mut writes = RunWrites::default();
            for step in batch * 1000..(batch + 1) * 1000 {
                writes.push_point(
                    "loss".into(),
                    Point {
                        step,
                        timestamp: 1_700_000_000_000 + step,
                        value: 1.0 / (1.0 + step as f64),
                    },
                );
            }
            tracker
                .log_batch(&caller, &run.info.run_id.to_string(), writes)
                .await
                .unwrap();
        }
        tracker.close().await.unwrap();
        drop(tracker);
        store.close().await.unwrap();
        drop(store);
        let usage = tree_usage(dir.path()).unwrap();
        let chunks = usage.iter().find(|t| t.name == "metric_chunks").unwrap();
        assert!(chunks.entries >= 3, "10,000 points in chunks of ≤ 4,096");
        assert_eq!(
            chunks.value_bytes,
            chunks.entries * 25,
            "references only: {chunks:?}"
        );
        let chunks = chunk_usage(dir.path()).unwrap();
        assert_eq!(
            chunks.logged_chunks, 10,
            "each batch of 1,000 points is a sealed chunk"
        );
        assert_eq!(chunks.inline_chunks, 0);
        assert!(chunks.log_bytes > chunks.logged_bytes && chunks.logged_bytes > 10_000);
        let copy = dir.path().join("compacted");
        let copied = compacted_copy(dir.path(), &copy).unwrap();
        assert_eq!(
            copied.entries,
            usage.iter().map(|t| t.entries).sum::<u64>(),
            "every entry copied once"
        );
    }
}
