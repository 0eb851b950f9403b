//! The hot REST route, `runs/log-batch`, parsed straight into typed structs (no
//! `serde_json::Value` tree per request). Numbers are as lenient as in [`super::json`]: int64
//! as integers or numeric strings, doubles also as `"NaN"`/`"Infinity"`/`"-Infinity"`. A body
//! this parser does not take (e.g. JSON inside a JSON string) goes through the generic path,
//! so behaviour and error messages are the same either way.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use crate::domain::{Point, RunWrites};
use crate::error::{Result, TrackingError};

/// An int64 given as an integer or a numeric string.
#[derive(Debug, Clone, Copy)]
pub struct LenientI64(pub i64);

impl<'de> Deserialize<'de> for LenientI64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = LenientI64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or a numeric string")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<LenientI64, E> {
                Ok(LenientI64(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<LenientI64, E> {
                i64::try_from(v)
                    .map(LenientI64)
                    .map_err(|_| E::custom(format!("{v} is out of the int64 range")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<LenientI64, E> {
                super::json::int64_text(v)
                    .map(LenientI64)
                    .ok_or_else(|| E::custom(format!("'{v}' is not an integer")))
            }
        }
        d.deserialize_any(V)
    }
}

/// A double given as a number, a numeric string, or "NaN" / "Infinity" / "-Infinity".
#[derive(Debug, Clone, Copy)]
pub struct LenientF64(pub f64);

impl<'de> Deserialize<'de> for LenientF64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = LenientF64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<LenientF64, E> {
                Ok(LenientF64(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<LenientF64, E> {
                Ok(LenientF64(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<LenientF64, E> {
                Ok(LenientF64(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<LenientF64, E> {
                super::json::double_text(v)
                    .map(LenientF64)
                    .ok_or_else(|| E::custom(format!("'{v}' is not a number")))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
struct MetricBody {
    key: Option<String>,
    value: Option<LenientF64>,
    timestamp: Option<LenientI64>,
    step: Option<LenientI64>,
}

#[derive(Debug, Deserialize)]
struct KeyValueBody {
    key: Option<String>,
    value: Option<String>,
}

/// A log-batch request body.
#[derive(Debug, Deserialize)]
pub struct LogBatchBody {
    #[serde(default, alias = "runId")]
    run_id: Option<String>,
    #[serde(default)]
    metrics: Vec<MetricBody>,
    #[serde(default)]
    params: Vec<KeyValueBody>,
    #[serde(default)]
    tags: Vec<KeyValueBody>,
}

fn missing(name: &str) -> TrackingError {
    TrackingError::invalid(format!(
        "Missing value for required parameter '{name}'. See the API docs for more information about request parameters."
    ))
}

fn key_value(kv: KeyValueBody) -> Result<(String, String)> {
    match kv.key.filter(|k| !k.is_empty()) {
        Some(k) => Ok((k, kv.value.unwrap_or_default())),
        None => Err(missing("key")),
    }
}

impl LogBatchBody {
    /// Tries the typed parse; `None` means "use the generic path".
    pub fn parse(body: &[u8]) -> Option<LogBatchBody> {
        serde_json::from_slice(body).ok()
    }

    /// The run id and the writes, with MLflow's required-field rules.
    pub fn into_writes(self) -> Result<(String, RunWrites)> {
        let run_id = self
            .run_id
            .filter(|r| !r.is_empty())
            .ok_or_else(|| missing("run_id"))?;
        let mut writes = RunWrites {
            metrics: Vec::new(),
            params: self
                .params
                .into_iter()
                .map(key_value)
                .collect::<Result<_>>()?,
            tags: self
                .tags
                .into_iter()
                .map(key_value)
                .collect::<Result<_>>()?,
        };
        for m in self.metrics {
            let key = m
                .key
                .filter(|k| !k.is_empty())
                .ok_or_else(|| missing("key"))?;
            let value = m.value.ok_or_else(|| missing("value"))?.0;
            let timestamp = m.timestamp.ok_or_else(|| missing("timestamp"))?.0;
            writes.push_point(
                key,
                Point {
                    step: m.step.map_or(0, |s| s.0),
                    timestamp,
                    value,
                },
            );
        }
        Ok((run_id, writes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_numbers_and_required_fields() {
        let body = br#"{"run_id": "r", "metrics": [{"key": "m", "value": "NaN", "timestamp": "5", "step": 2}, {"key": "m", "value": 1, "timestamp": 6}], "params": [{"key": "p", "value": "v"}], "unknown": 1}"#;
        let (run, writes) = LogBatchBody::parse(body).unwrap().into_writes().unwrap();
        assert_eq!(run, "r");
        assert_eq!(writes.metrics[0].1.len(), 2);
        assert!(writes.metrics[0].1[0].value.is_nan());
        assert_eq!(writes.metrics[0].1[1].step, 0);
        assert_eq!(writes.params, vec![("p".into(), "v".into())]);
        let no_value = br#"{"run_id": "r", "metrics": [{"key": "m", "timestamp": 1}]}"#;
        let err = LogBatchBody::parse(no_value)
            .unwrap()
            .into_writes()
            .unwrap_err();
        assert!(err.to_string().contains("'value'"));
        assert!(LogBatchBody::parse(
            br#"{"run_id": "r", "metrics": [{"key": "m", "value": true, "timestamp": 1}]}"#
        )
        .is_none());
        assert!(LogBatchBody::parse(
            br#"{"run_id": "r", "metrics": [{"key": "m", "value": 1, "timestamp": 1.5}]}"#
        )
        .is_none());
    }
}
