//! Artifacts from the client side: upload local files and directories, list, download.
//!
//! Files move in 1 MiB chunks streamed over gRPC (to a remote server or the embedded store's
//! in-process services), so memory does not grow with file size. Downloads land in a temporary
//! file next to the destination and are renamed when complete.

use std::path::{Path, PathBuf};

use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use trackd_proto::v1 as pb;

use crate::backend::Backend;
use crate::error::{ClientError, Result};

/// Size of upload chunks.
pub(crate) const UPLOAD_CHUNK_BYTES: usize = 1 << 20;

/// Whose files an artifact call addresses: a run's, or a logged model's.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Owner<'a> {
    /// A run's artifacts, by run id.
    Run(&'a str),
    /// A logged model's files, by model id.
    Model(&'a str),
}

impl Owner<'_> {
    /// `(run_id, model_id)` as the wire carries them.
    fn ids(self) -> (String, String) {
        match self {
            Owner::Run(r) => (r.to_owned(), String::new()),
            Owner::Model(m) => (String::new(), m.to_owned()),
        }
    }
}

impl<'a> From<&'a str> for Owner<'a> {
    fn from(run_id: &'a str) -> Self {
        Owner::Run(run_id)
    }
}

/// A private temporary directory for files written before an upload (an `MLmodel`, a
/// logged text), removed when dropped — also when the upload fails half-way.
pub(crate) struct Staging(PathBuf);

impl Staging {
    pub(crate) fn new() -> Result<Staging> {
        let dir =
            std::env::temp_dir().join(format!("trackd-staging-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        Ok(Staging(dir))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Joins artifact path segments with `/`, skipping empty ones.
pub(crate) fn join(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| p.trim_matches('/'))
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("/")
}

fn io(path: &Path, e: std::io::Error) -> ClientError {
    ClientError::Io(format!("{}: {e}", path.display()))
}

impl Backend {
    /// Uploads one local file to `dest` (run-relative).
    pub(crate) async fn upload_file(
        &self,
        owner: impl Into<Owner<'_>>,
        local: &Path,
        dest: &str,
    ) -> Result<pb::FileInfo> {
        let mut file = tokio::fs::File::open(local)
            .await
            .map_err(|e| io(local, e))?;

        let header = pb::UploadArtifactRequest {
            part: Some(pb::upload_artifact_request::Part::Header({
                let (run_id, model_id) = owner.into().ids();
                pb::UploadHeader {
                    run_id,
                    path: dest.into(),
                    model_id,
                }
            })),
        };
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let local_path = local.to_path_buf();
        let reader = tokio::spawn(async move {
            if tx.send(header).await.is_err() {
                return Ok(());
            }
            loop {
                let mut buf = vec![0u8; UPLOAD_CHUNK_BYTES];
                let n = file.read(&mut buf).await.map_err(|e| io(&local_path, e))?;
                if n == 0 {
                    return Ok(());
                }
                buf.truncate(n);
                let chunk = pb::UploadArtifactRequest {
                    part: Some(pb::upload_artifact_request::Part::Chunk(buf)),
                };
                if tx.send(chunk).await.is_err() {
                    return Ok(());
                }
            }
        });
        let response = self
            .artifacts
            .clone()
            .upload_artifact(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await;
        let read: Result<()> = reader.await.map_err(|e| ClientError::Io(e.to_string()))?;
        read?;
        Ok(response?.into_inner().file.unwrap_or_default())
    }

    /// Lists artifacts under `path` (run-relative): `(root URI, entries)`.
    pub(crate) async fn list_artifacts(
        &self,
        owner: impl Into<Owner<'_>>,
        path: &str,
        recursive: bool,
    ) -> Result<(String, Vec<pb::FileInfo>)> {
        let r = self
            .artifacts
            .clone()
            .list_artifacts({
                let (run_id, model_id) = owner.into().ids();
                pb::ListArtifactsRequest {
                    run_id,
                    path: path.into(),
                    recursive,
                    model_id,
                }
            })
            .await?
            .into_inner();
        Ok((r.root_uri, r.files))
    }

    /// Downloads one artifact file to `dest` (written to a temporary file, then renamed).
    pub(crate) async fn download_file(
        &self,
        owner: impl Into<Owner<'_>>,
        path: &str,
        dest: &Path,
    ) -> Result<()> {
        let owner = owner.into();
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| io(parent, e))?;
        }
        let tmp = dest.with_file_name(format!(
            ".{}.download-{}",
            dest.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            uuid::Uuid::new_v4().simple()
        ));
        let result = self.download_into(owner, path, &tmp).await;
        match result {
            Ok(()) => tokio::fs::rename(&tmp, dest).await.map_err(|e| io(dest, e)),
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                Err(e)
            }
        }
    }

    async fn download_into(&self, owner: Owner<'_>, path: &str, tmp: &Path) -> Result<()> {
        let mut out = tokio::fs::File::create(tmp).await.map_err(|e| io(tmp, e))?;

        let mut chunks = self
            .artifacts
            .clone()
            .download_artifact({
                let (run_id, model_id) = owner.ids();
                pb::DownloadArtifactRequest {
                    run_id,
                    path: path.into(),
                    model_id,
                }
            })
            .await?
            .into_inner();
        while let Some(message) = chunks.next().await {
            out.write_all(&message?.chunk)
                .await
                .map_err(|e| io(tmp, e))?;
        }
        out.flush().await.map_err(|e| io(tmp, e))?;
        out.sync_all().await.map_err(|e| io(tmp, e))
    }

    pub(crate) async fn delete_artifact(
        &self,
        owner: impl Into<Owner<'_>>,
        path: &str,
    ) -> Result<()> {
        self.artifacts
            .clone()
            .delete_artifact({
                let (run_id, model_id) = owner.into().ids();
                pb::DeleteArtifactRequest {
                    run_id,
                    path: path.into(),
                    model_id,
                }
            })
            .await?;
        Ok(())
    }
}

/// The files of `dir`, recursively, as (local path, path relative to `dir`). Symbolic links
/// are followed only when they resolve inside `dir`; one pointing outside is an error.
pub(crate) fn local_tree(dir: &Path) -> Result<Vec<(PathBuf, String)>> {
    let root = dir.canonicalize().map_err(|e| io(dir, e))?;
    let mut out = Vec::new();
    let mut stack = vec![(root.clone(), String::new())];
    while let Some((current, rel)) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&current)
            .map_err(|e| io(&current, e))?
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| io(&current, e))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            let child_rel = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let path = entry.path();
            let file_type = entry.file_type().map_err(|e| io(&path, e))?;
            let target = if file_type.is_symlink() {
                let resolved = path.canonicalize().map_err(|e| io(&path, e))?;
                if !resolved.starts_with(&root) {
                    return Err(ClientError::Usage(format!(
                        "refusing to upload {}: it is a symbolic link to {}, outside {}",
                        path.display(),
                        resolved.display(),
                        root.display()
                    )));
                }
                resolved
            } else {
                path.clone()
            };
            let meta = std::fs::metadata(&target).map_err(|e| io(&target, e))?;
            if meta.is_dir() {
                if !file_type.is_symlink() {
                    stack.push((target, child_rel));
                }
                // A link to a directory inside the tree is uploaded where it really is.
            } else {
                out.push((target, child_rel));
            }
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}
