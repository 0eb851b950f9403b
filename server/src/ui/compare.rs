//! Compare runs (`/compare?runs=a&runs=b…`): params side by side with differing values
//! highlighted, latest metrics, and one overlaid chart per metric key.

use std::collections::BTreeSet;

use axum::extract::{RawQuery, State};
use axum::Extension;
use maud::html;

use super::charts::{controls, MAX_CHART_RUNS};
use super::layout::page;
use super::run::status_badge;
use super::{format, page_err, PageResult};
use crate::domain::{Caller, Run};
use crate::error::TrackingError;
use crate::tracker::Tracker;

/// `GET /compare?runs=…` (repeated, or comma-separated).
pub async fn show(
    State(t): State<Tracker>,
    Extension(c): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> PageResult {
    let mut ids: Vec<String> = Vec::new();
    for (k, v) in form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        if k == "runs" {
            for id in v.split(',').filter(|s| !s.is_empty()) {
                if !ids.iter().any(|x| x == id) {
                    ids.push(id.to_owned());
                }
            }
        }
    }
    if ids.is_empty() {
        return Err(page_err(TrackingError::invalid(
            "Select at least one run to compare (tick runs in a runs table).",
        )));
    }
    if ids.len() > MAX_CHART_RUNS {
        return Err(page_err(TrackingError::invalid(format!(
            "Compare takes at most {MAX_CHART_RUNS} runs; {} were selected.",
            ids.len()
        ))));
    }
    let mut runs: Vec<Run> = Vec::with_capacity(ids.len());
    for id in &ids {
        runs.push(t.get_run(&c, id).await.map_err(page_err)?);
    }
    let params: BTreeSet<&String> = runs.iter().flat_map(|r| r.params.keys()).collect();
    let metrics: BTreeSet<&String> = runs.iter().flat_map(|r| r.metrics.keys()).collect();
    let run_list = ids.join(",");
    let names: Vec<&str> = runs.iter().map(|r| r.info.run_name.as_str()).collect();
    let names = serde_json::to_string(&names).unwrap_or_default();
    let body = html! {
        div.bar { h1 { "Comparing " (runs.len()) " runs" } }
        table.grid #compare-runs {
            thead { tr { th { "" } @for (i, r) in runs.iter().enumerate() {
                th { span class=(format!("swatch c{}", i % 10)) {} a href=(format!("/runs/{}", r.info.run_id)) { (r.info.run_name) } }
            } } }
            tbody {
                tr { th { "Status" } @for r in &runs { td { (status_badge(r.info.status)) } } }
                tr { th { "Started" } @for r in &runs { td { (format::time(r.info.start_time)) } } }
                tr { th { "Duration" } @for r in &runs { td { @if let Some(e) = r.info.end_time { (format::duration(e - r.info.start_time)) } @else { "—" } } } }
            }
        }
        section.card {
            h2 { "Parameters" }
            label { input #only-diff type="checkbox"; " Only differing" }
            table.grid #compare-params {
                thead { tr { th { "Param" } @for r in &runs { th { (r.info.run_name) } } } }
                tbody {
                    @for k in &params {
                        @let values: Vec<Option<&String>> = runs.iter().map(|r| r.params.get(*k)).collect();
                        @let differs = values.iter().any(|v| *v != values[0]);
                        tr.diff[differs] {
                            th { (k) }
                            @for v in &values { td { @if let Some(v) = v { span.clip title=(v) { (v) } } @else { span.muted { "—" } } } }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { "Metrics (latest)" }
            table.grid #compare-metrics {
                thead { tr { th { "Metric" } @for r in &runs { th { (r.info.run_name) } } } }
                tbody {
                    @for k in &metrics {
                        @let values: Vec<Option<f64>> = runs.iter().map(|r| r.metrics.get(*k).map(|p| p.value)).collect();
                        @let differs = values.iter().any(|v| v.map(f64::to_bits) != values[0].map(f64::to_bits));
                        tr.diff[differs] {
                            th { (k) }
                            @for v in &values { td.num { @if let Some(v) = v { (format::number(*v)) } @else { span.muted { "—" } } } }
                        }
                    }
                }
            }
        }
        section.card #charts {
            h2 { "Charts" }
            (controls())
            div.chart-grid {
                @for (i, key) in metrics.iter().enumerate() {
                    div.chart id=(format!("chart-{i}")) data-runs=(run_list) data-names=(names) data-key=(key)
                        data-live=[runs.iter().any(super::run::is_live).then_some("1")] {
                        div.chart-head { span.chart-title { (key) } span.chart-note {} }
                    }
                }
            }
        }
    };
    Ok(page("Compare runs", &[], body))
}
