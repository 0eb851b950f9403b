//! `trackd gc`: removes deleted runs and experiments for good, with their metrics and
//! artifacts (MLflow's `mlflow gc`). It opens the store directory itself, so it refuses to
//! run while a server holds the store (stop the server first).

use std::path::PathBuf;

use serde_json::json;
use trackd_server::domain::Caller;
use trackd_server::tracker::GcRequest;
use trackd_server::{Store, StoreConfig, Tracker};

use crate::exit::{Failure, Outcome};
use crate::output::{self, Format, Table};

/// `trackd gc` options.
#[derive(Debug, clap::Args)]
pub struct GcArgs {
    /// The store directory (as `trackd server --store`).
    #[arg(long, env = "TRACKD_STORE", default_value = "./mlruns")]
    store: PathBuf,
    /// Where the server keeps artifact files (as `trackd server --artifacts-destination`).
    #[arg(long, env = "TRACKD_ARTIFACTS_DESTINATION")]
    artifacts_destination: Option<String>,
    /// Only what was deleted (experiments) or ended (runs) at least this long ago: `30d`,
    /// `12h`, `45m`, `90s`.
    #[arg(long, value_parser = parse_age)]
    older_than: Option<i64>,
    /// Only these deleted experiments (comma-separated ids), with all their runs.
    #[arg(long, value_delimiter = ',')]
    experiment_ids: Vec<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// `30d`, `12h`, `45m`, `90s` (or plain seconds) in milliseconds.
fn parse_age(s: &str) -> Result<i64, String> {
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = number
        .parse()
        .map_err(|_| format!("'{s}' is not an age like 30d, 12h, 45m or 90s"))?;
    let seconds = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("'{s}': the unit is one of s, m, h, d")),
    };
    n.checked_mul(seconds * 1000)
        .ok_or_else(|| format!("'{s}' is too long"))
}

/// Runs `trackd gc`.
pub async fn run(args: GcArgs) -> Outcome {
    if !args.store.join("db").is_dir() {
        return Err(Failure::not_found(format!(
            "no trackd store at {} (no db/ in it)",
            args.store.display()
        )));
    }
    // The database and the chunk log beside it.
    let store_bytes = |store: &std::path::Path| {
        crate::files::tree(&store.join("db")).1 + crate::files::tree(&store.join("chunks")).1
    };
    let db_before = store_bytes(&args.store);
    let store = Store::open(StoreConfig::new(&args.store)).map_err(|e| Failure {
        message: e.to_string(),
        code: crate::exit::UNREACHABLE,
    })?;
    let artifacts = trackd_server::artifacts::open_destination(
        args.artifacts_destination.as_deref(),
        &store.artifact_root(),
    )
    .map_err(|e| Failure::other(e.to_string()))?;
    let tracker = Tracker::open(store)
        .map_err(|e| Failure::other(e.to_string()))?
        .with_artifact_repository(artifacts);
    let result = tracker
        .collect_garbage(
            &Caller::InProcess,
            GcRequest {
                older_than_ms: args.older_than,
                experiment_ids: args.experiment_ids.clone(),
            },
        )
        .await;
    tracker
        .close()
        .await
        .map_err(|e| Failure::other(e.to_string()))?;
    let report = result?;
    let db_after = store_bytes(&args.store);
    let mut table = Table::new(["what", "count"]);
    table.row(["runs removed".to_owned(), report.runs.len().to_string()]);
    table.row([
        "experiments removed".to_owned(),
        report.experiments.len().to_string(),
    ]);
    table.row([
        "artifact bytes freed".to_owned(),
        report.artifact_bytes.to_string(),
    ]);
    table.row(["database bytes before".to_owned(), db_before.to_string()]);
    table.row(["database bytes after".to_owned(), db_after.to_string()]);
    let json = json!({
        "runs": report.runs,
        "experiments": report.experiments,
        "artifact_bytes_freed": report.artifact_bytes,
        "database_bytes_before": db_before,
        "database_bytes_after": db_after,
    });
    let format = Format::json_or_table(args.json);
    output::print(format, &table, json)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_have_units() {
        assert_eq!(parse_age("30d"), Ok(30 * 86_400_000));
        assert_eq!(parse_age("12h"), Ok(12 * 3_600_000));
        assert_eq!(parse_age("90"), Ok(90_000));
        assert!(parse_age("3w").is_err());
        assert!(parse_age("d").is_err());
    }
}
