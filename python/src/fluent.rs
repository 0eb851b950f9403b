//! The MLflow-shaped module functions (`trackd.log_metric`, `trackd.start_run`, ...).
//!
//! Metric logging appends to the client's buffer under the state lock and returns: no
//! round trip, no runtime hop, the GIL kept only for argument conversion. Only a full
//! buffer (backpressure) or `synchronous=True` waits, with the GIL released. Everything
//! else is one client call on the session's runtime, GIL released.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use trackd_client::fluent::{resolve_experiment, StartRun};
use trackd_client::{RunStatus, RunView};

use crate::convert;
use crate::errors::{invalid, to_py};
use crate::session::{self, state, Handles};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A metric value: anything `float()` accepts (Python and NumPy numbers, 0-d tensors);
/// NaN and ±inf are kept, as MLflow does.
fn metric_value(key: &str, value: &Bound<'_, PyAny>) -> PyResult<f64> {
    value.extract::<f64>().map_err(|_| {
        let shown = value
            .repr()
            .map(|r| r.to_string())
            .unwrap_or_else(|_| "?".into());
        invalid(format!(
            "Got invalid value {shown} for metric '{key}' (timestamp=..., step=...). Please \
             specify value as a valid double (64-bit floating point)"
        ))
    })
}

/// A param or tag value as MLflow stores it: `str(value)`.
fn text(value: &Bound<'_, PyAny>) -> PyResult<String> {
    Ok(value.str()?.to_string())
}

/// The run to log to: `run_id`, else the active run, else a new one (as MLflow does).
fn target_run(py: Python<'_>, run_id: Option<&str>) -> PyResult<String> {
    if let Some(id) = run_id {
        return Ok(id.to_owned());
    }
    if let Some(id) = state().active_run_id() {
        return Ok(id.to_owned());
    }
    let info = start(py, StartRun::new())?;
    Ok(info.run_id)
}

/// Starts a run per `options` on top of the stack.
fn start(py: Python<'_>, options: StartRun) -> PyResult<trackd_client::RunInfo> {
    let h = session::handles(py)?;
    let (active, chosen) = {
        let s = state();
        (
            s.active_run_id().map(str::to_owned),
            s.experiment_id.clone(),
        )
    };
    let run = h
        .block_on(py, async {
            options
                .start_on(&h.client, active.as_deref(), chosen.as_deref())
                .await
        })
        .map_err(to_py)?;
    let info = run.detach().info().clone();
    let mut s = state();
    s.last_run_id = Some(info.run_id.clone());
    s.stack.push(info.clone());
    Ok(info)
}

/// Sets the tracking URI: `http://HOST:PORT` (a trackd server) or a directory (an embedded
/// store). Metrics buffered for the previous URI are flushed first.
#[pyfunction]
pub fn set_tracking_uri(py: Python<'_>, uri: &str) -> PyResult<()> {
    let old = {
        let mut s = state();
        s.tracking_uri = Some(uri.to_owned());
        s.experiment_id = None;
        s.take_session()
    };
    close(py, old)
}

/// Flushes a session's buffered points and shuts it down (GIL released).
fn close(py: Python<'_>, session: Option<Handles>) -> PyResult<()> {
    let Some(h) = session else { return Ok(()) };
    let flushed = h.block_on(py, h.client.flush());
    py.detach(move || drop(h));
    flushed.map_err(to_py)
}

/// The tracking URI in effect.
#[pyfunction]
pub fn get_tracking_uri() -> String {
    state().resolved_uri()
}

/// Makes an experiment active for new runs, by name (created if missing) or id.
#[pyfunction]
#[pyo3(signature = (experiment_name=None, experiment_id=None))]
pub fn set_experiment<'py>(
    py: Python<'py>,
    experiment_name: Option<&str>,
    experiment_id: Option<&str>,
) -> PyResult<Bound<'py, PyDict>> {
    let h = session::handles(py)?;
    let experiment = h
        .block_on(py, async {
            let id = match (experiment_name, experiment_id) {
                (Some(name), None) => h.client.get_or_create_experiment(name).await?,
                (None, Some(id)) => id.to_owned(),
                _ => {
                    return Err(trackd_client::ClientError::Usage(
                        "Must specify exactly one of: `experiment_id` or `experiment_name`.".into(),
                    ));
                }
            };
            h.client.get_experiment(&id).await
        })
        .map_err(to_py)?;
    if experiment.deleted {
        return Err(invalid(format!(
            "Cannot set a deleted experiment '{}' as the active experiment. You can restore \
             the experiment, or permanently delete the experiment to create a new one.",
            experiment.name
        )));
    }
    state().experiment_id = Some(experiment.experiment_id.clone());
    convert::experiment(py, &experiment)
}

/// Creates an experiment; returns its id.
#[pyfunction]
pub fn create_experiment(py: Python<'_>, name: &str) -> PyResult<String> {
    let h = session::handles(py)?;
    h.block_on(py, h.client.create_experiment(name))
        .map_err(to_py)
}

/// An experiment by id.
#[pyfunction]
pub fn get_experiment<'py>(py: Python<'py>, experiment_id: &str) -> PyResult<Bound<'py, PyDict>> {
    let h = session::handles(py)?;
    let e = h
        .block_on(py, h.client.get_experiment(experiment_id))
        .map_err(to_py)?;
    convert::experiment(py, &e)
}

/// An experiment by name, or `None`.
#[pyfunction]
pub fn get_experiment_by_name<'py>(
    py: Python<'py>,
    name: &str,
) -> PyResult<Option<Bound<'py, PyDict>>> {
    let h = session::handles(py)?;
    let e = h
        .block_on(py, h.client.get_experiment_by_name(name))
        .map_err(to_py)?;
    e.map(|e| convert::experiment(py, &e)).transpose()
}

/// Starts a run (or resumes `run_id`), MLflow's `start_run`; returns its info.
#[pyfunction]
#[pyo3(signature = (run_id=None, experiment_id=None, run_name=None, nested=false, tags=None))]
pub fn start_run<'py>(
    py: Python<'py>,
    run_id: Option<String>,
    experiment_id: Option<String>,
    run_name: Option<String>,
    nested: bool,
    tags: Option<BTreeMap<String, Bound<'py, PyAny>>>,
) -> PyResult<Bound<'py, PyDict>> {
    let mut options = StartRun::new().nested(nested);
    if let Some(id) = run_id {
        options = options.run_id(id);
    }
    if let Some(id) = experiment_id {
        options = options.experiment_id(id);
    }
    if let Some(name) = run_name {
        options = options.run_name(name);
    }
    for (k, v) in tags.unwrap_or_default() {
        options = options.tag(k, text(&v)?);
    }
    let info = start(py, options)?;
    convert::run_info(py, &info)
}

/// Ends the innermost active run with `status` after its points are acknowledged. No-op
/// without an active run.
#[pyfunction]
#[pyo3(signature = (status="FINISHED"))]
pub fn end_run(py: Python<'_>, status: &str) -> PyResult<()> {
    let status: RunStatus = status.parse().map_err(invalid)?;
    let Some(run) = state().stack.pop() else {
        return Ok(());
    };
    let h = session::handles(py)?;
    h.block_on(py, async {
        let flushed = h.client.flush_run(&run.run_id).await;
        h.client
            .update_run_status(&run.run_id, status, Some(now_ms()))
            .await?;
        flushed
    })
    .map_err(to_py)
}

/// The innermost active run's info (as started), or `None`.
#[pyfunction]
pub fn active_run<'py>(py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
    let info = state().stack.last().cloned();
    info.map(|i| convert::run_info(py, &i)).transpose()
}

/// The id of the last run started in this process.
#[pyfunction]
pub fn last_active_run_id() -> Option<String> {
    state().last_run_id.clone()
}

/// Buffers one metric point (MLflow's `log_metric`): returns as soon as the point is in the
/// buffer. `synchronous=True` also waits until it is durable.
#[pyfunction]
#[pyo3(signature = (key, value, step=None, timestamp=None, run_id=None, synchronous=None))]
pub fn log_metric(
    py: Python<'_>,
    key: &str,
    value: &Bound<'_, PyAny>,
    step: Option<i64>,
    timestamp: Option<i64>,
    run_id: Option<&str>,
    synchronous: Option<bool>,
) -> PyResult<()> {
    let value = metric_value(key, value)?;
    log_points(
        py,
        &[(key, value)],
        step.unwrap_or(0),
        timestamp.unwrap_or_else(now_ms),
        run_id,
        synchronous.unwrap_or(false),
    )
}

/// Buffers several metrics at one step (MLflow's `log_metrics`).
#[pyfunction]
#[pyo3(signature = (metrics, step=None, timestamp=None, run_id=None, synchronous=None))]
pub fn log_metrics(
    py: Python<'_>,
    metrics: &Bound<'_, PyDict>,
    step: Option<i64>,
    timestamp: Option<i64>,
    run_id: Option<&str>,
    synchronous: Option<bool>,
) -> PyResult<()> {
    let mut owned: Vec<(String, f64)> = Vec::with_capacity(metrics.len());
    for (k, v) in metrics.iter() {
        let key: String = k
            .extract()
            .map_err(|_| invalid("metric keys must be strings"))?;
        let value = metric_value(&key, &v)?;
        owned.push((key, value));
    }
    let points: Vec<(&str, f64)> = owned.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    log_points(
        py,
        &points,
        step.unwrap_or(0),
        timestamp.unwrap_or_else(now_ms),
        run_id,
        synchronous.unwrap_or(false),
    )
}

/// The fast path (buffer under the state lock) and its fallbacks: no session or run yet,
/// a full buffer, `synchronous`.
fn log_points(
    py: Python<'_>,
    points: &[(&str, f64)],
    step: i64,
    timestamp: i64,
    run_id: Option<&str>,
    synchronous: bool,
) -> PyResult<()> {
    let buffered = {
        let s = state();
        match (s.client(), run_id.or(s.active_run_id())) {
            (Some(client), Some(run)) => client
                .try_log_metrics(run, points, step, timestamp)
                .map_err(to_py)?,
            _ => false,
        }
    };
    if buffered && !synchronous {
        return Ok(());
    }
    let run = target_run(py, run_id)?;
    let h = session::handles(py)?;
    h.block_on(py, async {
        if !buffered {
            h.client.log_metrics(&run, points, step, timestamp).await?;
        }
        if synchronous {
            h.client.flush_run(&run).await?;
        }
        Ok(())
    })
    .map_err(to_py)
}

/// Buffers a whole series of one key: little-endian int64 `steps`, float64 `values` and
/// optional int64 `timestamps` (default: now), as bytes (`trackd.log_metric_series`
/// converts arrays).
#[pyfunction]
#[pyo3(signature = (key, steps, values, timestamps=None, run_id=None, synchronous=None))]
pub fn log_metric_series_bytes(
    py: Python<'_>,
    key: &str,
    steps: &[u8],
    values: &[u8],
    timestamps: Option<&[u8]>,
    run_id: Option<&str>,
    synchronous: Option<bool>,
) -> PyResult<()> {
    let steps = convert::from_le_bytes(steps, "steps", i64::from_le_bytes)?;
    let values = convert::from_le_bytes(values, "values", f64::from_le_bytes)?;
    let timestamps = match timestamps {
        Some(t) => convert::from_le_bytes(t, "timestamps", i64::from_le_bytes)?,
        None => vec![now_ms(); values.len()],
    };
    let run = target_run(py, run_id)?;
    let h = session::handles(py)?;
    h.block_on(py, async {
        h.client
            .log_metric_series(&run, key, &steps, &timestamps, &values)
            .await?;
        if synchronous == Some(true) {
            h.client.flush_run(&run).await?;
        }
        Ok(())
    })
    .map_err(to_py)
}

/// Logs params and tags in one request to `run_id` or the active run.
fn log_params_tags(
    py: Python<'_>,
    run_id: Option<&str>,
    params: Vec<(String, String)>,
    tags: Vec<(String, String)>,
) -> PyResult<()> {
    let run = target_run(py, run_id)?;
    let h = session::handles(py)?;
    h.block_on(py, h.client.log_params_and_tags(&run, params, tags))
        .map_err(to_py)
}

fn pairs(items: &Bound<'_, PyDict>) -> PyResult<Vec<(String, String)>> {
    items
        .iter()
        .map(|(k, v)| Ok((text(&k)?, text(&v)?)))
        .collect()
}

/// Logs a param (write-once; `str(value)`), returns the value.
#[pyfunction]
#[pyo3(signature = (key, value, run_id=None))]
pub fn log_param<'py>(
    py: Python<'py>,
    key: &str,
    value: Bound<'py, PyAny>,
    run_id: Option<&str>,
) -> PyResult<Bound<'py, PyAny>> {
    log_params_tags(py, run_id, vec![(key.to_owned(), text(&value)?)], vec![])?;
    Ok(value)
}

/// Logs several params in one request.
#[pyfunction]
#[pyo3(signature = (params, run_id=None))]
pub fn log_params(
    py: Python<'_>,
    params: &Bound<'_, PyDict>,
    run_id: Option<&str>,
) -> PyResult<()> {
    log_params_tags(py, run_id, pairs(params)?, vec![])
}

/// Sets a tag (`str(value)`).
#[pyfunction]
#[pyo3(signature = (key, value, run_id=None))]
pub fn set_tag(
    py: Python<'_>,
    key: &str,
    value: &Bound<'_, PyAny>,
    run_id: Option<&str>,
) -> PyResult<()> {
    log_params_tags(py, run_id, vec![], vec![(key.to_owned(), text(value)?)])
}

/// Sets several tags in one request.
#[pyfunction]
#[pyo3(signature = (tags, run_id=None))]
pub fn set_tags(py: Python<'_>, tags: &Bound<'_, PyDict>, run_id: Option<&str>) -> PyResult<()> {
    log_params_tags(py, run_id, vec![], pairs(tags)?)
}

/// Deletes a tag of `run_id` or the active run.
#[pyfunction]
#[pyo3(signature = (key, run_id=None))]
pub fn delete_tag(py: Python<'_>, key: &str, run_id: Option<&str>) -> PyResult<()> {
    let run = target_run(py, run_id)?;
    let h = session::handles(py)?;
    h.block_on(py, h.client.delete_tag(&run, key))
        .map_err(to_py)
}

/// Uploads a file under `artifact_path`.
#[pyfunction]
#[pyo3(signature = (local_path, artifact_path=None, run_id=None))]
pub fn log_artifact(
    py: Python<'_>,
    local_path: PathBuf,
    artifact_path: Option<&str>,
    run_id: Option<&str>,
) -> PyResult<()> {
    let run = target_run(py, run_id)?;
    let h = session::handles(py)?;
    h.block_on(py, h.client.log_artifact(&run, &local_path, artifact_path))
        .map_err(to_py)
}

/// Uploads a directory's files under `artifact_path`.
#[pyfunction]
#[pyo3(signature = (local_dir, artifact_path=None, run_id=None))]
pub fn log_artifacts(
    py: Python<'_>,
    local_dir: PathBuf,
    artifact_path: Option<&str>,
    run_id: Option<&str>,
) -> PyResult<()> {
    let run = target_run(py, run_id)?;
    let h = session::handles(py)?;
    h.block_on(py, h.client.log_artifacts(&run, &local_dir, artifact_path))
        .map_err(to_py)
}

/// Lists a run's artifacts under `path`.
#[pyfunction]
#[pyo3(signature = (run_id, path=None))]
pub fn list_artifacts<'py>(
    py: Python<'py>,
    run_id: &str,
    path: Option<&str>,
) -> PyResult<Bound<'py, PyList>> {
    let h = session::handles(py)?;
    let files = h
        .block_on(
            py,
            h.client.list_artifacts(run_id, path.unwrap_or(""), false),
        )
        .map_err(to_py)?;
    let out = PyList::empty(py);
    for f in &files {
        out.append(convert::file_info(py, f)?)?;
    }
    Ok(out)
}

/// Downloads a run's artifact (file or directory) into `dst_path`; returns the local path.
#[pyfunction]
#[pyo3(signature = (run_id, artifact_path, dst_path))]
pub fn download_artifacts(
    py: Python<'_>,
    run_id: &str,
    artifact_path: &str,
    dst_path: PathBuf,
) -> PyResult<PathBuf> {
    let h = session::handles(py)?;
    h.block_on(
        py,
        h.client
            .download_artifacts(run_id, artifact_path, &dst_path),
    )
    .map_err(to_py)
}

/// A run with its latest metrics, params and tags.
#[pyfunction]
pub fn get_run<'py>(py: Python<'py>, run_id: &str) -> PyResult<Bound<'py, PyDict>> {
    let h = session::handles(py)?;
    let run = h.block_on(py, h.client.get_run(run_id)).map_err(to_py)?;
    convert::run(py, &run)
}

/// Every point of a series as byte columns (see `convert::columns`).
#[pyfunction]
pub fn metric_history_columns<'py>(
    py: Python<'py>,
    run_id: &str,
    key: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let h = session::handles(py)?;
    let columns = h
        .block_on(py, h.client.metric_history_columns(run_id, key))
        .map_err(to_py)?;
    convert::columns(py, &columns)
}

/// Runs matching `filter_string` in `experiment_ids` (default: the active experiment), in
/// `order_by` order, at most `max_results`.
#[pyfunction]
#[pyo3(signature = (experiment_ids=None, filter_string="", order_by=None, max_results=None, run_view_type="ACTIVE_ONLY"))]
pub fn search_runs<'py>(
    py: Python<'py>,
    experiment_ids: Option<Vec<String>>,
    filter_string: &str,
    order_by: Option<Vec<String>>,
    max_results: Option<usize>,
    run_view_type: &str,
) -> PyResult<Bound<'py, PyList>> {
    let view = match run_view_type.to_ascii_uppercase().as_str() {
        "ACTIVE_ONLY" => RunView::ActiveOnly,
        "DELETED_ONLY" => RunView::DeletedOnly,
        "ALL" => RunView::All,
        other => {
            return Err(invalid(format!(
                "Invalid run_view_type '{other}': expected ACTIVE_ONLY, DELETED_ONLY or ALL"
            )));
        }
    };
    let h = session::handles(py)?;
    let chosen = state().experiment_id.clone();
    let runs = h
        .block_on(py, async {
            let experiments = match experiment_ids {
                Some(ids) => ids,
                None => vec![resolve_experiment(&h.client, chosen).await?],
            };
            let mut search = h
                .client
                .search_runs()
                .experiments(experiments)
                .filter(filter_string)
                .order_by(order_by.unwrap_or_default())
                .view(view);
            match max_results {
                Some(n) => {
                    search = search.max_results(i32::try_from(n).unwrap_or(i32::MAX));
                    search.page().await.map(|p| p.runs)
                }
                None => search.all().await,
            }
        })
        .map_err(to_py)?;
    let out = PyList::empty(py);
    for run in &runs {
        out.append(convert::run(py, run)?)?;
    }
    Ok(out)
}

/// Waits until every point logged so far is acknowledged (durably, with a default
/// server); raises a delivery refusal not yet reported.
#[pyfunction]
pub fn flush(py: Python<'_>) -> PyResult<()> {
    let h = session::handles(py)?;
    h.block_on(py, h.client.flush()).map_err(to_py)
}

/// The metric-delivery counters of this process's client.
#[pyfunction]
pub fn ingest_stats<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
    use std::sync::atomic::Ordering::Relaxed;
    let h = session::handles(py)?;
    let s = h.client.ingest_stats();
    let d = PyDict::new(py);
    d.set_item("batches_sent", s.batches_sent.load(Relaxed))?;
    d.set_item("batches_resent", s.batches_resent.load(Relaxed))?;
    d.set_item("points_acked", s.points_acked.load(Relaxed))?;
    d.set_item("connections", s.connections.load(Relaxed))?;
    d.set_item("acks_not_durable", s.acks_not_durable.load(Relaxed))?;
    d.set_item("buffer_waits", s.buffer_waits.load(Relaxed))?;
    Ok(d)
}

/// In a `fork` child: forget the parent's connection (see `session`).
#[pyfunction]
pub fn _after_fork_in_child() {
    session::forget_session_after_fork();
}

/// At interpreter exit: end active runs (FINISHED, as MLflow does), flush, close.
#[pyfunction]
pub fn _shutdown(py: Python<'_>) -> PyResult<()> {
    while !state().stack.is_empty() {
        end_run(py, "FINISHED")?;
    }
    let session = state().take_session();
    close(py, session)
}
