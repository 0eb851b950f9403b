//! The native half of the `trackd` Python package (`trackd._native`): the Rust client's
//! buffered, streaming metric path and the rest of its API as module functions over one
//! process-wide session. The Python half (`python/trackd/`) adds MLflow-shaped classes,
//! context managers, array conversion, `fork`/exit hooks and the MLflow plugin.
//!
//! - `session.rs`: the tracking state (URI, runtime + client, run stack) and its rules for
//!   threads and `fork`;
//! - `fluent.rs`: the module functions;
//! - `convert.rs`: client types → Python dicts and byte columns;
//! - `errors.rs`: `TrackdError` with MLflow's error codes.

mod convert;
mod errors;
mod fluent;
mod session;

use pyo3::prelude::*;

/// The `trackd._native` module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("TrackdError", m.py().get_type::<errors::TrackdError>())?;
    m.add_function(wrap_pyfunction!(fluent::set_tracking_uri, m)?)?;
    m.add_function(wrap_pyfunction!(fluent::get_tracking_uri, m)?)?;
    m.add_function(wrap_pyfunction!(fluent::set_experiment, m)?)?;
    m.add_function(wrap_pyfunction!(fluent::create_experiment, m)?)?;
    m.add_function(wrap_pyfunction!(fluent::get_experiment, m)?)?;
    m.add_function(wrap_pyfunction!(fluent::get_experiment_by_name, m)?)?;
    m.add_function(wrap_pyfunction!(fluent::start_run, m)?)?;
    m.add_function(wrap_pyfunction!(fluent::end_run, m)?)?;
    m.add_function(wrap_pyfunction!(fluent::active_run, m)?)?;
    m.add_function(wrap_pyfunction!(fluent::last_active_run_id, m)?)?;
    m.add_function(wrap_pyfunction!(fluent::log_metric, m)?)?;
    m.add_function(wrap_pyfunction!(fluent::log_metrics, m)?)?;
    m.add_function(wrap_pyfunction!(fluent::log_metric_series_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(fluent::log_param, m)?)?;
    m.add_function(wrap_pyfunction!(fluent::log_params, m)?)?;
    m.add_function(wrap_pyfunction!(fluent::set_tag, m)?)?;
    m.add_function(wrap_pyfunction!(fluent::set_tags, m)?)?;
    m.add_function(wrap_pyfunction!(fluent::delete_tag, m)?)?;
    m.add_function(wrap_pyfunction!(fluent::log_artifact, m)?)?;
    m.add_function(wrap_pyfunction!(fluent::log_artifacts, m)?)?;
    m.add_function(wrap_pyfunction!(fluent::list_artifacts, m)?)?;
    m.add_function(wrap_pyfunction!(fluent::download_artifacts, m)?)?;
    m.add_function(wrap_pyfunction!(fluent::get_run, m)?)?;
    m.add_function(wrap_pyfunction!(fluent::metric_history_columns, m)?)?;
    m.add_function(wrap_pyfunction!(fluent::search_runs, m)?)?;
    m.add_function(wrap_pyfunction!(fluent::flush, m)?)?;
    m.add_function(wrap_pyfunction!(fluent::ingest_stats, m)?)?;
    m.add_function(wrap_pyfunction!(fluent::_after_fork_in_child, m)?)?;
    m.add_function(wrap_pyfunction!(fluent::_shutdown, m)?)?;
    Ok(())
}
