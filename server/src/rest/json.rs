//! MLflow's JSON conventions (reference §2.2–2.3): query strings in, answers out. Request
//! bodies and their field rules are in [`super::requests`] and [`super::fields`].
//!
//! In: a query string (GET/DELETE) becomes one JSON object of strings; repeated keys and
//! `key[]` become lists.
//!
//! Out: snake_case names, int64 as JSON numbers, enums as names, NaN/±∞ as those strings,
//! unset fields and empty lists omitted.

use serde_json::{json, Map, Value};

use crate::domain::{
    Experiment, LoggedModel, ModelVersion, Point, RegisteredModel, Run, RunInfo, RunInputs,
};
use crate::error::{Result, TrackingError};

/// A request as a JSON object.
pub type Object = Map<String, Value>;

fn invalid(message: String) -> TrackingError {
    TrackingError::invalid(message)
}

/// Parses a query string; repeated keys (and `key[]`) become lists.
pub fn parse_query(query: &str) -> Result<Object> {
    let mut map = Object::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (query_component(k)?, query_component(v)?);
        let key = k.strip_suffix("[]").unwrap_or(&k).to_owned();
        let v = Value::String(v);
        match map.get_mut(&key) {
            None => {
                map.insert(key, v);
            }
            Some(Value::Array(items)) => items.push(v),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, v]);
            }
        }
    }
    Ok(map)
}

/// One decoded query-string component (`+` is a space); escapes that decode to invalid
/// UTF-8 are refused rather than replaced, so no request silently names another thing.
fn query_component(raw: &str) -> Result<String> {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| {
            invalid(format!(
                "Invalid query string: '{}' does not decode to UTF-8.",
                crate::domain::validate::abbreviate(raw)
            ))
        })
}

// --- out ------------------------------------------------------------------------------------

/// A double as MLflow writes it.
pub fn double_out(v: f64) -> Value {
    if v.is_nan() {
        json!("NaN")
    } else if v == f64::INFINITY {
        json!("Infinity")
    } else if v == f64::NEG_INFINITY {
        json!("-Infinity")
    } else {
        json!(v)
    }
}

fn pairs<'a>(items: impl IntoIterator<Item = (&'a String, &'a String)>) -> Vec<Value> {
    items
        .into_iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect()
}

fn put_nonempty(map: &mut Object, name: &str, items: Vec<Value>) {
    if !items.is_empty() {
        map.insert(name.into(), Value::Array(items));
    }
}

/// An experiment.
pub fn experiment(e: &Experiment) -> Value {
    let mut map = Object::new();
    map.insert("experiment_id".into(), json!(e.id.to_string()));
    map.insert("name".into(), json!(e.name));
    map.insert("artifact_location".into(), json!(e.artifact_location));
    map.insert("lifecycle_stage".into(), json!(e.lifecycle.as_str()));
    map.insert("last_update_time".into(), json!(e.last_update_time));
    map.insert("creation_time".into(), json!(e.creation_time));
    put_nonempty(&mut map, "tags", pairs(&e.tags));
    Value::Object(map)
}

/// A run's info.
pub fn run_info(i: &RunInfo) -> Value {
    let id = i.run_id.to_string();
    let mut map = Object::new();
    map.insert("run_id".into(), json!(id));
    map.insert("run_uuid".into(), json!(id));
    map.insert("run_name".into(), json!(i.run_name));
    map.insert("experiment_id".into(), json!(i.experiment_id.to_string()));
    map.insert("user_id".into(), json!(i.user_id));
    map.insert("status".into(), json!(i.status.as_str()));
    map.insert("start_time".into(), json!(i.start_time));
    if let Some(end) = i.end_time {
        map.insert("end_time".into(), json!(end));
    }
    map.insert("artifact_uri".into(), json!(i.artifact_uri));
    map.insert("lifecycle_stage".into(), json!(i.lifecycle.as_str()));
    Value::Object(map)
}

/// A metric point with its key.
pub fn metric(key: &str, p: &Point) -> Value {
    json!({"key": key, "value": double_out(p.value), "timestamp": p.timestamp, "step": p.step})
}

/// A run.
pub fn run(r: &Run) -> Value {
    let mut data = Object::new();
    put_nonempty(
        &mut data,
        "metrics",
        r.metrics.iter().map(|(k, p)| metric(k, p)).collect(),
    );
    put_nonempty(&mut data, "params", pairs(&r.params));
    put_nonempty(&mut data, "tags", pairs(&r.tags));
    let mut body = json!({"info": run_info(&r.info), "data": Value::Object(data), "inputs": run_inputs(&r.inputs)});
    if !r.outputs.is_empty() {
        body["outputs"] = json!({"model_outputs": r.outputs.iter().map(|m| json!({"model_id": m.model_id, "step": m.step})).collect::<Vec<_>>()});
    }
    body
}

/// A logged model: `{info, data}` as MLflow 3 writes it.
pub fn logged_model(m: &LoggedModel) -> Value {
    let mut info = Object::new();
    info.insert("model_id".into(), json!(m.id.to_string()));
    info.insert("experiment_id".into(), json!(m.experiment_id.to_string()));
    info.insert("name".into(), json!(m.name));
    info.insert("creation_timestamp_ms".into(), json!(m.creation_time));
    info.insert(
        "last_updated_timestamp_ms".into(),
        json!(m.last_updated_time),
    );
    info.insert("artifact_uri".into(), json!(m.artifact_location));
    info.insert("status".into(), json!(m.status.as_str()));
    if !m.model_type.is_empty() {
        info.insert("model_type".into(), json!(m.model_type));
    }
    if let Some(run) = m.source_run_id {
        info.insert("source_run_id".into(), json!(run.to_string()));
    }
    if !m.status_message.is_empty() {
        info.insert("status_message".into(), json!(m.status_message));
    }
    put_nonempty(&mut info, "tags", pairs(&m.tags));
    let mut data = Object::new();
    put_nonempty(&mut data, "params", pairs(&m.params));
    put_nonempty(
        &mut data,
        "metrics",
        m.metrics
            .iter()
            .map(|x| {
                let mut metric = json!({
                    "key": x.key,
                    "value": double_out(x.value),
                    "timestamp": x.timestamp,
                    "step": x.step,
                    "model_id": m.id.to_string(),
                });
                if !x.dataset_name.is_empty() {
                    metric["dataset_name"] = json!(x.dataset_name);
                    metric["dataset_digest"] = json!(x.dataset_digest);
                }
                if let Some(run) = x.run_id {
                    metric["run_id"] = json!(run.to_string());
                }
                metric
            })
            .collect(),
    );
    json!({"info": Value::Object(info), "data": Value::Object(data)})
}

/// A model version of a registered model, as MLflow's registry writes it.
pub fn model_version(m: &RegisteredModel, v: &ModelVersion) -> Value {
    let mut out = Object::new();
    out.insert("name".into(), json!(m.name));
    out.insert("version".into(), json!(v.version.to_string()));
    out.insert("creation_timestamp".into(), json!(v.creation_time));
    out.insert("last_updated_timestamp".into(), json!(v.last_updated_time));
    out.insert("current_stage".into(), json!(v.stage.as_str()));
    if !v.description.is_empty() {
        out.insert("description".into(), json!(v.description));
    }
    out.insert("source".into(), json!(v.source));
    if !v.run_id.is_empty() {
        out.insert("run_id".into(), json!(v.run_id));
    }
    if !v.model_id.is_empty() {
        out.insert("model_id".into(), json!(v.model_id));
    }
    out.insert("status".into(), json!("READY"));
    put_nonempty(&mut out, "tags", pairs(&v.tags));
    put_nonempty(
        &mut out,
        "aliases",
        m.aliases_of(v.version)
            .into_iter()
            .map(Value::from)
            .collect(),
    );
    Value::Object(out)
}

/// A registered model with its latest versions (one per stage) and aliases.
pub fn registered_model(m: &RegisteredModel) -> Value {
    let mut out = Object::new();
    out.insert("name".into(), json!(m.name));
    out.insert("creation_timestamp".into(), json!(m.creation_time));
    out.insert("last_updated_timestamp".into(), json!(m.last_updated_time));
    if !m.description.is_empty() {
        out.insert("description".into(), json!(m.description));
    }
    put_nonempty(
        &mut out,
        "latest_versions",
        m.latest_versions(&[])
            .into_iter()
            .map(|v| model_version(m, v))
            .collect(),
    );
    put_nonempty(&mut out, "tags", pairs(&m.tags));
    put_nonempty(
        &mut out,
        "aliases",
        m.aliases
            .iter()
            .map(|(a, v)| json!({"alias": a, "version": v.to_string()}))
            .collect(),
    );
    Value::Object(out)
}

fn run_inputs(inputs: &RunInputs) -> Value {
    let mut out = Object::new();
    put_nonempty(
        &mut out,
        "dataset_inputs",
        inputs
            .datasets
            .iter()
            .map(|input| {
                let d = &input.dataset;
                let mut dataset = Object::new();
                for (name, value) in [
                    ("name", &d.name),
                    ("digest", &d.digest),
                    ("source_type", &d.source_type),
                    ("source", &d.source),
                    ("schema", &d.schema),
                    ("profile", &d.profile),
                ] {
                    if !value.is_empty() {
                        dataset.insert(name.into(), json!(value));
                    }
                }
                let mut entry = Object::new();
                put_nonempty(
                    &mut entry,
                    "tags",
                    pairs(input.tags.iter().map(|(k, v)| (k, v))),
                );
                entry.insert("dataset".into(), Value::Object(dataset));
                Value::Object(entry)
            })
            .collect(),
    );
    put_nonempty(
        &mut out,
        "model_inputs",
        inputs
            .models
            .iter()
            .map(|m| json!({"model_id": m}))
            .collect(),
    );
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings() {
        let q = parse_query("run_ids=a&run_ids=b&x=1&y[]=z&s=%20sp").unwrap();
        assert_eq!(q["run_ids"], json!(["a", "b"]));
        assert_eq!(q["x"], json!("1"));
        assert_eq!(q["y"], json!("z"));
        assert_eq!(q["s"], json!(" sp"));
        assert!(parse_query("path=%ff").is_err(), "invalid UTF-8 is refused");
        assert_eq!(parse_query("path=a+b%2Bc").unwrap()["path"], "a b+c");
    }

    #[test]
    fn doubles_out() {
        assert_eq!(double_out(f64::NAN), json!("NaN"));
        assert_eq!(double_out(f64::INFINITY), json!("Infinity"));
        assert_eq!(double_out(0.5), json!(0.5));
    }
}
