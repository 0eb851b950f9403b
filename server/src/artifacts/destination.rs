//! `--artifacts-destination`: where a server keeps artifact files — a local directory (the
//! default: `<store>/artifacts`; also `file:///path` or a plain path) or an object store
//! (`s3://`, `gs://`, `az://`; see [`super::ObjectArtifacts`]).

use std::path::Path;
use std::sync::Arc;

use super::{ArtifactRepository, ArtifactStore, ObjectArtifacts};
use crate::error::{Result, TrackingError};

/// Opens the artifact repository `destination` names, or the local directory
/// `default_root` when it is `None`.
pub fn open_destination(
    destination: Option<&str>,
    default_root: &Path,
) -> Result<Arc<dyn ArtifactRepository>> {
    let Some(destination) = destination.map(str::trim).filter(|d| !d.is_empty()) else {
        return Ok(Arc::new(ArtifactStore::open(default_root)?));
    };
    if let Some(path) = destination.strip_prefix("file://") {
        if !path.starts_with('/') {
            return Err(TrackingError::invalid(format!(
                "artifacts destination '{destination}': a file:// URL needs an absolute path \
                 (file:///srv/artifacts)"
            )));
        }
        return Ok(Arc::new(ArtifactStore::open(path)?));
    }
    if !destination.contains("://") {
        return Ok(Arc::new(ArtifactStore::open(destination)?));
    }
    Ok(Arc::new(ObjectArtifacts::open(destination)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_destinations_are_directories_and_unknown_schemes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let default = dir.path().join("default");
        open_destination(None, &default).unwrap();
        assert!(default.is_dir());
        let url = format!("file://{}", dir.path().join("by-url").display());
        open_destination(Some(&url), &default).unwrap();
        assert!(dir.path().join("by-url").is_dir());
        let err = open_destination(Some("file://relative/dir"), &default)
            .err()
            .unwrap();
        assert!(err.to_string().contains("absolute path"), "{err}");
        let err = open_destination(Some("ftp://host/x"), &default)
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("unsupported scheme 'ftp'"),
            "{err}"
        );
        let s3 = open_destination(Some("s3://bucket/prefix"), &default).unwrap();
        assert!(s3.direct_transfers().multipart_uploads);
        assert!(
            !open_destination(None, &default)
                .unwrap()
                .direct_transfers()
                .presigned_downloads
        );
    }
}
