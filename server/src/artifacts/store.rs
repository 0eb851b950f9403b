//! [`ArtifactStore`]: the local file system's [`ArtifactRepository`], files under
//! `<store>/artifacts`.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;

use super::repository::{ArtifactRead, ArtifactRepository, ArtifactUpload};
use super::validate_relative_path;
use crate::error::{Result, TrackingError};

/// A file or directory in a run's artifacts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactFile {
    /// Path relative to the run's artifact root.
    pub path: String,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Size in bytes (files only).
    pub size: Option<u64>,
}

/// Artifact files of every run of one store, on the local file system.
#[derive(Debug, Clone)]
pub struct ArtifactStore {
    root: PathBuf,
}

/// A file-system failure as the client sees it: never the server-side path (only the last
/// component), and a name the file system cannot hold is the client's error.
fn io_err(what: &str, path: &Path, e: std::io::Error) -> TrackingError {
    if e.raw_os_error() == Some(libc::ENAMETOOLONG) {
        return TrackingError::invalid(
            "Invalid path: a file or directory name is too long for the file system.",
        );
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    TrackingError::storage(format!("{what} artifact '{name}': {}", e.kind()), e)
}

/// A failure to set up the artifact root (at startup: the operator's path is shown).
fn root_err(what: &str, path: &Path, e: std::io::Error) -> TrackingError {
    TrackingError::storage(format!("{what} {}", path.display()), e)
}

fn symlink_refused(rel: &str) -> TrackingError {
    TrackingError::invalid(format!(
        "Invalid path '{}': it passes through a symbolic link, which is never followed.",
        crate::domain::validate::abbreviate(rel)
    ))
}

impl ArtifactStore {
    /// Artifacts under `root` (created if missing).
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(|e| root_err("cannot create", &root, e))?;
        let root = root
            .canonicalize()
            .map_err(|e| root_err("cannot resolve", &root, e))?;
        Ok(ArtifactStore { root })
    }

    /// The artifact root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Joins a validated relative path under the root, refusing any existing component that
    /// is a symbolic link. Returns the absolute path.
    fn checked_join(&self, rel: &str) -> Result<PathBuf> {
        self.checked_join_with(rel, false)
    }

    /// Like `checked_join`; with `final_link_ok`, the last component may itself be a link
    /// (for removing the link, never for following it).
    fn checked_join_with(&self, rel: &str, final_link_ok: bool) -> Result<PathBuf> {
        let mut path = self.root.clone();
        let segments: Vec<&str> = rel.split('/').filter(|s| !s.is_empty()).collect();
        for (i, segment) in segments.iter().enumerate() {
            path.push(segment);
            let last = i + 1 == segments.len();
            match std::fs::symlink_metadata(&path) {
                Ok(meta) if meta.file_type().is_symlink() && !(last && final_link_ok) => {
                    return Err(symlink_refused(rel))
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("cannot inspect", &path, e)),
            }
        }
        Ok(path)
    }

    /// Validates `rel` (relative to the run directory `run_dir`, itself relative to the root)
    /// and returns `(absolute path, clean run-relative path)`.
    pub fn resolve(&self, run_dir: &str, rel: &str) -> Result<(PathBuf, String)> {
        let clean = validate_relative_path(rel)?;
        let joined = if clean.is_empty() {
            run_dir.to_owned()
        } else {
            format!("{run_dir}/{clean}")
        };
        Ok((self.checked_join(&joined)?, clean))
    }

    /// Starts writing the file `rel` of a run; the file appears only when
    /// [`Upload::finish`] succeeds.
    pub async fn begin_upload(&self, run_dir: &str, rel: &str) -> Result<Upload> {
        let (dest, clean) = self.resolve(run_dir, rel)?;
        if clean.is_empty() {
            return Err(TrackingError::invalid(
                "an upload needs a file path, not the artifact root",
            ));
        }
        let parent = dest.parent().expect("joined under the root").to_path_buf();
        tokio::fs::create_dir_all(&parent)
            .await
            .map_err(|e| io_err("cannot create", &parent, e))?;
        // Re-check after creating directories: nothing on the way may be a link.
        self.resolve(run_dir, rel)?;
        if tokio::fs::symlink_metadata(&dest)
            .await
            .is_ok_and(|m| m.is_dir())
        {
            return Err(TrackingError::invalid(format!("'{clean}' is a directory")));
        }
        let tmp = parent.join(format!(
            ".{}.upload-{}",
            uuid::Uuid::new_v4().simple(),
            std::process::id()
        ));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)
            .map_err(|e| io_err("cannot create", &tmp, e))?;
        Ok(Upload {
            file: Some(tokio::fs::File::from_std(file)),
            tmp,
            dest,
            rel: clean,
            written: 0,
        })
    }

    /// Opens the file `rel` of a run for reading; returns it with its size.
    pub async fn open_file(&self, run_dir: &str, rel: &str) -> Result<(tokio::fs::File, u64)> {
        let (path, clean) = self.resolve(run_dir, rel)?;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => {
                    TrackingError::not_found(format!("No artifact at '{clean}'"))
                }
                _ if e.raw_os_error() == Some(libc::ELOOP) => symlink_refused(&clean),
                _ => io_err("cannot open", &path, e),
            })?;
        let meta = file
            .metadata()
            .map_err(|e| io_err("cannot inspect", &path, e))?;
        if !meta.is_file() {
            return Err(TrackingError::invalid(format!(
                "'{clean}' is a directory, not a file"
            )));
        }
        Ok((tokio::fs::File::from_std(file), meta.len()))
    }

    /// Lists a directory of a run (one level, or the whole subtree). Symbolic links are
    /// skipped. A missing directory lists as empty, like MLflow.
    pub async fn list(
        &self,
        run_dir: &str,
        rel: &str,
        recursive: bool,
    ) -> Result<Vec<ArtifactFile>> {
        let (path, clean) = self.resolve(run_dir, rel)?;
        let run_root = self.checked_join(run_dir)?;
        let listing = tokio::task::spawn_blocking(move || -> Result<Vec<ArtifactFile>> {
            match std::fs::symlink_metadata(&path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(io_err("cannot inspect", &path, e)),
                Ok(m) if m.is_file() => {
                    return Ok(vec![ArtifactFile {
                        path: clean,
                        is_dir: false,
                        size: Some(m.len()),
                    }]);
                }
                Ok(_) => {}
            }
            let mut out = Vec::new();
            walk(&run_root, &path, recursive, &mut out)?;
            out.sort_by(|a, b| a.path.cmp(&b.path));
            Ok(out)
        });
        listing
            .await
            .map_err(|e| TrackingError::storage("listing failed", e))?
    }

    /// Deletes a file or a directory tree of a run (a link is removed, never followed).
    /// The run's artifact root itself is never deleted this way.
    pub async fn delete(&self, run_dir: &str, rel: &str) -> Result<()> {
        let clean = validate_relative_path(rel)?;
        if clean.is_empty() || run_dir.is_empty() {
            return Err(TrackingError::invalid(
                "Invalid path '': the root of a run's artifacts cannot be deleted; name a file \
                 or directory inside it.",
            ));
        }
        let joined = format!("{run_dir}/{clean}");
        let path = self.checked_join_with(&joined, true)?;
        let meta = match tokio::fs::symlink_metadata(&path).await {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(TrackingError::not_found(format!(
                    "No artifact at '{clean}'"
                )))
            }
            Err(e) => return Err(io_err("cannot inspect", &path, e)),
        };
        let removed = if meta.is_dir() {
            tokio::fs::remove_dir_all(&path).await
        } else {
            tokio::fs::remove_file(&path).await
        };
        removed.map_err(|e| io_err("cannot delete", &path, e))
    }
}

fn walk(run_root: &Path, dir: &Path, recursive: bool, out: &mut Vec<ArtifactFile>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| io_err("cannot list", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_err("cannot list", dir, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.contains(".upload-") {
            continue; // an upload in progress
        }
        let file_type = entry
            .file_type()
            .map_err(|e| io_err("cannot inspect", &entry.path(), e))?;
        if file_type.is_symlink() {
            continue;
        }
        let path = entry.path();
        let rel = path
            .strip_prefix(run_root)
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        if file_type.is_dir() {
            out.push(ArtifactFile {
                path: rel,
                is_dir: true,
                size: None,
            });
            if recursive {
                walk(run_root, &path, true, out)?;
            }
        } else {
            let size = entry.metadata().map(|m| m.len()).ok();
            out.push(ArtifactFile {
                path: rel,
                is_dir: false,
                size,
            });
        }
    }
    Ok(())
}

/// A file being uploaded: written to a hidden temporary file next to its destination and
/// renamed into place by [`Upload::finish`]. Dropped unfinished, it leaves nothing behind.
pub struct Upload {
    file: Option<tokio::fs::File>,
    tmp: PathBuf,
    dest: PathBuf,
    rel: String,
    written: u64,
}

impl Upload {
    /// Appends a chunk.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        let file = self.file.as_mut().expect("open until finish");
        file.write_all(chunk)
            .await
            .map_err(|e| io_err("cannot write", &self.tmp, e))?;
        self.written += chunk.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Syncs the file and moves it into place.
    pub async fn finish(mut self) -> Result<ArtifactFile> {
        let mut file = self.file.take().expect("open until finish");
        file.flush()
            .await
            .map_err(|e| io_err("cannot write", &self.tmp, e))?;
        file.sync_all()
            .await
            .map_err(|e| io_err("cannot sync", &self.tmp, e))?;
        drop(file);
        tokio::fs::rename(&self.tmp, &self.dest)
            .await
            .map_err(|e| io_err("cannot move into place", &self.dest, e))?;
        Ok(ArtifactFile {
            path: std::mem::take(&mut self.rel),
            is_dir: false,
            size: Some(self.written),
        })
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[tonic::async_trait]
impl ArtifactRepository for ArtifactStore {
    async fn put(&self, run_dir: &str, rel: &str) -> Result<Box<dyn ArtifactUpload>> {
        Ok(Box::new(self.begin_upload(run_dir, rel).await?))
    }

    async fn get(
        &self,
        run_dir: &str,
        rel: &str,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<ArtifactRead> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        let (mut file, size) = self.open_file(run_dir, rel).await?;
        let (start, end) = match range {
            Some(r) => (r.start.min(size), r.end.min(size).max(r.start.min(size))),
            None => (0, size),
        };
        if start > 0 {
            file.seek(std::io::SeekFrom::Start(start))
                .await
                .map_err(|e| io_err("cannot read", Path::new(rel), e))?;
        }
        let reader = file.take(end - start);
        Ok(ArtifactRead {
            size: end - start,
            bytes: futures::StreamExt::boxed(tokio_util::io::ReaderStream::with_capacity(
                reader,
                super::READ_CHUNK_BYTES,
            )),
        })
    }

    async fn stat(&self, run_dir: &str, rel: &str) -> Result<Option<ArtifactFile>> {
        let (path, clean) = self.resolve(run_dir, rel)?;
        match tokio::fs::symlink_metadata(&path).await {
            Ok(m) if m.is_dir() => Ok(Some(ArtifactFile {
                path: clean,
                is_dir: true,
                size: None,
            })),
            Ok(m) if m.is_file() => Ok(Some(ArtifactFile {
                path: clean,
                is_dir: false,
                size: Some(m.len()),
            })),
            Ok(_) => Err(symlink_refused(&clean)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("cannot inspect", &path, e)),
        }
    }

    async fn list(&self, run_dir: &str, rel: &str, recursive: bool) -> Result<Vec<ArtifactFile>> {
        ArtifactStore::list(self, run_dir, rel, recursive).await
    }

    async fn delete(&self, run_dir: &str, rel: &str) -> Result<()> {
        ArtifactStore::delete(self, run_dir, rel).await
    }

    async fn purge_run_files(&self, run_dir: &str) -> Result<u64> {
        if run_dir.trim_matches('/').is_empty() {
            return Err(TrackingError::invalid(
                "a run's artifact directory is never the root",
            ));
        }
        let (path, _) = self.resolve(run_dir, "")?;
        let bytes = tokio::task::spawn_blocking({
            let path = path.clone();
            move || tree_bytes(&path)
        })
        .await
        .unwrap_or(0);
        match tokio::fs::remove_dir_all(&path).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(io_err("cannot delete", &path, e)),
        }
        // `<experiment>/<run>/artifacts`: the run's own directory goes too when empty.
        if let Some(parent) = path.parent().filter(|p| *p != self.root) {
            let _ = tokio::fs::remove_dir(parent).await;
        }
        Ok(bytes)
    }
}

/// Bytes of the files under `path` (symbolic links not followed).
fn tree_bytes(path: &std::path::Path) -> u64 {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::read_dir(path)
            .map(|entries| entries.flatten().map(|e| tree_bytes(&e.path())).sum())
            .unwrap_or(0),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

#[tonic::async_trait]
impl ArtifactUpload for Upload {
    async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        Upload::write(self, chunk).await
    }

    fn written(&self) -> u64 {
        Upload::written(self)
    }

    async fn finish(self: Box<Self>) -> Result<ArtifactFile> {
        Upload::finish(*self).await
    }
}

#[cfg(test)]
mod tests {
    use futures::TryStreamExt;

    use super::*;

    async fn read_all(read: ArtifactRead) -> Vec<u8> {
        let chunks: Vec<bytes::Bytes> = read.bytes.try_collect().await.unwrap();
        chunks.concat()
    }

    /// The local repository through the trait: put, whole and ranged get, stat, list,
    /// delete.
    #[tokio::test]
    async fn the_local_repository_keeps_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        let repo: Box<dyn ArtifactRepository> = Box::new(ArtifactStore::open(dir.path()).unwrap());
        let mut upload = repo
            .put("0/run/artifacts", "model/weights.bin")
            .await
            .unwrap();
        upload.write(b"0123456789").await.unwrap();
        assert_eq!(upload.written(), 10);
        let file = upload.finish().await.unwrap();
        assert_eq!(
            (file.path.as_str(), file.size),
            ("model/weights.bin", Some(10))
        );

        let whole = repo
            .get("0/run/artifacts", "model/weights.bin", None)
            .await
            .unwrap();
        assert_eq!(whole.size, 10);
        assert_eq!(read_all(whole).await, b"0123456789");
        let part = repo
            .get("0/run/artifacts", "model/weights.bin", Some(2..5))
            .await
            .unwrap();
        assert_eq!((part.size, read_all(part).await), (3, b"234".to_vec()));
        let past = repo
            .get("0/run/artifacts", "model/weights.bin", Some(8..100))
            .await
            .unwrap();
        assert_eq!(
            read_all(past).await,
            b"89",
            "a range is clamped to the file"
        );

        let stat = |rel: &'static str| repo.stat("0/run/artifacts", rel);
        assert_eq!(stat("model").await.unwrap().map(|f| f.is_dir), Some(true));
        assert_eq!(
            stat("model/weights.bin")
                .await
                .unwrap()
                .and_then(|f| f.size),
            Some(10)
        );
        assert!(stat("nothing").await.unwrap().is_none());
        let listed = repo.list("0/run/artifacts", "", true).await.unwrap();
        let paths: Vec<&str> = listed.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["model", "model/weights.bin"]);

        let dropped = repo.put("0/run/artifacts", "half.bin").await.unwrap();
        drop(dropped);
        assert!(
            stat("half.bin").await.unwrap().is_none(),
            "an unfinished upload leaves nothing"
        );
        repo.delete("0/run/artifacts", "model").await.unwrap();
        assert!(repo
            .list("0/run/artifacts", "", true)
            .await
            .unwrap()
            .is_empty());
    }
}
