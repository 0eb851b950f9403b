//! MLflow's JSON conventions (reference §2.2–2.3), both ways.
//!
//! In: a request is one JSON object, from the body (POST/PATCH/PUT; a body that is a JSON
//! string holding JSON is decoded twice) or from the query string (GET/DELETE; repeated keys
//! and `key[]` become lists). Fields are read leniently, as MLflow's parser does: int64 as a
//! number or a numeric string, doubles also as `"NaN"`, `"Infinity"`, `"-Infinity"`, enums
//! by name or number, ids given as numbers become strings, a single value where a list is
//! expected becomes a one-element list, unknown fields are ignored. An empty string counts
//! as missing.
//!
//! Out: snake_case names, int64 as JSON numbers, enums as names, NaN/±∞ as those strings,
//! unset fields and empty lists omitted.

use serde_json::{json, Map, Value};

use crate::domain::{
    Dataset, DatasetInput, Experiment, ModelOutput, Point, Run, RunInfo, RunInputs, RunStatus,
    ViewType,
};
use crate::error::{Result, TrackingError};

/// A request as a JSON object.
pub type Object = Map<String, Value>;

fn invalid(message: String) -> TrackingError {
    TrackingError::invalid(message)
}

/// Parses a JSON body (decoding a JSON string holding JSON once more).
pub fn parse_body(body: &[u8]) -> Result<Object> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Object::new());
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| invalid(format!("Malformed JSON request body: {e}")))?;
    let value = match value {
        Value::String(inner) => serde_json::from_str(&inner)
            .map_err(|e| invalid(format!("Malformed JSON request body: {e}")))?,
        other => other,
    };
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(invalid("The request body must be a JSON object.".into())),
    }
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

fn missing(name: &str) -> TrackingError {
    invalid(format!("Missing value for required parameter '{name}'. See the API docs for more information about request parameters."))
}

/// `experiment_id` → `experimentId` (MLflow's parser accepts both spellings).
fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn present<'a>(req: &'a Object, name: &str) -> Option<&'a Value> {
    let value = req.get(name).or_else(|| {
        if name.contains('_') {
            req.get(&camel_case(name))
        } else {
            None
        }
    });
    match value {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(v) => Some(v),
    }
}

/// An optional string (numbers are rendered, as MLflow coerces numeric ids).
pub fn string(req: &Object, name: &str) -> Result<Option<String>> {
    match present(req, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(invalid(format!(
            "Invalid value {other} for parameter '{name}': expected a string."
        ))),
    }
}

/// A required, non-empty string.
pub fn required(req: &Object, name: &str) -> Result<String> {
    string(req, name)?.ok_or_else(|| missing(name))
}

/// `run_id`, falling back to the deprecated `run_uuid`; required.
pub fn run_id(req: &Object) -> Result<String> {
    match string(req, "run_id")? {
        Some(id) => Ok(id),
        None => string(req, "run_uuid")?.ok_or_else(|| missing("run_id")),
    }
}

/// An optional int64: a JSON integer or a numeric string.
pub fn int64(req: &Object, name: &str) -> Result<Option<i64>> {
    let bad = |v: &Value| {
        invalid(format!(
            "Invalid value {v} for parameter '{name}': expected an integer."
        ))
    };
    match present(req, name) {
        None => Ok(None),
        Some(v @ Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| bad(v)),
        Some(v @ Value::String(s)) => int64_text(s).map(Some).ok_or_else(|| bad(v)),
        Some(v) => Err(bad(v)),
    }
}

/// An int64 written as text, as MLflow's JSON parser reads it (surrounding whitespace
/// allowed). One definition for every REST parser.
pub fn int64_text(s: &str) -> Option<i64> {
    s.trim().parse().ok()
}

/// A double written as text, as MLflow's protobuf JSON parser reads it: like Python's
/// `float()` (surrounding whitespace; `NaN`, `inf`, `Infinity` in any case; `"1e999"` is
/// infinity), except that exactly `"nan"` is refused. One definition for every REST parser.
pub fn double_text(s: &str) -> Option<f64> {
    if s == "nan" {
        return None;
    }
    s.trim().parse().ok()
}

/// An optional double: a JSON number, a numeric string, or "NaN" / "Infinity" / "-Infinity".
pub fn double(req: &Object, name: &str) -> Result<Option<f64>> {
    let bad = |v: &Value| {
        invalid(format!(
            "Invalid value {v} for parameter '{name}': expected a number."
        ))
    };
    match present(req, name) {
        None => Ok(None),
        Some(v @ Value::Number(n)) => n.as_f64().map(Some).ok_or_else(|| bad(v)),
        // A bare 1e999 is refused by the JSON parser itself.
        Some(v @ Value::String(s)) if s == "nan" => Err(invalid(format!(
            "Invalid value {v} for parameter '{name}': use \"NaN\" for a NaN value."
        ))),
        Some(v @ Value::String(s)) => double_text(s).map(Some).ok_or_else(|| bad(v)),
        Some(v) => Err(bad(v)),
    }
}

/// An optional list of strings (a single string counts as a one-element list).
pub fn strings(req: &Object, name: &str) -> Result<Vec<String>> {
    match present(req, name) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                other => Err(invalid(format!(
                    "Invalid value {other} in '{name}': expected strings."
                ))),
            })
            .collect(),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Number(n)) => Ok(vec![n.to_string()]),
        Some(other) => Err(invalid(format!(
            "Invalid value {other} for parameter '{name}': expected a list."
        ))),
    }
}

/// An optional list of objects.
pub fn objects(req: &Object, name: &str) -> Result<Vec<Object>> {
    match present(req, name) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::Object(o) => Ok(o.clone()),
                other => Err(invalid(format!(
                    "Invalid value {other} in '{name}': expected objects."
                ))),
            })
            .collect(),
        Some(other) => Err(invalid(format!(
            "Invalid value {other} for parameter '{name}': expected a list."
        ))),
    }
}

/// `[{key, value}]` pairs (tags, params); both fields required, value may be empty.
pub fn key_values(req: &Object, name: &str) -> Result<Vec<(String, String)>> {
    objects(req, name)?
        .iter()
        .map(|o| Ok((required(o, "key")?, string(o, "value")?.unwrap_or_default())))
        .collect()
}

/// A run status by name or number.
pub fn run_status(req: &Object, name: &str) -> Result<Option<RunStatus>> {
    let Some(v) = present(req, name) else {
        return Ok(None);
    };
    let parsed = match v {
        Value::String(s) => RunStatus::from_name(s)
            .or_else(|| s.parse::<i64>().ok().and_then(RunStatus::from_number)),
        Value::Number(n) => n.as_i64().and_then(RunStatus::from_number),
        _ => None,
    };
    parsed.map(Some).ok_or_else(|| {
        invalid(format!(
            "Invalid value {v} for parameter '{name}': not a run status."
        ))
    })
}

/// A view type by name or number (default ACTIVE_ONLY).
pub fn view_type(req: &Object, name: &str) -> Result<ViewType> {
    let Some(v) = present(req, name) else {
        return Ok(ViewType::ActiveOnly);
    };
    let n = match v {
        Value::String(s) => match s.to_ascii_uppercase().as_str() {
            "ACTIVE_ONLY" => 1,
            "DELETED_ONLY" => 2,
            "ALL" => 3,
            other => other.parse::<i32>().unwrap_or(-1),
        },
        Value::Number(n) => n.as_i64().and_then(|n| i32::try_from(n).ok()).unwrap_or(-1),
        _ => -1,
    };
    ViewType::from_i32(n).map_err(|_| {
        invalid(format!(
            "Invalid value {v} for parameter '{name}': not a view type."
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

/// LogInputs' `datasets[]` and `models[]` → domain. Dataset fields are checked by the
/// Tracker's validation; here only their JSON types.
pub fn run_inputs_in(req: &Object) -> Result<RunInputs> {
    let datasets = objects(req, "datasets")?
        .iter()
        .map(|input| {
            let d = present(input, "dataset")
                .and_then(Value::as_object)
                .ok_or_else(|| missing("datasets.dataset"))?;
            let field = |name: &str| -> Result<String> { Ok(string(d, name)?.unwrap_or_default()) };
            Ok(DatasetInput {
                dataset: Dataset {
                    name: field("name")?,
                    digest: field("digest")?,
                    source_type: field("source_type")?,
                    source: field("source")?,
                    schema: field("schema")?,
                    profile: field("profile")?,
                },
                tags: key_values(input, "tags")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let models = objects(req, "models")?
        .iter()
        .map(|m| required(m, "model_id"))
        .collect::<Result<Vec<_>>>()?;
    Ok(RunInputs { datasets, models })
}

/// LogOutputs' `models[]` → domain.
pub fn model_outputs_in(req: &Object) -> Result<Vec<ModelOutput>> {
    objects(req, "models")?
        .iter()
        .map(|m| {
            Ok(ModelOutput {
                model_id: required(m, "model_id")?,
                step: int64(m, "step")?.unwrap_or(0),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Object {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn lenient_scalars() {
        let req = obj(
            json!({"a": 5, "b": "6", "c": 1.5, "d": true, "e": "", "f": "NaN", "g": "-Infinity", "h": "x"}),
        );
        assert_eq!(int64(&req, "a").unwrap(), Some(5));
        assert_eq!(int64(&req, "b").unwrap(), Some(6));
        assert!(
            int64(&req, "c").is_err() && int64(&req, "d").is_err() && int64(&req, "h").is_err()
        );
        assert_eq!(
            int64(&req, "e").unwrap(),
            None,
            "empty string counts as missing"
        );
        assert!(double(&req, "f").unwrap().unwrap().is_nan());
        assert_eq!(double(&req, "g").unwrap(), Some(f64::NEG_INFINITY));
        assert_eq!(double(&req, "b").unwrap(), Some(6.0));
        assert!(double(&req, "d").is_err(), "bools are not numbers");
        assert_eq!(
            string(&req, "a").unwrap().as_deref(),
            Some("5"),
            "numeric ids become strings"
        );
        assert!(required(&req, "e")
            .unwrap_err()
            .to_string()
            .contains("Missing value for required parameter 'e'"));
    }

    #[test]
    fn queries_and_bodies() {
        let q = parse_query("run_ids=a&run_ids=b&x=1&y[]=z&s=%20sp").unwrap();
        assert!(parse_query("path=%ff").is_err(), "invalid UTF-8 is refused");
        assert_eq!(parse_query("path=a+b%2Bc").unwrap()["path"], "a b+c");
        assert_eq!(strings(&q, "run_ids").unwrap(), vec!["a", "b"]);
        assert_eq!(strings(&q, "x").unwrap(), vec!["1"]);
        assert_eq!(strings(&q, "y").unwrap(), vec!["z"]);
        assert_eq!(string(&q, "s").unwrap().as_deref(), Some(" sp"));
        assert_eq!(parse_body(b" ").unwrap(), Object::new());
        let twice = serde_json::to_vec(&json!("{\"name\": \"n\"}")).unwrap();
        assert_eq!(required(&parse_body(&twice).unwrap(), "name").unwrap(), "n");
        assert!(parse_body(b"{bad").is_err());
        assert!(parse_body(b"[1]").is_err());
    }

    #[test]
    fn camel_case_names_are_accepted() {
        let req = obj(json!({"experimentId": "3", "runUuid": "r", "start_time": 5}));
        assert_eq!(string(&req, "experiment_id").unwrap().as_deref(), Some("3"));
        assert_eq!(run_id(&req).unwrap(), "r");
        assert_eq!(int64(&req, "start_time").unwrap(), Some(5));
    }

    #[test]
    fn enums_by_name_or_number() {
        let req = obj(json!({"s": "FINISHED", "n": 4, "v": "ALL", "w": 2, "bad": "NOPE"}));
        assert_eq!(run_status(&req, "s").unwrap(), Some(RunStatus::Finished));
        assert_eq!(run_status(&req, "n").unwrap(), Some(RunStatus::Failed));
        assert!(run_status(&req, "bad").is_err());
        assert_eq!(view_type(&req, "v").unwrap(), ViewType::All);
        assert_eq!(view_type(&req, "w").unwrap(), ViewType::DeletedOnly);
        assert_eq!(view_type(&req, "missing").unwrap(), ViewType::ActiveOnly);
    }

    #[test]
    fn doubles_out() {
        assert_eq!(double_out(f64::NAN), json!("NaN"));
        assert_eq!(double_out(f64::INFINITY), json!("Infinity"));
        assert_eq!(double_out(0.5), json!(0.5));
    }
}
