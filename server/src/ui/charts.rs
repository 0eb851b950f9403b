//! Charts: the controls the run and compare pages share, and `GET /ui-api/series`, which
//! feeds the script's charts with sampled histories as columns (about one point per pixel:
//! the script asks for its chart's width). A step range (`start`, `end`) zooms; when the
//! range holds no more points than asked for, every raw point comes back, and `total` says
//! how many the range holds, so the chart can say when it is sampled.

use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use maud::{html, Markup};

use super::page_err;
use crate::domain::Caller;
use crate::error::TrackingError;
use crate::tracker::{SampledHistory, SampledSeries, Sampling, Tracker};

/// Most runs in one chart.
pub const MAX_CHART_RUNS: usize = 100;
/// Most points per series a chart may ask for.
pub const MAX_CHART_POINTS: usize = 5000;
/// Points per series when the chart does not say.
pub const DEFAULT_CHART_POINTS: usize = 1000;

/// The chart controls (x-axis, log scale, smoothing); the script keeps their state in the
/// URL (`x`, `log`, `smooth`).
pub fn controls() -> Markup {
    html! {
        div.chart-controls {
            label { "X axis " select name="x" aria-label="X axis" {
                option value="step" { "Step" }
                option value="time" { "Wall time" }
                option value="relative" { "Relative time" }
            } }
            label { input type="checkbox" name="log"; " Log scale" }
            label { "Smoothing " input type="range" name="smooth" min="0" max="0.99" step="0.01" value="0" aria-label="Smoothing"; }
            span.muted { "Drag across a chart to zoom (reloads that step range at full detail); double-click to reset." }
        }
    }
}

/// What `/ui-api/series` was asked.
#[derive(Debug, PartialEq)]
struct SeriesQuery {
    runs: Vec<String>,
    key: String,
    points: usize,
    start: Option<i64>,
    end: Option<i64>,
    method: Sampling,
}

fn parse_query(query: Option<&str>) -> crate::error::Result<SeriesQuery> {
    let mut q = SeriesQuery {
        runs: Vec::new(),
        key: String::new(),
        points: DEFAULT_CHART_POINTS,
        start: None,
        end: None,
        method: Sampling::MinMax,
    };
    let int = |name: &str, v: &str| -> crate::error::Result<i64> {
        v.parse()
            .map_err(|_| TrackingError::invalid(format!("'{name}' must be an integer, got '{v}'.")))
    };
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            "run" => q
                .runs
                .extend(v.split(',').filter(|s| !s.is_empty()).map(str::to_owned)),
            "key" => q.key = v.into_owned(),
            "points" => q.points = int("points", &v)?.clamp(2, MAX_CHART_POINTS as i64) as usize,
            "start" if !v.is_empty() => q.start = Some(int("start", &v)?),
            "end" if !v.is_empty() => q.end = Some(int("end", &v)?),
            "method" => {
                q.method = match &*v {
                    "lttb" => Sampling::Lttb,
                    "minmax" => Sampling::MinMax,
                    other => {
                        return Err(TrackingError::invalid(format!(
                            "'method' is minmax or lttb, got '{other}'."
                        )))
                    }
                }
            }
            _ => {}
        }
    }
    if q.runs.is_empty() || q.key.is_empty() {
        return Err(TrackingError::invalid(
            "Name at least one 'run' and a 'key'.",
        ));
    }
    if q.runs.len() > MAX_CHART_RUNS {
        return Err(TrackingError::invalid(format!(
            "A chart shows at most {MAX_CHART_RUNS} runs."
        )));
    }
    Ok(q)
}

/// `GET /ui-api/series?run=…&key=…&points=N[&start=S&end=E][&method=minmax|lttb]`:
/// `{"key", "series": [{"run_id", "total", "steps", "times", "values"}]}`; values that are
/// NaN or infinite are `null` (a gap in the line).
pub async fn series(
    State(t): State<Tracker>,
    Extension(c): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> Response {
    let q = match parse_query(query.as_deref()) {
        Ok(q) => q,
        Err(e) => return super::super::rest::error_response(&e),
    };
    let request = SampledHistory {
        run_ids: q.runs,
        keys: vec![q.key.clone()],
        max_points: q.points,
        start_step: q.start,
        end_step: q.end,
        method: q.method,
    };
    match t.sampled_history(&c, request).await {
        Ok(series) => (
            [(header::CONTENT_TYPE, "application/json")],
            encode(&q.key, &series),
        )
            .into_response(),
        Err(e @ TrackingError::NotFound(_)) | Err(e @ TrackingError::InvalidArgument(_)) => {
            super::super::rest::error_response(&e)
        }
        Err(e) => page_err(e),
    }
}

/// The columns as JSON, written directly (a million numbers would be slow through a tree).
fn encode(key: &str, series: &[SampledSeries]) -> String {
    let points: usize = series.iter().map(|s| s.points.len()).sum();
    let mut out = String::with_capacity(64 + points * 32);
    out.push_str("{\"key\":");
    out.push_str(&serde_json::Value::from(key).to_string());
    out.push_str(",\"series\":[");
    for (i, s) in series.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!(
            "{{\"run_id\":\"{}\",\"total\":{},\"steps\":[",
            s.run_id, s.total_points
        ));
        join(&mut out, s.points.iter().map(|p| p.step));
        out.push_str("],\"times\":[");
        join(&mut out, s.points.iter().map(|p| p.timestamp));
        out.push_str("],\"values\":[");
        let mut floats = ryu::Buffer::new();
        for (j, p) in s.points.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            if p.value.is_finite() {
                out.push_str(floats.format_finite(p.value));
            } else {
                out.push_str("null");
            }
        }
        out.push_str("]}");
    }
    out.push_str("]}");
    out
}

/// Integers, comma-separated, appended to `out`.
fn join(out: &mut String, values: impl Iterator<Item = i64>) {
    use std::fmt::Write;
    for (j, v) in values.enumerate() {
        if j > 0 {
            out.push(',');
        }
        let _ = write!(out, "{v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Point, RunId};

    #[test]
    fn queries_are_checked() {
        let q = parse_query(Some("run=a,b&run=c&key=loss&points=999999&start=5&end=9")).unwrap();
        assert_eq!(q.runs, ["a", "b", "c"]);
        assert_eq!(q.points, MAX_CHART_POINTS);
        assert_eq!((q.start, q.end), (Some(5), Some(9)));
        assert!(parse_query(Some("key=loss")).is_err());
        assert!(parse_query(Some("run=a&key=x&start=one")).is_err());
        assert!(parse_query(Some("run=a&key=x&method=spline")).is_err());
        let many = (0..101)
            .map(|i| format!("run={i}"))
            .collect::<Vec<_>>()
            .join("&");
        assert!(parse_query(Some(&format!("{many}&key=x"))).is_err());
    }

    #[test]
    fn columns_encode_as_json_with_gaps_for_non_finite_values() {
        let s = SampledSeries {
            run_id: RunId([0xab; 16]),
            key: "loss".into(),
            points: vec![
                Point {
                    step: -1,
                    timestamp: 10,
                    value: 0.5,
                },
                Point {
                    step: 2,
                    timestamp: 20,
                    value: f64::NAN,
                },
            ],
            total_points: 7,
        };
        let json: serde_json::Value = serde_json::from_str(&encode("lo\"ss", &[s])).unwrap();
        assert_eq!(json["key"], "lo\"ss");
        assert_eq!(json["series"][0]["total"], 7);
        assert_eq!(json["series"][0]["steps"], serde_json::json!([-1, 2]));
        assert_eq!(json["series"][0]["values"], serde_json::json!([0.5, null]));
        assert_eq!(json["series"][0]["run_id"], "ab".repeat(16));
    }
}
