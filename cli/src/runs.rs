//! `trackd runs list|describe|delete|restore`.

use clap::Subcommand;
use futures::{StreamExt, TryStreamExt};
use serde_json::{json, Value};
use trackd_client::{Run, RunView};

use crate::exit::{Failure, Outcome};
use crate::output::{self, Table, Tone};
use crate::target::{self, Target};

/// Run commands.
#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// Search runs: MLflow's filter language and ordering, chosen columns.
    List {
        /// Experiment id or name (repeat for several; default: the `Default` experiment).
        #[arg(long, short = 'e')]
        experiment: Vec<String>,
        /// Filter, e.g. `metrics.loss < 0.5 AND params.optimizer = 'adam'`.
        #[arg(long, default_value = "")]
        filter: String,
        /// Ordering clause, e.g. `metrics.loss ASC` (repeat for ties).
        #[arg(long)]
        order_by: Vec<String>,
        /// Extra columns, comma-separated: `metrics.loss,params.lr,tags.team`.
        #[arg(long, value_delimiter = ',')]
        columns: Vec<String>,
        /// Most runs to print (every matching run is streamed, a page at a time).
        #[arg(long, default_value_t = 1000)]
        max_results: usize,
        /// Which runs: active, deleted or all.
        #[arg(long, default_value = "active", value_parser = ["active", "deleted", "all"])]
        view: String,
        #[command(flatten)]
        target: Target,
    },
    /// Everything about one run: info, params, latest metrics, tags, datasets.
    Describe {
        /// The run id.
        run_id: String,
        #[command(flatten)]
        target: Target,
    },
    /// Delete a run (restorable).
    Delete {
        /// The run id.
        run_id: String,
        #[command(flatten)]
        target: Target,
    },
    /// Restore a deleted run.
    Restore {
        /// The run id.
        run_id: String,
        #[command(flatten)]
        target: Target,
    },
}

/// Runs a run command.
pub async fn run(command: RunsCommand) -> Outcome {
    match command {
        RunsCommand::List {
            experiment,
            filter,
            order_by,
            columns,
            max_results,
            view,
            target,
        } => {
            let client = target.connect().await?;
            let mut ids = Vec::new();
            for e in if experiment.is_empty() {
                vec!["0".to_owned()]
            } else {
                experiment
            } {
                ids.push(target::experiment(&client, &e).await?.experiment_id);
            }
            let columns = columns
                .iter()
                .map(|c| Column::parse(c))
                .collect::<Result<Vec<_>, _>>()?;
            let view = match view.as_str() {
                "deleted" => RunView::DeletedOnly,
                "all" => RunView::All,
                _ => RunView::ActiveOnly,
            };
            let runs: Vec<Run> = client
                .search_runs()
                .experiments(ids)
                .filter(filter)
                .order_by(order_by)
                .view(view)
                .stream()
                .take(max_results)
                .try_collect()
                .await?;
            print_runs(&target, &runs, &columns)?;
        }
        RunsCommand::Describe { run_id, target } => {
            let client = target.connect().await?;
            let run = client.get_run(&run_id).await?;
            describe(&target, &run)?;
        }
        RunsCommand::Delete { run_id, target } => {
            let client = target.connect().await?;
            client.delete_run(&run_id).await?;
            eprintln!("deleted run {run_id}");
        }
        RunsCommand::Restore { run_id, target } => {
            let client = target.connect().await?;
            client.restore_run(&run_id).await?;
            eprintln!("restored run {run_id}");
        }
    }
    Ok(())
}

/// A chosen column: `metrics.<key>`, `params.<key>` or `tags.<key>`.
struct Column {
    spec: String,
    kind: &'static str,
    key: String,
}

impl Column {
    fn parse(spec: &str) -> Result<Column, Failure> {
        let (prefix, key) = spec.split_once('.').unwrap_or(("", ""));
        let kind = match prefix {
            "metrics" | "metric" => "metrics",
            "params" | "param" => "params",
            "tags" | "tag" => "tags",
            _ => "",
        };
        if kind.is_empty() || key.is_empty() {
            return Err(Failure {
                message: format!(
                    "column '{spec}' is not metrics.<key>, params.<key> or tags.<key>"
                ),
                code: 2,
            });
        }
        Ok(Column {
            spec: spec.to_owned(),
            kind,
            key: key.to_owned(),
        })
    }

    fn value(&self, run: &Run) -> Option<String> {
        match self.kind {
            "metrics" => run.data.metrics.get(&self.key).map(|m| m.value.to_string()),
            "params" => run.data.params.get(&self.key).cloned(),
            _ => run.data.tags.get(&self.key).cloned(),
        }
    }
}

fn status(run: &Run) -> String {
    run.info.status.as_str().to_owned()
}

fn print_runs(target: &Target, runs: &[Run], columns: &[Column]) -> std::io::Result<()> {
    let mut headers = vec!["run_id", "name", "status", "start", "duration"];
    headers.extend(columns.iter().map(|c| c.spec.as_str()));
    let mut table = Table::new(headers);
    for run in runs {
        let status = status(run);
        let duration = run
            .info
            .end_time
            .map(|e| format!("{:.1}s", (e - run.info.start_time) as f64 / 1000.0))
            .unwrap_or_default();
        let mut row = vec![
            (run.info.run_id.clone(), Tone::Plain),
            (run.info.run_name.clone(), Tone::Plain),
            (status.clone(), Tone::of_status(&status)),
            (output::time(Some(run.info.start_time)), Tone::Plain),
            (duration, Tone::Plain),
        ];
        for c in columns {
            row.push(match c.value(run) {
                Some(v) => (v, Tone::Plain),
                None => (String::new(), Tone::Dim),
            });
        }
        table.toned_row(row);
    }
    let json = Value::Array(runs.iter().map(run_json).collect());
    output::print(target.format(), &table, json)
}

fn run_json(run: &Run) -> Value {
    json!({
        "info": {
            "run_id": run.info.run_id,
            "run_name": run.info.run_name,
            "experiment_id": run.info.experiment_id,
            "user_id": run.info.user_id,
            "status": run.info.status.as_str(),
            "start_time": run.info.start_time,
            "end_time": run.info.end_time,
            "artifact_uri": run.info.artifact_uri,
            "lifecycle_stage": if run.info.deleted { "deleted" } else { "active" },
        },
        "data": {
            "metrics": run.data.metrics.iter().map(|(k, m)| (k.clone(), json!({"value": number(m.value), "step": m.step, "timestamp": m.timestamp}))).collect::<serde_json::Map<_, _>>(),
            "params": run.data.params,
            "tags": run.data.tags,
        },
        "inputs": {
            "datasets": run.datasets.iter().map(|d| json!({"name": d.dataset.name, "digest": d.dataset.digest, "source_type": d.dataset.source_type, "tags": d.tags})).collect::<Vec<_>>(),
        },
    })
}

/// A metric value in JSON: NaN and infinities as MLflow's strings.
fn number(v: f64) -> Value {
    if v.is_finite() {
        json!(v)
    } else if v.is_nan() {
        json!("NaN")
    } else if v > 0.0 {
        json!("Infinity")
    } else {
        json!("-Infinity")
    }
}

fn describe(target: &Target, run: &Run) -> std::io::Result<()> {
    let mut table = Table::new(["section", "key", "value"]);
    let info = [
        ("run_id", run.info.run_id.clone()),
        ("name", run.info.run_name.clone()),
        ("experiment_id", run.info.experiment_id.clone()),
        ("status", status(run)),
        ("start", output::time(Some(run.info.start_time))),
        ("end", output::time(run.info.end_time)),
        ("user", run.info.user_id.clone()),
        ("artifact_uri", run.info.artifact_uri.clone()),
        (
            "lifecycle",
            if run.info.deleted {
                "deleted"
            } else {
                "active"
            }
            .to_owned(),
        ),
    ];
    for (k, v) in info {
        table.row(["info".to_owned(), k.to_owned(), v]);
    }
    for (k, v) in &run.data.params {
        table.row(["param".to_owned(), k.clone(), v.clone()]);
    }
    for (k, m) in &run.data.metrics {
        table.row([
            "metric".to_owned(),
            k.clone(),
            format!("{} (step {})", m.value, m.step),
        ]);
    }
    for (k, v) in &run.data.tags {
        table.row(["tag".to_owned(), k.clone(), v.clone()]);
    }
    for d in &run.datasets {
        table.row([
            "dataset".to_owned(),
            d.dataset.name.clone(),
            d.dataset.digest.clone(),
        ]);
    }
    output::print(target.format(), &table, run_json(run))
}
