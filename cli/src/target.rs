//! Where a tool's data is: a server or a store directory, and experiments named by id or
//! name.

use trackd_client::{Client, Experiment};

use crate::exit::Failure;
use crate::output::Format;

/// Options every tool takes.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// A server (`http://127.0.0.1:5000`) or a store directory (opened in this process; it
    /// must not be served at the same time).
    #[arg(long, env = "MLFLOW_TRACKING_URI", default_value = "./mlruns")]
    pub tracking_uri: String,
    /// Print JSON (one document) instead of a table.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print CSV (a header line, then one line per row) instead of a table.
    #[arg(long)]
    pub csv: bool,
}

impl Target {
    /// Connects to the server, or opens the store directory.
    pub async fn connect(&self) -> Result<Client, Failure> {
        Client::connect(&self.tracking_uri).await.map_err(|e| {
            let mut failure = Failure::from(e);
            failure.code = crate::exit::UNREACHABLE;
            failure
        })
    }

    /// How results are printed.
    pub fn format(&self) -> Format {
        if self.json {
            Format::Json
        } else if self.csv {
            Format::Csv
        } else {
            Format::Table
        }
    }
}

/// An experiment by id (digits) or by name.
pub async fn experiment(client: &Client, id_or_name: &str) -> Result<Experiment, Failure> {
    if !id_or_name.is_empty() && id_or_name.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(client.get_experiment(id_or_name).await?);
    }
    client
        .get_experiment_by_name(id_or_name)
        .await?
        .ok_or_else(|| Failure::not_found(format!("no experiment named '{id_or_name}'")))
}
