//! MLflow's tracking endpoints: experiments, runs, metrics. Each takes its request struct
//! from [`super::requests`] and answers MLflow's JSON.

use axum::response::Response;
use serde_json::{json, Value};

use super::requests::run_id;
use super::requests::{
    CreateExperiment, CreateRun, ExperimentByName, ExperimentRef, ExperimentTag, GetHistory,
    GetHistoryBulkInterval, LogBatch, LogInputs, LogMetric, LogModel, LogOutputs, RunKeyValue,
    RunRef, SearchExperiments, SearchRuns, UpdateExperiment, UpdateRun,
};
use super::{json as out, streamed, Answer};
use crate::domain::Caller;
use crate::error::Result;
use crate::tracker::{
    ExperimentSearch, HistoryRead, NewRun, RunSearch, RunUpdate, SampledHistory, Tracker,
};

/// Points per chunk of a streamed REST history: JSON takes ~75 bytes a point, so a chunk
/// is ~600 KB and a request holds a few MB whatever the series' length.
const REST_HISTORY_BLOCK_POINTS: usize = 8192;

fn page_token_out(mut body: Value, token: String) -> Value {
    if !token.is_empty() {
        body["next_page_token"] = json!(token);
    }
    body
}

/// `{name: [items]}`, or `{}` when there are none (MLflow omits empty lists).
fn list_body(name: &str, items: Vec<Value>) -> Value {
    if items.is_empty() {
        json!({})
    } else {
        json!({ name: items })
    }
}

// --- experiments ----------------------------------------------------------------------------

pub async fn create_experiment(t: Tracker, c: Caller, r: CreateExperiment) -> Result<Value> {
    let name = r.name.required("name")?;
    let tags = super::fields::pairs(r.tags)?;
    let id = t
        .create_experiment(&c, &name, &r.artifact_location.or_default(), tags)
        .await?;
    Ok(json!({"experiment_id": id.to_string()}))
}

pub async fn get_experiment(t: Tracker, c: Caller, r: ExperimentRef) -> Result<Value> {
    let exp = t.get_experiment(&c, &r.id()?).await?;
    Ok(json!({"experiment": out::experiment(&exp)}))
}

pub async fn get_experiment_by_name(t: Tracker, c: Caller, r: ExperimentByName) -> Result<Value> {
    let name = r.experiment_name.required("experiment_name")?;
    let exp = t.get_experiment_by_name(&c, &name).await?;
    Ok(json!({"experiment": out::experiment(&exp)}))
}

pub async fn search_experiments(t: Tracker, c: Caller, r: SearchExperiments) -> Result<Value> {
    let search = ExperimentSearch {
        filter: r.filter.or_default(),
        view: r.view_type.0,
        max_results: r.max_results.0.unwrap_or(0),
        order_by: r.order_by.strings(),
        page_token: r.page_token.or_default(),
    };
    let page = t.search_experiments(&c, search).await?;
    let items = page.items.iter().map(out::experiment).collect();
    Ok(page_token_out(
        list_body("experiments", items),
        page.next_page_token,
    ))
}

pub async fn update_experiment(t: Tracker, c: Caller, r: UpdateExperiment) -> Result<Value> {
    let id = r.experiment_id.required("experiment_id")?;
    t.update_experiment(&c, &id, &r.new_name.or_default())
        .await?;
    Ok(json!({}))
}

pub async fn delete_experiment(t: Tracker, c: Caller, r: ExperimentRef) -> Result<Value> {
    t.delete_experiment(&c, &r.id()?).await?;
    Ok(json!({}))
}

pub async fn restore_experiment(t: Tracker, c: Caller, r: ExperimentRef) -> Result<Value> {
    t.restore_experiment(&c, &r.id()?).await?;
    Ok(json!({}))
}

/// trackd's own: a consistent backup of the live store, named (it is written next to the
/// store, under `backups/<name>`).
pub async fn create_backup(
    t: Tracker,
    c: Caller,
    r: super::requests::CreateBackup,
) -> Result<Value> {
    let report = t.backup(&c, &r.name.required("name")?).await?;
    Ok(json!({
        "path": report.path.display().to_string(),
        "database_entries": report.database.entries,
        "database_bytes": report.database.bytes,
        "writes_waited_seconds": report.database.seconds,
        "artifact_files": report.artifact_files,
        "artifact_bytes": report.artifact_bytes,
    }))
}

pub async fn set_experiment_tag(t: Tracker, c: Caller, r: ExperimentTag) -> Result<Value> {
    let id = r.experiment_id.required("experiment_id")?;
    let key = r.key.required("key")?;
    t.set_experiment_tag(&c, &id, &key, &r.value.or_default())
        .await?;
    Ok(json!({}))
}

pub async fn delete_experiment_tag(t: Tracker, c: Caller, r: ExperimentTag) -> Result<Value> {
    let id = r.experiment_id.required("experiment_id")?;
    t.delete_experiment_tag(&c, &id, &r.key.required("key")?)
        .await?;
    Ok(json!({}))
}

// --- runs -----------------------------------------------------------------------------------

pub async fn create_run(t: Tracker, c: Caller, r: CreateRun) -> Result<Value> {
    let new = NewRun {
        experiment_id: r.experiment_id.or_default(),
        user_id: r.user_id.or_default(),
        run_name: r.run_name.or_default(),
        start_time: r.start_time.0,
        tags: super::fields::pairs(r.tags)?,
    };
    let run = t.create_run(&c, new).await?;
    Ok(json!({"run": out::run(&run)}))
}

pub async fn get_run(t: Tracker, c: Caller, r: RunRef) -> Result<Value> {
    let run = t.get_run(&c, &r.id()?).await?;
    Ok(json!({"run": out::run(&run)}))
}

pub async fn update_run(t: Tracker, c: Caller, r: UpdateRun) -> Result<Value> {
    let run_id = run_id(r.run_id, r.run_uuid)?;
    let update = RunUpdate {
        status: r.status.0,
        end_time: r.end_time.0,
        run_name: r.run_name.0,
    };
    let info = t.update_run(&c, &run_id, update).await?;
    Ok(json!({"run_info": out::run_info(&info)}))
}

pub async fn delete_run(t: Tracker, c: Caller, r: RunRef) -> Result<Value> {
    t.delete_run(&c, &r.run_id.required("run_id")?).await?;
    Ok(json!({}))
}

pub async fn restore_run(t: Tracker, c: Caller, r: RunRef) -> Result<Value> {
    t.restore_run(&c, &r.run_id.required("run_id")?).await?;
    Ok(json!({}))
}

pub async fn search_runs(t: Tracker, c: Caller, r: SearchRuns) -> Result<Response> {
    let search = RunSearch {
        experiment_ids: r.experiment_ids.strings(),
        filter: r.filter.or_default(),
        view: r.run_view_type.0,
        max_results: r.max_results.0.unwrap_or(0),
        order_by: r.order_by.strings(),
        page_token: r.page_token.or_default(),
    };
    let page = t.search_runs(&c, search).await?;
    Ok(streamed::runs_page(page.items, page.next_page_token))
}

pub async fn log_metric(t: Tracker, c: Caller, r: LogMetric) -> Result<Value> {
    let (run_id, key, point, for_model) = r.into_parts()?;
    t.log_metric(&c, &run_id, &key, point).await?;
    if let Some(m) = for_model {
        t.log_model_metrics(&c, vec![m]).await?;
    }
    Ok(json!({}))
}

pub async fn log_param(t: Tracker, c: Caller, r: RunKeyValue) -> Result<Value> {
    let key = r.key.required("key")?;
    let value = r.value.required("value")?;
    t.log_param(&c, &run_id(r.run_id, r.run_uuid)?, &key, &value)
        .await?;
    Ok(json!({}))
}

pub async fn set_tag(t: Tracker, c: Caller, r: RunKeyValue) -> Result<Value> {
    let key = r.key.required("key")?;
    t.set_tag(
        &c,
        &run_id(r.run_id, r.run_uuid)?,
        &key,
        &r.value.or_default(),
    )
    .await?;
    Ok(json!({}))
}

pub async fn delete_tag(t: Tracker, c: Caller, r: RunKeyValue) -> Result<Value> {
    let run_id = r.run_id.required("run_id")?;
    t.delete_tag(&c, &run_id, &r.key.required("key")?).await?;
    Ok(json!({}))
}

/// The hot route: the body is decoded straight into [`LogBatch`].
pub async fn log_batch(t: Tracker, c: Caller, r: LogBatch) -> Result<Value> {
    let parts = r.into_parts()?;
    // Every named model must exist before anything is written (each checked once).
    let models: std::collections::BTreeSet<&str> = parts
        .model_metrics
        .iter()
        .map(|m| m.model_id.as_str())
        .collect();
    for model_id in models {
        t.get_logged_model(&c, model_id, false).await?;
    }
    t.log_batch(&c, &parts.run_id, parts.writes).await?;
    if !parts.model_metrics.is_empty() {
        t.log_model_metrics(&c, parts.model_metrics).await?;
    }
    Ok(json!({}))
}

pub async fn log_inputs(t: Tracker, c: Caller, r: LogInputs) -> Result<Value> {
    let (run_id, inputs) = r.into_parts()?;
    t.log_inputs(&c, &run_id, inputs).await?;
    Ok(json!({}))
}

pub async fn log_outputs(t: Tracker, c: Caller, r: LogOutputs) -> Result<Value> {
    let (run_id, outputs) = r.into_parts()?;
    t.log_outputs(&c, &run_id, outputs).await?;
    Ok(json!({}))
}

pub async fn log_model(t: Tracker, c: Caller, r: LogModel) -> Result<Value> {
    let (run_id, model_json) = r.into_parts()?;
    t.log_model(&c, &run_id, &model_json).await?;
    Ok(json!({}))
}

// --- metrics --------------------------------------------------------------------------------

/// A whole history (no `max_results`) is streamed, so its size does not matter; pages are
/// answered at once.
pub async fn get_history(t: Tracker, c: Caller, r: GetHistory) -> Result<Response> {
    let key = r.metric_key.required("metric_key")?;
    let run_id = run_id(r.run_id, r.run_uuid)?;
    let page_token = r.page_token.or_default();
    let max_results = r.max_results.0.unwrap_or(0);
    if max_results == 0 && page_token.is_empty() {
        let blocks = t
            .history_blocks(
                &c,
                HistoryRead {
                    run_id,
                    key: key.clone(),
                    start_step: None,
                    end_step: None,
                    block_points: REST_HISTORY_BLOCK_POINTS,
                },
            )
            .await?;
        return Ok(streamed::history(&key, blocks));
    }
    let page = t
        .metric_history(&c, &run_id, &key, &page_token, max_results)
        .await?;
    let metrics = page.items.iter().map(|p| out::metric(&key, p)).collect();
    Ok(page_token_out(list_body("metrics", metrics), page.next_page_token).answer())
}

pub async fn get_history_bulk_interval(
    t: Tracker,
    c: Caller,
    r: GetHistoryBulkInterval,
) -> Result<Value> {
    let request = SampledHistory::bulk_interval(
        r.run_ids.strings(),
        r.metric_key.required("metric_key")?,
        r.start_step.0,
        r.end_step.0,
        r.max_results.0,
    )?;
    let series = t.sampled_history(&c, request).await?;
    let metrics = series
        .iter()
        .flat_map(|s| {
            s.points.iter().map(move |p| {
                let mut m = out::metric(&s.key, p);
                m["run_id"] = json!(s.run_id.to_string());
                m
            })
        })
        .collect();
    Ok(list_body("metrics", metrics))
}
