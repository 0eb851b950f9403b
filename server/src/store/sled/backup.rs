//! Backups of a live store: a consistent copy of the database taken by the committer between
//! two write groups (so it holds exactly the writes acknowledged before it began; writes that
//! arrive meanwhile wait, and their streams are slowed by the usual backpressure), then the
//! artifact files. The copy is a sled database of its own: `trackd server --store BACKUP`
//! serves it, and `trackd restore` puts it in place.

use std::path::Path;
use std::time::Instant;

use super::{Store, StoreError};
use crate::backend::{BackupReport, Copied};
use crate::error::{Result, TrackingError};

/// Copies every tree of `db` into a new database at `dest` (which must not exist).
pub(crate) fn copy_db(db: &sled::Db, dest: &Path) -> Result<Copied> {
    let started = Instant::now();
    let out = sled::Config::new()
        .path(dest)
        .create_new(true)
        .open()
        .map_err(|e| TrackingError::from(StoreError::from(e)))?;
    let mut copied = Copied::default();
    for name in db.tree_names() {
        let src = db.open_tree(&name).map_err(StoreError::from)?;
        let dst = out.open_tree(&name).map_err(StoreError::from)?;
        let mut batch = sled::Batch::default();
        let mut in_batch = 0;
        for entry in src.iter() {
            let (k, v) = entry.map_err(StoreError::from)?;
            copied.entries += 1;
            copied.bytes += (k.len() + v.len()) as u64;
            batch.insert(k, v);
            in_batch += 1;
            if in_batch == 4096 {
                dst.apply_batch(std::mem::take(&mut batch))
                    .map_err(StoreError::from)?;
                in_batch = 0;
            }
        }
        dst.apply_batch(batch).map_err(StoreError::from)?;
    }
    out.flush().map_err(StoreError::from)?;
    copied.seconds = started.elapsed().as_secs_f64();
    Ok(copied)
}

/// Copies the database into `dest_db` and the chunk log into `chunks/` beside it (called by
/// the committer between two groups, so the two agree).
pub(crate) fn copy_store(db: &sled::Db, trees: &super::Trees, dest_db: &Path) -> Result<Copied> {
    // The copy's mark must cover every record its references name.
    super::chunk_refs::sync_and_mark(trees)?;
    let mut copied = copy_db(db, dest_db)?;
    let started = Instant::now();
    let chunks = dest_db.with_file_name("chunks");
    let (_, bytes) = trees.chunk_log.copy_to(&chunks)?;
    copied.bytes += bytes;
    copied.seconds += started.elapsed().as_secs_f64();
    Ok(copied)
}

/// Copies the files under `from` into `to` (created); returns (files, bytes). Uploads in
/// progress (temporary files) are skipped.
pub(super) fn copy_tree(from: &Path, to: &Path) -> std::io::Result<(u64, u64)> {
    let mut totals = (0, 0);
    if !from.is_dir() {
        return Ok(totals);
    }
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            let (f, b) = copy_tree(&entry.path(), &target)?;
            totals = (totals.0 + f, totals.1 + b);
        } else if kind.is_file() && !is_upload_in_progress(&entry.file_name().to_string_lossy()) {
            totals.1 += std::fs::copy(entry.path(), &target)?;
            totals.0 += 1;
        }
    }
    Ok(totals)
}

/// The artifact store's temporary name for a file being uploaded (`.<name>.upload-<id>`).
fn is_upload_in_progress(name: &str) -> bool {
    name.starts_with('.') && name.contains(".upload-")
}

impl Store {
    /// Backs the store up into `<store>/backups/<name>` (which must not exist): the database
    /// at a consistent cut, then the artifact files.
    pub async fn backup(&self, name: &str) -> Result<BackupReport> {
        let path = self.dir().join("backups").join(name);
        if path.exists() {
            return Err(TrackingError::AlreadyExists(format!(
                "A backup named '{name}' exists already ({}).",
                path.display()
            )));
        }
        std::fs::create_dir_all(&path).map_err(|e| {
            TrackingError::storage_context(format!("cannot create the backup directory: {e}"))
        })?;
        let database = self.inner.committer.backup(path.join("db")).await?;
        let (from, to) = (self.dir().join("artifacts"), path.join("artifacts"));
        let (artifact_files, artifact_bytes) =
            tokio::task::spawn_blocking(move || copy_tree(&from, &to))
                .await
                .map_err(|e| TrackingError::storage("backup task failed", e))?
                .map_err(|e| {
                    TrackingError::storage_context(format!("copying the artifacts failed: {e}"))
                })?;
        Ok(BackupReport {
            path,
            database,
            artifact_files,
            artifact_bytes,
        })
    }
}
