//! Copying the artifact root: every file, streamed a chunk at a time and hashed on the way.
//! A file the target already holds with the source's size is not copied again (uploads
//! appear whole or not at all, so such a file is a finished earlier copy; the verification
//! compares contents).

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;
use sha2::{Digest, Sha256};

use super::{CopyError, CopyReport, OpenedStore};
use crate::artifacts::{ArtifactFile, ArtifactRepository};
use crate::error::TrackingError;

/// A file of the artifact root: its top-level directory (`""` for a file at the top) and its
/// path inside it.
pub(super) type FilePath = (String, String);

/// The SHA-256 of each file copied in this invocation, as read from the source.
pub(super) type FileHashes = BTreeMap<FilePath, [u8; 32]>;

/// Every file under the artifact root, with its size, in path order.
pub(super) async fn list_files(
    repo: &Arc<dyn ArtifactRepository>,
) -> crate::Result<Vec<(FilePath, u64)>> {
    let mut files = Vec::new();
    for top in repo.list("", "", false).await? {
        if top.is_dir {
            for entry in repo.list(&top.path, "", true).await? {
                push_file(&mut files, &top.path, entry);
            }
        } else {
            push_file(&mut files, "", top);
        }
    }
    files.sort();
    Ok(files)
}

fn push_file(files: &mut Vec<(FilePath, u64)>, dir: &str, entry: ArtifactFile) {
    if !entry.is_dir {
        files.push(((dir.to_owned(), entry.path), entry.size.unwrap_or(0)));
    }
}

/// Reads a file whole, a chunk at a time, passing each chunk to `each`; returns its SHA-256.
pub(super) async fn read_file(
    repo: &Arc<dyn ArtifactRepository>,
    (dir, rel): &FilePath,
    mut each: impl AsyncChunk,
) -> crate::Result<[u8; 32]> {
    let mut read = repo.get(dir, rel, None).await?;
    let mut sha = Sha256::new();
    while let Some(chunk) = read.bytes.next().await {
        let chunk = chunk.map_err(|e| TrackingError::storage(format!("reading {dir}/{rel}"), e))?;
        sha.update(&chunk);
        each.chunk(&chunk).await?;
    }
    Ok(sha.finalize().into())
}

/// What [`read_file`] does with each chunk.
#[tonic::async_trait]
pub(super) trait AsyncChunk: Send {
    /// Takes one chunk.
    async fn chunk(&mut self, bytes: &[u8]) -> crate::Result<()>;
}

/// Hashing only.
pub(super) struct Discard;

#[tonic::async_trait]
impl AsyncChunk for Discard {
    async fn chunk(&mut self, _: &[u8]) -> crate::Result<()> {
        Ok(())
    }
}

#[tonic::async_trait]
impl AsyncChunk for &mut Box<dyn crate::artifacts::ArtifactUpload> {
    async fn chunk(&mut self, bytes: &[u8]) -> crate::Result<()> {
        self.write(bytes).await
    }
}

/// Copies every file of the source's artifact root that the target lacks.
pub(super) async fn copy_artifacts(
    from: &OpenedStore,
    to: &OpenedStore,
    report: &mut CopyReport,
) -> Result<FileHashes, CopyError> {
    let files = list_files(&from.artifacts)
        .await
        .map_err(|source| CopyError::Read {
            what: "the artifact listing".into(),
            source,
        })?;
    let mut hashes = FileHashes::new();
    for (path, size) in files {
        let (dir, rel) = &path;
        let shown = if dir.is_empty() {
            rel.clone()
        } else {
            format!("{dir}/{rel}")
        };
        let held = to
            .artifacts
            .stat(dir, rel)
            .await
            .map_err(|source| CopyError::Read {
                what: format!("artifact {shown} in the target"),
                source,
            })?;
        if held.is_some_and(|f| !f.is_dir && f.size == Some(size)) {
            report.files_already_copied += 1;
            continue;
        }
        let mut upload = to
            .artifacts
            .put(dir, rel)
            .await
            .map_err(|source| CopyError::Write {
                what: format!("artifact {shown}"),
                source,
            })?;
        // A read failure and a write failure look alike from here; the message names both
        // stores' file.
        let sha = read_file(&from.artifacts, &path, &mut upload)
            .await
            .map_err(|source| CopyError::Write {
                what: format!("artifact {shown}"),
                source,
            })?;
        upload.finish().await.map_err(|source| CopyError::Write {
            what: format!("artifact {shown}"),
            source,
        })?;
        report.files_copied += 1;
        report.bytes_copied += size;
        hashes.insert(path, sha);
    }
    Ok(hashes)
}
