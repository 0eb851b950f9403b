//! [`ObjectArtifacts`]: artifact files in an object store — S3 and S3-compatible stores
//! (`s3://BUCKET/PREFIX`), Google Cloud Storage (`gs://`) and Azure Blob Storage (`az://`),
//! through the `object_store` crate, configured from the standard environment variables
//! (`AWS_*`, `GOOGLE_*`, `AZURE_*`; MLflow's `MLFLOW_S3_ENDPOINT_URL` too).
//!
//! An artifact `rel` of the run directory `run_dir` is the object `PREFIX/run_dir/rel`;
//! directories are the key prefixes that have objects under them. Uploads are buffered up to
//! one part ([`PART_BYTES`]) and written with one PUT; larger files become a multipart upload
//! with at most [`PARTS_IN_FLIGHT`] parts in flight, so an upload holds a bounded amount of
//! memory whatever the file's size. The object appears whole when the upload completes, or
//! not at all (an unfinished multipart upload is aborted).
//!
//! Stores that sign URLs (S3, GCS) also hand out direct transfers (see
//! [`super::DirectTransfers`]): presigned GETs for downloads, and multipart uploads whose parts
//! the client PUTs to presigned URLs — the bytes never pass through trackd.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path as ObjectPath;
use object_store::signer::{Method, SignedUrlOptions, Signer};
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

use super::repository::{
    ArtifactRead, ArtifactRepository, ArtifactUpload, DirectTransfers, PresignedPart,
    PresignedRequest,
};
use super::ArtifactFile;
use crate::error::{Result, TrackingError};

/// Size of one part of a multipart upload, and the largest file written with one PUT.
pub const PART_BYTES: usize = 8 << 20;

/// Parts of one upload sent at the same time.
pub const PARTS_IN_FLIGHT: usize = 2;

/// The most parts a multipart upload may have (S3's limit).
pub const MAX_PARTS: u32 = 10_000;

/// What a store can do beyond reads and writes.
#[derive(Clone)]
struct Extras {
    multipart: Option<Arc<dyn MultipartStore>>,
    signer: Option<Arc<dyn Signer>>,
    /// Whether the signer signs extra query parameters (part numbers and upload ids).
    signs_parts: bool,
}

/// Artifact files in an object store; see the module docs.
#[derive(Clone)]
pub struct ObjectArtifacts {
    store: Arc<dyn ObjectStore>,
    extras: Extras,
    /// Key prefix inside the bucket (may be empty).
    prefix: String,
    /// The destination URL, for logs and errors.
    url: String,
}

impl std::fmt::Debug for ObjectArtifacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectArtifacts")
            .field("url", &self.url)
            .finish()
    }
}

/// An object-store failure as the client sees it: what failed and the store's reason,
/// never credentials (the crate's messages carry none).
fn store_err(what: &str, e: object_store::Error) -> TrackingError {
    TrackingError::storage(format!("object store: {what}: {e}"), e)
}

/// The part of `key` under `base` (a run directory's key; keys from a listing of it).
fn relative(base: &ObjectPath, key: &ObjectPath) -> String {
    key.as_ref()
        .strip_prefix(base.as_ref())
        .map(|s| s.trim_start_matches('/'))
        .unwrap_or(key.as_ref())
        .to_owned()
}

/// A configuration failure at startup.
fn config_err(url: &str, e: impl std::fmt::Display) -> TrackingError {
    TrackingError::invalid(format!("artifacts destination '{url}': {e}"))
}

/// The S3 endpoint MLflow's variable names, when the standard one is not set.
fn s3_endpoint() -> Option<String> {
    [
        "AWS_ENDPOINT_URL_S3",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT",
        "MLFLOW_S3_ENDPOINT_URL",
    ]
    .iter()
    .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
}

impl ObjectArtifacts {
    /// Opens the destination `url` (`s3://BUCKET[/PREFIX]`, `s3a://`, `gs://BUCKET[/PREFIX]`,
    /// `az://CONTAINER[/PREFIX]`, `abfs[s]://…`), with credentials and endpoints from the
    /// environment. Nothing is contacted yet.
    pub fn open(url: &str) -> Result<Self> {
        Self::open_with(url, &[])
    }

    /// [`ObjectArtifacts::open`] with `options` (the `object_store` crate's configuration
    /// keys, e.g. `aws_endpoint`, `aws_access_key_id`) over the environment's.
    pub fn open_with(url: &str, options: &[(String, String)]) -> Result<Self> {
        // reqwest's rustls needs a process-wide crypto provider; ring is the one trackd uses.
        let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
        let parsed = object_store::signer::Url::parse(url).map_err(|e| config_err(url, e))?;
        let prefix = parsed.path().trim_matches('/').to_owned();
        if !prefix.is_empty() {
            ObjectPath::parse(&prefix).map_err(|e| config_err(url, e))?;
        }
        let (store, extras): (Arc<dyn ObjectStore>, Extras) = match parsed.scheme() {
            "s3" | "s3a" => {
                let mut builder = object_store::aws::AmazonS3Builder::from_env().with_url(url);
                if let Some(endpoint) = s3_endpoint() {
                    builder = builder
                        .with_allow_http(endpoint.starts_with("http://"))
                        .with_endpoint(endpoint);
                }
                for (key, value) in options {
                    let key: object_store::aws::AmazonS3ConfigKey =
                        key.parse().map_err(|e| config_err(url, e))?;
                    builder = builder.with_config(key, value);
                }
                if std::env::var("MLFLOW_S3_IGNORE_TLS").is_ok_and(|v| v == "true") {
                    builder = builder.with_client_options(
                        object_store::ClientOptions::new().with_allow_invalid_certificates(true),
                    );
                }
                let s3 = Arc::new(builder.build().map_err(|e| config_err(url, e))?);
                (
                    s3.clone(),
                    Extras {
                        multipart: Some(s3.clone()),
                        signer: Some(s3),
                        signs_parts: true,
                    },
                )
            }
            "gs" => {
                let mut builder =
                    object_store::gcp::GoogleCloudStorageBuilder::from_env().with_url(url);
                for (key, value) in options {
                    let key: object_store::gcp::GoogleConfigKey =
                        key.parse().map_err(|e| config_err(url, e))?;
                    builder = builder.with_config(key, value);
                }
                let gcs = Arc::new(builder.build().map_err(|e| config_err(url, e))?);
                (
                    gcs.clone(),
                    Extras {
                        multipart: Some(gcs.clone()),
                        signer: Some(gcs),
                        signs_parts: true,
                    },
                )
            }
            "az" | "azure" | "abfs" | "abfss" | "adl" => {
                let mut builder =
                    object_store::azure::MicrosoftAzureBuilder::from_env().with_url(url);
                for (key, value) in options {
                    let key: object_store::azure::AzureConfigKey =
                        key.parse().map_err(|e| config_err(url, e))?;
                    builder = builder.with_config(key, value);
                }
                let azure = Arc::new(builder.build().map_err(|e| config_err(url, e))?);
                (
                    azure.clone(),
                    Extras {
                        multipart: Some(azure.clone()),
                        signer: Some(azure),
                        signs_parts: false,
                    },
                )
            }
            other => {
                return Err(config_err(
                    url,
                    format!(
                        "unsupported scheme '{other}' (use s3://, gs://, az:// or file://, or a \
                         local directory)"
                    ),
                ))
            }
        };
        Ok(ObjectArtifacts {
            store,
            extras,
            prefix,
            url: url.to_owned(),
        })
    }

    /// The destination URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The key of `rel` under `run_dir` (`rel` may be empty: the run's directory itself).
    fn key(&self, run_dir: &str, rel: &str) -> Result<ObjectPath> {
        let joined: Vec<&str> = [self.prefix.as_str(), run_dir, rel]
            .iter()
            .flat_map(|s| s.split('/'))
            .filter(|s| !s.is_empty())
            .collect();
        ObjectPath::parse(joined.join("/"))
            .map_err(|e| TrackingError::invalid(format!("Invalid artifact path: {e}")))
    }

    /// Whether `key` names a "directory": a prefix with objects under it.
    async fn is_dir(&self, key: &ObjectPath) -> Result<bool> {
        let mut listing = self.store.list(Some(key));
        match listing.next().await {
            Some(Ok(_)) => Ok(true),
            Some(Err(e)) => Err(store_err("cannot list", e)),
            None => Ok(false),
        }
    }

    /// The object `key`'s size, or `None` when there is no such object.
    async fn size_of(&self, key: &ObjectPath) -> Result<Option<u64>> {
        match self.store.head(key).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(store_err("cannot inspect", e)),
        }
    }

    /// The size of the file `rel`, refusing a directory or nothing.
    async fn file_size(&self, run_dir: &str, rel: &str) -> Result<(ObjectPath, u64)> {
        let key = self.key(run_dir, rel)?;
        if rel.is_empty() {
            return Err(TrackingError::invalid("'' is a directory, not a file"));
        }
        match self.size_of(&key).await? {
            Some(size) => Ok((key, size)),
            None if self.is_dir(&key).await? => Err(TrackingError::invalid(format!(
                "'{rel}' is a directory, not a file"
            ))),
            None => Err(TrackingError::not_found(format!("No artifact at '{rel}'"))),
        }
    }

    /// Deletes every object under `key`; returns their bytes.
    async fn delete_tree(&self, key: &ObjectPath) -> Result<u64> {
        let objects: Vec<object_store::ObjectMeta> = self
            .store
            .list(Some(key))
            .try_collect()
            .await
            .map_err(|e| store_err("cannot list", e))?;
        let bytes = objects.iter().map(|o| o.size).sum();
        let locations = futures::stream::iter(objects.into_iter().map(|o| Ok(o.location))).boxed();
        self.store
            .delete_stream(locations)
            .try_collect::<Vec<_>>()
            .await
            .map_err(|e| store_err("cannot delete", e))?;
        Ok(bytes)
    }

    fn signer(&self) -> Result<&Arc<dyn Signer>> {
        self.extras
            .signer
            .as_ref()
            .ok_or_else(|| TrackingError::Unsupported("this artifact store signs no URLs".into()))
    }

    fn multipart(&self) -> Result<&Arc<dyn MultipartStore>> {
        match (&self.extras.multipart, self.extras.signs_parts) {
            (Some(m), true) => Ok(m),
            _ => Err(super::multipart_unsupported()),
        }
    }
}

#[tonic::async_trait]
impl ArtifactRepository for ObjectArtifacts {
    async fn put(&self, run_dir: &str, rel: &str) -> Result<Box<dyn ArtifactUpload>> {
        if rel.is_empty() {
            return Err(TrackingError::invalid(
                "an upload needs a file path, not the artifact root",
            ));
        }
        let key = self.key(run_dir, rel)?;
        if self.is_dir(&key).await? {
            return Err(TrackingError::invalid(format!("'{rel}' is a directory")));
        }
        Ok(Box::new(ObjectUpload {
            store: self.store.clone(),
            key,
            rel: rel.to_owned(),
            state: UploadState::Buffering(Vec::new()),
            written: 0,
        }))
    }

    async fn get(
        &self,
        run_dir: &str,
        rel: &str,
        range: Option<Range<u64>>,
    ) -> Result<ArtifactRead> {
        let (key, size) = self.file_size(run_dir, rel).await?;
        let (start, end) = match range {
            Some(r) => (r.start.min(size), r.end.min(size).max(r.start.min(size))),
            None => (0, size),
        };
        if start == end {
            return Ok(ArtifactRead {
                size: 0,
                bytes: futures::stream::empty().boxed(),
            });
        }
        let options = GetOptions {
            range: Some(GetRange::Bounded(start..end)),
            ..GetOptions::default()
        };
        let result = self
            .store
            .get_opts(&key, options)
            .await
            .map_err(|e| match e {
                object_store::Error::NotFound { .. } => {
                    TrackingError::not_found(format!("No artifact at '{rel}'"))
                }
                e => store_err("cannot read", e),
            })?;
        let bytes = result
            .into_stream()
            .map_err(|e| std::io::Error::other(format!("object store: cannot read: {e}")))
            .boxed();
        Ok(ArtifactRead {
            size: end - start,
            bytes,
        })
    }

    async fn stat(&self, run_dir: &str, rel: &str) -> Result<Option<ArtifactFile>> {
        let key = self.key(run_dir, rel)?;
        if !rel.is_empty() {
            if let Some(size) = self.size_of(&key).await? {
                return Ok(Some(ArtifactFile {
                    path: rel.to_owned(),
                    is_dir: false,
                    size: Some(size),
                }));
            }
        }
        // The run's root is a directory even before anything is written to it.
        Ok(
            (rel.is_empty() || self.is_dir(&key).await?).then(|| ArtifactFile {
                path: rel.to_owned(),
                is_dir: true,
                size: None,
            }),
        )
    }

    async fn list(&self, run_dir: &str, rel: &str, recursive: bool) -> Result<Vec<ArtifactFile>> {
        let key = self.key(run_dir, rel)?;
        if !rel.is_empty() {
            if let Some(size) = self.size_of(&key).await? {
                return Ok(vec![ArtifactFile {
                    path: rel.to_owned(),
                    is_dir: false,
                    size: Some(size),
                }]);
            }
        }
        let base = self.key(run_dir, "")?;
        let mut out = Vec::new();
        if recursive {
            let objects: Vec<object_store::ObjectMeta> = self
                .store
                .list(Some(&key))
                .try_collect()
                .await
                .map_err(|e| store_err("cannot list", e))?;
            let mut dirs = std::collections::BTreeSet::new();
            for object in objects {
                let path = relative(&base, &object.location);
                // Every directory between `rel` and the file lists too, as on a file system.
                let mut parent = path.as_str();
                while let Some((dir, _)) = parent.rsplit_once('/') {
                    if dir.len() <= rel.len() {
                        break;
                    }
                    dirs.insert(dir.to_owned());
                    parent = dir;
                }
                out.push(ArtifactFile {
                    path,
                    is_dir: false,
                    size: Some(object.size),
                });
            }
            out.extend(dirs.into_iter().map(|path| ArtifactFile {
                path,
                is_dir: true,
                size: None,
            }));
        } else {
            let listing = self
                .store
                .list_with_delimiter(Some(&key))
                .await
                .map_err(|e| store_err("cannot list", e))?;
            out.extend(listing.common_prefixes.iter().map(|p| ArtifactFile {
                path: relative(&base, p),
                is_dir: true,
                size: None,
            }));
            out.extend(listing.objects.iter().map(|o| ArtifactFile {
                path: relative(&base, &o.location),
                is_dir: false,
                size: Some(o.size),
            }));
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    async fn delete(&self, run_dir: &str, rel: &str) -> Result<()> {
        if rel.is_empty() || run_dir.trim_matches('/').is_empty() {
            return Err(TrackingError::invalid(
                "Invalid path '': the root of a run's artifacts cannot be deleted; name a file \
                 or directory inside it.",
            ));
        }
        let key = self.key(run_dir, rel)?;
        if self.size_of(&key).await?.is_some() {
            return self
                .store
                .delete(&key)
                .await
                .map_err(|e| store_err("cannot delete", e));
        }
        if !self.is_dir(&key).await? {
            return Err(TrackingError::not_found(format!("No artifact at '{rel}'")));
        }
        self.delete_tree(&key).await.map(|_| ())
    }

    async fn purge_run_files(&self, run_dir: &str) -> Result<u64> {
        if run_dir.trim_matches('/').is_empty() {
            return Err(TrackingError::invalid(
                "a run's artifact directory is never the root",
            ));
        }
        let key = self.key(run_dir, "")?;
        self.delete_tree(&key).await
    }

    fn direct_transfers(&self) -> DirectTransfers {
        DirectTransfers {
            presigned_downloads: self.extras.signer.is_some(),
            multipart_uploads: self.multipart().is_ok(),
        }
    }

    async fn presign_get(
        &self,
        run_dir: &str,
        rel: &str,
        expires: Duration,
    ) -> Result<(PresignedRequest, u64)> {
        let (key, size) = self.file_size(run_dir, rel).await?;
        let url = self
            .signer()?
            .signed_url(Method::GET, &key, expires)
            .await
            .map_err(|e| store_err("cannot sign", e))?;
        Ok((
            PresignedRequest {
                url: url.to_string(),
                headers: Vec::new(),
            },
            size,
        ))
    }

    async fn presign_put(
        &self,
        run_dir: &str,
        rel: &str,
        expires: Duration,
    ) -> Result<PresignedRequest> {
        let key = self.key(run_dir, rel)?;
        let url = self
            .signer()?
            .signed_url(Method::PUT, &key, expires)
            .await
            .map_err(|e| store_err("cannot sign", e))?;
        Ok(PresignedRequest {
            url: url.to_string(),
            headers: Vec::new(),
        })
    }

    async fn create_multipart(
        &self,
        run_dir: &str,
        rel: &str,
        parts: u32,
        expires: Duration,
    ) -> Result<(String, Vec<PresignedPart>)> {
        let multipart = self.multipart()?.clone();
        if parts == 0 || parts > MAX_PARTS {
            return Err(TrackingError::invalid(format!(
                "num_parts must be between 1 and {MAX_PARTS}, got {parts}"
            )));
        }
        let key = self.key(run_dir, rel)?;
        if self.is_dir(&key).await? {
            return Err(TrackingError::invalid(format!("'{rel}' is a directory")));
        }
        let upload_id = multipart
            .create_multipart(&key)
            .await
            .map_err(|e| store_err("cannot start a multipart upload", e))?;
        let signer = self.signer()?;
        let mut credentials = Vec::with_capacity(parts as usize);
        for part_number in 1..=parts {
            let options = SignedUrlOptions::default().with_query([
                ("partNumber", part_number.to_string()),
                ("uploadId", upload_id.clone()),
            ]);
            let signed = signer
                .signed_url_opts(Method::PUT, &key, expires, &options)
                .await;
            match signed {
                Ok(url) => credentials.push(PresignedPart {
                    part_number,
                    request: PresignedRequest {
                        url: url.to_string(),
                        headers: Vec::new(),
                    },
                }),
                Err(e) => {
                    let _ = multipart.abort_multipart(&key, &upload_id).await;
                    return Err(store_err("cannot sign a part", e));
                }
            }
        }
        Ok((upload_id, credentials))
    }

    async fn complete_multipart(
        &self,
        run_dir: &str,
        rel: &str,
        upload_id: &str,
        etags: Vec<String>,
    ) -> Result<u64> {
        let key = self.key(run_dir, rel)?;
        let parts = etags
            .into_iter()
            .map(|content_id| PartId { content_id })
            .collect();
        self.multipart()?
            .complete_multipart(&key, &upload_id.to_owned(), parts)
            .await
            .map_err(|e| store_err("cannot complete the multipart upload", e))?;
        Ok(self.size_of(&key).await?.unwrap_or(0))
    }

    async fn abort_multipart(&self, run_dir: &str, rel: &str, upload_id: &str) -> Result<()> {
        let key = self.key(run_dir, rel)?;
        self.multipart()?
            .abort_multipart(&key, &upload_id.to_owned())
            .await
            .map_err(|e| store_err("cannot abort the multipart upload", e))
    }
}

/// Where an upload is: small files are one PUT; past one part, a multipart upload.
enum UploadState {
    Buffering(Vec<u8>),
    Multipart(WriteMultipart),
    Done,
}

/// A file being uploaded to the object store; see the module docs.
struct ObjectUpload {
    store: Arc<dyn ObjectStore>,
    key: ObjectPath,
    rel: String,
    state: UploadState,
    written: u64,
}

#[tonic::async_trait]
impl ArtifactUpload for ObjectUpload {
    async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        self.written += chunk.len() as u64;
        if let UploadState::Buffering(buffer) = &mut self.state {
            if buffer.len() + chunk.len() <= PART_BYTES {
                buffer.extend_from_slice(chunk);
                return Ok(());
            }
            let upload = self
                .store
                .put_multipart(&self.key)
                .await
                .map_err(|e| store_err("cannot start an upload", e))?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
            writer.write(&std::mem::take(buffer));
            self.state = UploadState::Multipart(writer);
        }
        match &mut self.state {
            UploadState::Multipart(writer) => {
                writer
                    .wait_for_capacity(PARTS_IN_FLIGHT)
                    .await
                    .map_err(|e| store_err("cannot upload a part", e))?;
                writer.write(chunk);
                Ok(())
            }
            _ => Err(TrackingError::invalid("the upload is finished")),
        }
    }

    fn written(&self) -> u64 {
        self.written
    }

    async fn finish(mut self: Box<Self>) -> Result<ArtifactFile> {
        match std::mem::replace(&mut self.state, UploadState::Done) {
            UploadState::Buffering(buffer) => {
                self.store
                    .put(&self.key, PutPayload::from(buffer))
                    .await
                    .map_err(|e| store_err("cannot write", e))?;
            }
            UploadState::Multipart(writer) => {
                writer
                    .finish()
                    .await
                    .map_err(|e| store_err("cannot complete the upload", e))?;
            }
            UploadState::Done => return Err(TrackingError::invalid("the upload is finished")),
        }
        Ok(ArtifactFile {
            path: std::mem::take(&mut self.rel),
            is_dir: false,
            size: Some(self.written),
        })
    }
}

impl Drop for ObjectUpload {
    /// An unfinished multipart upload is aborted, so its parts do not linger in the bucket.
    fn drop(&mut self) {
        if let UploadState::Multipart(writer) =
            std::mem::replace(&mut self.state, UploadState::Done)
        {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    if let Err(e) = writer.abort().await {
                        tracing::warn!(error = %e, "could not abort an unfinished upload");
                    }
                });
            }
        }
    }
}
