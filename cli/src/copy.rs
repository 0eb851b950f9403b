//! `trackd copy --from STORE --to STORE`: moves a whole store — sled ↔ PostgreSQL, local
//! artifacts ↔ an object store — with every id kept, resumable, and verified at the end
//! (see `trackd_server::copy`). Progress goes to stderr, one line per experiment; the
//! summary and the verification to stdout.

use std::time::Instant;

use serde_json::json;
use trackd_server::copy::{self, CopyError, CopyOptions, OpenedStore, Progress, Side, StoreSpec};

use crate::exit::{Failure, Outcome};
use crate::output::{self, Format, Table};

/// `trackd copy` options.
#[derive(Debug, clap::Args)]
pub struct CopyArgs {
    /// The store to copy: a store directory (`./mlruns`) or
    /// `postgresql://USER[:PASS]@HOST[:PORT]/DB`.
    #[arg(long)]
    from: String,
    /// Where the source keeps artifacts (as its servers' `--artifacts-destination`); a store
    /// directory's default is its `artifacts` directory.
    #[arg(long)]
    from_artifacts: Option<String>,
    /// The store to copy into: a store directory (created when missing) or a PostgreSQL
    /// URI. It may hold an earlier, interrupted copy of the same source.
    #[arg(long)]
    to: String,
    /// Where the target keeps artifacts: a directory, `file://`, `s3://BUCKET/PREFIX`,
    /// `gs://…` or `az://…`; a store directory's default is its `artifacts` directory.
    #[arg(long)]
    to_artifacts: Option<String>,
    /// Skip the verification pass (reading the target back and comparing every record,
    /// point and file checksum with the source).
    #[arg(long)]
    no_verify: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

fn failure(e: CopyError) -> Failure {
    let code = match e {
        CopyError::Open { .. } => crate::exit::UNREACHABLE,
        _ => 1,
    };
    Failure {
        message: e.to_string(),
        code,
    }
}

/// Runs `trackd copy`.
pub async fn run(args: CopyArgs) -> Outcome {
    if args.from == args.to {
        return Err(Failure {
            message: "--from and --to name the same store".into(),
            code: crate::exit::REFUSED,
        });
    }
    let started = Instant::now();
    let from_spec = StoreSpec {
        tracking: args.from.clone(),
        artifacts: args.from_artifacts.clone(),
    };
    let to_spec = StoreSpec {
        tracking: args.to.clone(),
        artifacts: args.to_artifacts.clone(),
    };
    let from = OpenedStore::open(&from_spec, Side::Source)
        .await
        .map_err(failure)?;
    let to = match OpenedStore::open(&to_spec, Side::Target).await {
        Ok(to) => to,
        Err(e) => {
            let _ = from.close().await;
            return Err(failure(e));
        }
    };
    eprintln!("copying {} into {}", from.description(), to.description());
    let progress = |p: Progress| match p {
        Progress::Experiment {
            id,
            name,
            runs_copied,
            runs_already_copied,
            points,
        } => eprintln!(
            "experiment {id} '{name}': {runs_copied} run(s) copied ({points} points), \
             {runs_already_copied} already there"
        ),
        Progress::Records => eprintln!("logged models, registered models and users copied"),
        Progress::Artifacts {
            files_copied,
            bytes_copied,
        } => eprintln!("artifacts: {files_copied} file(s), {bytes_copied} bytes copied"),
    };
    let options = CopyOptions {
        verify: !args.no_verify,
    };
    let result = copy::copy(&from, &to, options, &progress).await;
    // Close both whatever happened: what was written is kept (a rerun resumes from it).
    let closed = to.close().await;
    let _ = from.close().await;
    let report = result.map_err(failure)?;
    closed.map_err(failure)?;
    let seconds = started.elapsed().as_secs_f64();

    let mut table = Table::new(["what", "copied", "already there"]);
    let rows: [(&str, u64, String); 13] = [
        ("experiments", report.experiments, String::new()),
        (
            "runs",
            report.runs_copied,
            report.runs_already_copied.to_string(),
        ),
        ("params", report.params, String::new()),
        ("tags", report.tags, String::new()),
        ("metric series", report.series, String::new()),
        ("metric points", report.points, String::new()),
        ("dataset inputs", report.dataset_inputs, String::new()),
        ("logged models", report.logged_models, String::new()),
        ("registered models", report.registered_models, String::new()),
        ("model versions", report.model_versions, String::new()),
        (
            "users / tokens / grants",
            report.users,
            format!("{} / {}", report.tokens, report.grants),
        ),
        (
            "artifact files",
            report.files_copied,
            report.files_already_copied.to_string(),
        ),
        ("artifact bytes", report.bytes_copied, String::new()),
    ];
    for (what, copied, already) in rows {
        table.row([what.to_owned(), copied.to_string(), already]);
    }
    let verification = report.verification.as_ref().map(|v| {
        json!({
            "passed": v.passed(),
            "counts": v.counts.iter().map(|c| json!({"what": c.what, "source": c.source, "target": c.target})).collect::<Vec<_>>(),
            "mismatch_count": v.mismatch_count,
            "mismatches": v.mismatches,
        })
    });
    let json = json!({
        "from": from.description(),
        "to": to.description(),
        "experiments": report.experiments,
        "runs_copied": report.runs_copied,
        "runs_already_copied": report.runs_already_copied,
        "params": report.params,
        "tags": report.tags,
        "metric_series": report.series,
        "metric_points": report.points,
        "dataset_inputs": report.dataset_inputs,
        "logged_models": report.logged_models,
        "registered_models": report.registered_models,
        "model_versions": report.model_versions,
        "users": report.users,
        "tokens": report.tokens,
        "grants": report.grants,
        "artifact_files_copied": report.files_copied,
        "artifact_files_already_copied": report.files_already_copied,
        "artifact_bytes_copied": report.bytes_copied,
        "artifacts_elsewhere": report.artifacts_elsewhere.iter().map(|(r, u)| json!({"run": r, "artifact_uri": u})).collect::<Vec<_>>(),
        "verification": verification,
        "seconds": seconds,
    });
    let format = Format::json_or_table(args.json);
    output::print(format, &table, json)?;
    if format != Format::Json {
        if let Some(v) = &report.verification {
            let mut checks = Table::new(["verified", "source", "target"]);
            for c in &v.counts {
                checks.row([
                    c.what.to_owned(),
                    c.source.to_string(),
                    c.target.to_string(),
                ]);
            }
            println!();
            output::print(Format::Table, &checks, serde_json::Value::Null)?;
        }
        for (run, uri) in &report.artifacts_elsewhere {
            eprintln!(
                "artifacts left where they are (outside the artifact root): run {run}: {uri}"
            );
        }
        eprintln!(
            "copied {} points in {seconds:.1} s ({:.0} points/s)",
            report.points,
            report.points as f64 / seconds.max(1e-9)
        );
    }
    match &report.verification {
        Some(v) if !v.passed() => {
            for m in &v.mismatches {
                eprintln!("verification: {m}");
            }
            Err(Failure::other(format!(
                "verification failed: {} record(s) or file(s) differ; run the same command again \
                 to copy them anew",
                v.mismatch_count.max(1)
            )))
        }
        Some(_) => {
            eprintln!("verification passed: the target holds everything the source does");
            Ok(())
        }
        None => Ok(()),
    }
}
