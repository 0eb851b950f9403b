//! The `trackd` command line. Every flag also reads a `TRACKD_*` environment variable.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::grpc::GrpcOptions;
use crate::server::ServeOptions;
use crate::store::{Durability, StoreConfig};

/// trackd: fast, MLflow-compatible experiment tracking.
#[derive(Debug, Parser)]
#[command(name = "trackd", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the tracking server (gRPC, HTTP health and metrics on one port).
    Server(ServerArgs),
}

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
}

impl ServerArgs {
    /// The socket address to bind.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }

    /// Store settings.
    pub fn store_config(&self) -> StoreConfig {
        let mut c = StoreConfig::new(&self.store);
        c.durability = match self.durability {
            DurabilityArg::Durable => Durability::Durable,
            DurabilityArg::Buffered => Durability::Buffered,
        };
        c.cache_bytes = self.cache_mb << 20;
        c.stream_retention = Duration::from_secs(self.stream_retention_hours.saturating_mul(3600));
        c
    }

    /// Serving settings.
    pub fn serve_options(&self) -> ServeOptions {
        ServeOptions {
            grpc: GrpcOptions {
                stream_idle_timeout: Duration::from_secs(self.stream_idle_timeout_secs.max(1)),
                ..GrpcOptions::default()
            },
            shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
        }
    }
}
