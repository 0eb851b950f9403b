//! Client types → Python dicts (the `trackd` package wraps them in MLflow-shaped classes).

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use trackd_client::{Experiment, FileInfo, MetricColumns, Run, RunInfo};

/// A run's info with MLflow's field names.
pub fn run_info<'py>(py: Python<'py>, info: &RunInfo) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("run_id", &info.run_id)?;
    d.set_item("run_name", &info.run_name)?;
    d.set_item("experiment_id", &info.experiment_id)?;
    d.set_item("user_id", &info.user_id)?;
    d.set_item("status", info.status.as_str())?;
    d.set_item("start_time", info.start_time)?;
    d.set_item("end_time", info.end_time)?;
    d.set_item("artifact_uri", &info.artifact_uri)?;
    d.set_item(
        "lifecycle_stage",
        if info.deleted { "deleted" } else { "active" },
    )?;
    Ok(d)
}

/// A run: `info`, and `data` with the latest metric values, params and tags.
pub fn run<'py>(py: Python<'py>, run: &Run) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("info", run_info(py, &run.info)?)?;
    let data = PyDict::new(py);
    let metrics = PyDict::new(py);
    let steps = PyDict::new(py);
    for (key, point) in &run.data.metrics {
        metrics.set_item(key, point.value)?;
        steps.set_item(key, (point.step, point.timestamp))?;
    }
    data.set_item("metrics", metrics)?;
    data.set_item("metric_steps", steps)?;
    data.set_item("params", &run.data.params)?;
    data.set_item("tags", &run.data.tags)?;
    d.set_item("data", data)?;
    Ok(d)
}

/// An experiment with MLflow's field names.
pub fn experiment<'py>(py: Python<'py>, e: &Experiment) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("experiment_id", &e.experiment_id)?;
    d.set_item("name", &e.name)?;
    d.set_item("artifact_location", &e.artifact_location)?;
    d.set_item(
        "lifecycle_stage",
        if e.deleted { "deleted" } else { "active" },
    )?;
    d.set_item("creation_time", e.creation_time)?;
    d.set_item("last_update_time", e.last_update_time)?;
    d.set_item("tags", &e.tags)?;
    Ok(d)
}

/// An artifact listing entry.
pub fn file_info<'py>(py: Python<'py>, f: &FileInfo) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("path", &f.path)?;
    d.set_item("is_dir", f.is_dir)?;
    d.set_item("file_size", f.file_size)?;
    Ok(d)
}

/// A series as three little-endian byte columns (`steps` and `timestamps` int64, `values`
/// float64), which Python views as arrays without a copy per point.
pub fn columns<'py>(py: Python<'py>, c: &MetricColumns) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("key", &c.key)?;
    d.set_item("steps", le_bytes(py, &c.steps, |v| v.to_le_bytes()))?;
    d.set_item(
        "timestamps",
        le_bytes(py, &c.timestamps, |v| v.to_le_bytes()),
    )?;
    d.set_item("values", le_bytes(py, &c.values, |v| v.to_le_bytes()))?;
    Ok(d)
}

fn le_bytes<'py, T: Copy>(
    py: Python<'py>,
    column: &[T],
    encode: impl Fn(T) -> [u8; 8],
) -> Bound<'py, PyBytes> {
    let mut out = Vec::with_capacity(column.len() * 8);
    for v in column {
        out.extend_from_slice(&encode(*v));
    }
    PyBytes::new(py, &out)
}

/// Decodes a little-endian 8-byte column (`array('q')`/`array('d')` or a NumPy buffer's
/// bytes), refusing a length that is not a whole number of values.
pub fn from_le_bytes<T>(
    bytes: &[u8],
    what: &str,
    decode: impl Fn([u8; 8]) -> T,
) -> PyResult<Vec<T>> {
    if !bytes.len().is_multiple_of(8) {
        return Err(crate::errors::invalid(format!(
            "{what}: {} bytes is not a whole number of 8-byte values",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|c| decode(c.try_into().expect("chunks of 8")))
        .collect())
}
