//! [`ArtifactStore`]: artifact files under `<store>/artifacts`.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;

use super::validate_relative_path;
use crate::error::{Result, TrackingError};

/// Scheme of artifact URIs served by this server.
pub const SCHEME: &str = "mlflow-artifacts:/";

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

/// Default largest artifact file, in bytes (5 GiB, the size of one S3 PUT).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 5 << 30;

/// Artifact files of every run of one store.
#[derive(Debug, Clone)]
pub struct ArtifactStore {
    root: PathBuf,
    max_file_bytes: u64,
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
    TrackingError::Storage(format!("{what} artifact '{name}': {}", e.kind()))
}

/// A failure to set up the artifact root (at startup: the operator's path is shown).
fn root_err(what: &str, path: &Path, e: std::io::Error) -> TrackingError {
    TrackingError::Storage(format!("{what} {}: {e}", path.display()))
}

/// An upload larger than the store accepts.
pub(crate) fn too_large(rel: &str, limit: u64) -> TrackingError {
    TrackingError::TooLarge(format!(
        "Artifact '{}' is larger than this server accepts ({limit} bytes; see --max-artifact-mb).",
        crate::domain::validate::abbreviate(rel)
    ))
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
        Ok(ArtifactStore {
            root,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
        })
    }

    /// The same store with another largest file size for uploads.
    pub fn with_max_file_bytes(mut self, max: u64) -> Self {
        self.max_file_bytes = max;
        self
    }

    /// Largest file an upload may write, in bytes.
    pub fn max_file_bytes(&self) -> u64 {
        self.max_file_bytes
    }

    /// The artifact root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory, relative to the root, that an `mlflow-artifacts:/…` URI names.
    pub fn uri_to_relative(uri: &str) -> Result<String> {
        let rest = uri.strip_prefix(SCHEME).ok_or_else(|| {
            TrackingError::invalid(format!("artifact URI '{uri}' is not served by this server"))
        })?;
        validate_relative_path(rest)
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
            limit: self.max_file_bytes,
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
            .map_err(|e| TrackingError::Storage(format!("listing failed: {e}")))?
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
    limit: u64,
}

impl Upload {
    /// Appends a chunk; refused (and the upload abandoned by the caller) once the file would
    /// outgrow the store's largest file size.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        if self.written.saturating_add(chunk.len() as u64) > self.limit {
            return Err(too_large(&self.rel, self.limit));
        }
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
