//! The `trackd server` command line (the `trackd` binary is the `trackd-cli` package). Every
//! flag also reads a `TRACKD_*` environment variable.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::ValueEnum;

use crate::connections::ConnectionLimits;
use crate::domain::access::Level;
use crate::grpc::GrpcOptions;
use crate::server::ServeOptions;
use crate::store::postgres::{is_postgres_uri, PgConfig};
use crate::store::{Durability, StoreConfig};

/// Acknowledgement mode on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DurabilityArg {
    /// Acknowledge after fsync (default): nothing acknowledged is lost in a crash.
    Durable,
    /// Acknowledge before fsync; a crash can lose the last ~200 ms of writes.
    Buffered,
}

/// `trackd server` options.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Store directory (created if missing).
    #[arg(long, env = "TRACKD_STORE", default_value = "./mlruns")]
    pub store: PathBuf,
    /// Address to listen on. Anything but loopback exposes the server without auth.
    #[arg(long, env = "TRACKD_HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "TRACKD_PORT", default_value_t = 5000)]
    pub port: u16,
    /// When writes are acknowledged.
    #[arg(long, env = "TRACKD_DURABILITY", value_enum, default_value_t = DurabilityArg::Durable)]
    pub durability: DurabilityArg,
    /// sled page cache, in MiB.
    #[arg(long, env = "TRACKD_CACHE_MB", default_value_t = 16)]
    pub cache_mb: u64,
    /// Memory for what grows with load, in MiB: LogStream points read but not yet committed
    /// (an eighth) and HTTP/2 receive windows (budget ÷ 512 per stream). Past it, writers
    /// wait instead of the server growing.
    #[arg(long, env = "TRACKD_MEMORY_BUDGET_MB", default_value_t = crate::memory::DEFAULT_MEMORY_BUDGET_MB)]
    pub memory_budget_mb: u64,
    /// Free space kept on the store's disk, in MiB: writes are refused (RESOURCE_EXHAUSTED)
    /// while less is free and resume once there is room; 0 turns the guard off.
    #[arg(long, env = "TRACKD_MIN_FREE_MB", default_value_t = 64)]
    pub min_free_mb: u64,
    /// Close a LogStream that sends nothing for this many seconds.
    #[arg(long, env = "TRACKD_STREAM_IDLE_TIMEOUT_SECS", default_value_t = 300)]
    pub stream_idle_timeout_secs: u64,
    /// Keep a LogStream's sequence record this many hours after its last batch (a batch
    /// re-sent within this window is stored once; clients re-send within a minute).
    #[arg(long, env = "TRACKD_STREAM_RETENTION_HOURS", default_value_t = 168)]
    pub stream_retention_hours: u64,
    /// Longest wait for open requests at shutdown, in seconds.
    #[arg(long, env = "TRACKD_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,
    /// Connections served at once; past this the server stops accepting until one closes.
    #[arg(long, env = "TRACKD_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,
    /// Seconds a connection may take to send its first bytes and an HTTP/1.1 request its
    /// header; also how long an idle HTTP/1.1 keep-alive connection stays open.
    #[arg(long, env = "TRACKD_HEADER_TIMEOUT_SECS", default_value_t = 30)]
    pub header_timeout_secs: u64,
    /// Seconds a request body may send nothing before the request fails (a JSON body must
    /// also arrive whole within 60 s).
    #[arg(long, env = "TRACKD_BODY_TIMEOUT_SECS", default_value_t = 30)]
    pub body_timeout_secs: u64,
    /// HTTP/2 streams per connection (gRPC calls at once on one connection).
    #[arg(long, env = "TRACKD_MAX_CONCURRENT_STREAMS", default_value_t = 256)]
    pub max_concurrent_streams: u32,
    /// Largest artifact file accepted, in MiB (REST proxy and gRPC uploads alike).
    #[arg(long, env = "TRACKD_MAX_ARTIFACT_MB", default_value_t = 5120)]
    pub max_artifact_mb: u64,
    /// Where tracking data lives: a PostgreSQL database
    /// (`postgresql://USER[:PASS]@HOST[:PORT]/DB`, which several `trackd server` replicas may
    /// share; the schema is created or migrated at start) or a sled directory (the same as
    /// --store). Default: the sled store in --store.
    #[arg(long, env = "TRACKD_BACKEND_STORE_URI")]
    pub backend_store_uri: Option<String>,
    /// Where artifact files go: an object store (`s3://BUCKET/PREFIX`, `gs://…`, `az://…`;
    /// credentials and endpoint from the usual AWS_* / GOOGLE_* / AZURE_* variables, S3's
    /// endpoint also from MLFLOW_S3_ENDPOINT_URL) or a local directory (`file:///path` or a
    /// path). Default: the store's `artifacts/` directory.
    #[arg(long, env = "TRACKD_ARTIFACTS_DESTINATION")]
    pub artifacts_destination: Option<String>,
    /// Require credentials (HTTP Basic or a bearer token) and check permissions. The first
    /// administrator comes from TRACKD_ADMIN_USERNAME / TRACKD_ADMIN_PASSWORD when the store
    /// has no user yet, or from `trackd users create NAME --admin`.
    #[arg(long, env = "TRACKD_AUTH")]
    pub auth: bool,
    /// With --auth: what a user may do on an experiment without a grant (MLflow's default
    /// permission): none, read, edit or manage.
    #[arg(long, env = "TRACKD_DEFAULT_PERMISSION", default_value = "read", value_parser = parse_level)]
    pub default_permission: Level,
    /// Serve a non-loopback address without --auth (anyone who reaches the port can read and
    /// change everything). Without this flag that is refused.
    #[arg(long, env = "TRACKD_INSECURE_NO_AUTH")]
    pub insecure_no_auth: bool,
    /// Serve TLS with this PEM certificate chain (with --tls-key); reloaded on SIGHUP and
    /// when the file changes.
    #[arg(long, env = "TRACKD_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "TRACKD_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

fn parse_level(value: &str) -> Result<Level, String> {
    Level::parse(value).ok_or_else(|| format!("'{value}': expected none, read, edit or manage"))
}

impl ServerArgs {
    /// Why these settings must not be served, if they must not: a non-loopback address
    /// without authentication (unless `--insecure-no-auth`).
    pub fn refusal(&self) -> Option<String> {
        (!self.host.is_loopback() && !self.auth && !self.insecure_no_auth).then(|| {
            format!(
                "refusing to listen on {} without authentication: anyone who can reach the port \
                 could read and change every experiment. Use --auth (with TRACKD_ADMIN_USERNAME \
                 and TRACKD_ADMIN_PASSWORD for the first administrator), bind 127.0.0.1, or pass \
                 --insecure-no-auth if something in front of trackd authenticates.",
                self.host
            )
        })
    }

    /// The socket address to bind.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }

    /// The PostgreSQL store named by --backend-store-uri, if it names one.
    pub fn postgres_config(&self) -> Option<PgConfig> {
        let uri = self
            .backend_store_uri
            .as_deref()
            .filter(|u| is_postgres_uri(u))?;
        let mut c = PgConfig::new(uri);
        c.spill_dir = self.store.join("tmp");
        c.stream_retention = self.stream_retention();
        Some(c)
    }

    /// The sled store's directory: --backend-store-uri when it names a directory
    /// (`file://` or a path), else --store.
    pub fn store_dir(&self) -> PathBuf {
        match self.backend_store_uri.as_deref() {
            Some(uri) if !is_postgres_uri(uri) => {
                PathBuf::from(uri.strip_prefix("file://").unwrap_or(uri))
            }
            _ => self.store.clone(),
        }
    }

    /// Store settings.
    pub fn store_config(&self) -> StoreConfig {
        let mut c = StoreConfig::new(self.store_dir());
        c.durability = match self.durability {
            DurabilityArg::Durable => Durability::Durable,
            DurabilityArg::Buffered => Durability::Buffered,
        };
        c.cache_bytes = self.cache_mb << 20;
        c.min_free_bytes = self.min_free_mb << 20;
        c.stream_retention = self.stream_retention();
        c
    }

    /// How long a LogStream's sequence record is kept: at least an hour (clients start a
    /// new stream after 30 idle minutes, and a stream whose record is gone must start over
    /// at seq 1).
    fn stream_retention(&self) -> Duration {
        Duration::from_secs(self.stream_retention_hours.max(1).saturating_mul(3600))
    }

    /// The sizes `--memory-budget-mb` sets.
    pub fn memory_budget(&self) -> crate::memory::MemoryBudget {
        crate::memory::MemoryBudget::from_mb(self.memory_budget_mb)
    }

    /// Serving settings.
    pub fn serve_options(&self) -> ServeOptions {
        ServeOptions {
            grpc: GrpcOptions {
                stream_idle_timeout: Duration::from_secs(self.stream_idle_timeout_secs.max(1)),
                ..GrpcOptions::default()
            },
            shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
            connections: ConnectionLimits {
                max_connections: self.max_connections.max(1),
                header_timeout: Duration::from_secs(self.header_timeout_secs.max(1)),
                body_timeout: Duration::from_secs(self.body_timeout_secs.max(1)),
                max_concurrent_streams: self.max_concurrent_streams.max(1),
                stream_window: self.memory_budget().stream_window,
                connection_window: self.memory_budget().connection_window,
                ..ConnectionLimits::default()
            },
            tls: None,
        }
    }

    /// The TLS acceptor of `--tls-cert`/`--tls-key`, if given.
    pub fn tls(&self) -> Result<Option<crate::tls::Tls>, crate::tls::TlsError> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => crate::tls::Tls::load(crate::tls::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            })
            .map(Some),
            _ => Ok(None),
        }
    }

    /// Largest artifact file accepted, in bytes.
    pub fn max_artifact_bytes(&self) -> u64 {
        self.max_artifact_mb.saturating_mul(1 << 20)
    }
}
