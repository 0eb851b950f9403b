//! `trackd metrics history RUN KEY`: every point of a series, streamed in step order (a
//! series of any length, a bounded piece at a time).

use std::io::Write;

use clap::Subcommand;
use futures::TryStreamExt;

use crate::exit::Outcome;
use crate::output::{self, Format};
use crate::target::Target;

/// Metric commands.
#[derive(Debug, Subcommand)]
pub enum MetricsCommand {
    /// Print a metric's history (step, timestamp, value), in step order.
    History {
        /// The run id.
        run_id: String,
        /// The metric key.
        key: String,
        #[command(flatten)]
        target: Target,
    },
}

/// Runs a metric command.
pub async fn run(command: MetricsCommand) -> Outcome {
    let MetricsCommand::History {
        run_id,
        key,
        target,
    } = command;
    let client = target.connect().await?;
    let run = client.get_run(&run_id).await?;
    if !run.data.metrics.contains_key(&key) {
        return Err(crate::exit::Failure::not_found(format!(
            "run {run_id} has no metric '{key}'"
        )));
    }
    let mut pieces = client.metric_history_stream(&run_id, &key).await?;
    let format = target.format();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut first = true;
    match format {
        Format::Csv => writeln!(out, "step,timestamp,value")?,
        Format::Json => write!(out, "[")?,
        Format::Table => {
            let header = format!("{:>12}  {:<19}  value", "step", "time (UTC)");
            if output::colour_stdout() {
                writeln!(out, "\x1b[1m{header}\x1b[0m")?;
            } else {
                writeln!(out, "{header}")?;
            }
        }
    }
    while let Some(piece) = pieces.try_next().await? {
        for ((step, ts), value) in piece.steps.iter().zip(&piece.timestamps).zip(&piece.values) {
            match format {
                Format::Csv => writeln!(out, "{step},{ts},{value}")?,
                Format::Json => {
                    let value = if value.is_finite() {
                        value.to_string()
                    } else {
                        format!("\"{}\"", mlflow_name(*value))
                    };
                    write!(
                        out,
                        "{}\n  {{\"step\": {step}, \"timestamp\": {ts}, \"value\": {value}}}",
                        if first { "" } else { "," }
                    )?;
                }
                Format::Table => {
                    writeln!(out, "{step:>12}  {:<19}  {value}", output::time(Some(*ts)))?
                }
            }
            first = false;
        }
    }
    if format == Format::Json {
        writeln!(out, "{}]", if first { "" } else { "\n" })?;
    }
    out.flush()?;
    Ok(())
}

/// MLflow's names of non-finite values.
fn mlflow_name(v: f64) -> &'static str {
    if v.is_nan() {
        "NaN"
    } else if v > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    }
}
