//! The run page (`/runs/{id}`): info, description, params, latest metrics, tags (edit and
//! delete), parent and child runs, dataset inputs, logged models, one chart per metric
//! (drawn by the script only when scrolled into view) and the artifact browser.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Extension;
use maud::{html, Markup};
use serde::Deserialize;

use super::artifacts::browser;
use super::charts::controls;
use super::forms::{back, Form};
use super::layout::{notice, page};
use super::{format, page_err, PageResult};
use crate::domain::{Caller, Lifecycle, Run, RunStatus, PARENT_RUN_ID_TAG, USER_TAG};
use crate::tracker::{ModelSearch, RunSearch, Tracker};

/// The tag MLflow keeps a run's description in.
pub const DESCRIPTION_TAG: &str = "mlflow.note.content";
/// Most child runs listed.
const MAX_CHILDREN: i64 = 100;
/// Most logged models listed.
const MAX_MODELS: i64 = 100;

/// The page's state in its URL.
#[derive(Debug, Default, Deserialize)]
pub struct RunQuery {
    /// The artifact file or directory being looked at.
    #[serde(default)]
    artifact: String,
    /// A message left by a form.
    #[serde(default)]
    error: String,
}

/// `GET /runs/{id}`.
pub async fn show(
    State(t): State<Tracker>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<RunQuery>,
) -> PageResult {
    let run = t.get_run(&c, &id).await.map_err(page_err)?;
    let experiment = t
        .get_experiment(&c, &run.info.experiment_id.to_string())
        .await
        .map_err(page_err)?;
    let children = t
        .search_runs(
            &c,
            RunSearch {
                experiment_ids: vec![run.info.experiment_id.to_string()],
                filter: format!("tags.`{PARENT_RUN_ID_TAG}` = '{id}'"),
                max_results: MAX_CHILDREN,
                ..RunSearch::default()
            },
        )
        .await
        .map_err(page_err)?
        .items;
    let models = t
        .search_logged_models(
            &c,
            ModelSearch {
                experiment_ids: vec![run.info.experiment_id.to_string()],
                filter: format!("source_run_id = '{id}'"),
                max_results: MAX_MODELS,
                ..ModelSearch::default()
            },
        )
        .await
        .map_err(page_err)?
        .items;
    let artifacts = browser(&t, &c, &run, &q.artifact).await;
    let base = format!("/runs/{id}");
    let user_tags: Vec<_> = run
        .tags
        .iter()
        .filter(|(k, _)| !k.starts_with("mlflow."))
        .collect();
    let system_tags: Vec<_> = run
        .tags
        .iter()
        .filter(|(k, _)| k.starts_with("mlflow."))
        .collect();
    let live = is_live(&run);
    let body = html! {
        (notice(Some(&q.error)))
        div.bar {
            h1 { (run.info.run_name) " " (status_badge(run.info.status)) }
            @if run.info.lifecycle == Lifecycle::Deleted { span.badge.deleted { "deleted" } }
        }
        section.cards {
            div.card {
                h2 { "Overview" }
                dl.info {
                    dt { "Run ID" } dd.mono { (id) }
                    dt { "Experiment" } dd { a href=(format!("/experiments/{}", experiment.id)) { (experiment.name) } }
                    dt { "Started" } dd { (format::time(run.info.start_time)) }
                    dt { "Ended" } dd { @if let Some(e) = run.info.end_time { (format::time(e)) } @else { "—" } }
                    dt { "Duration" } dd { @if let Some(e) = run.info.end_time { (format::duration(e - run.info.start_time)) } @else { "running" } }
                    dt { "User" } dd { (run.tags.get(USER_TAG).unwrap_or(&run.info.user_id)) }
                    dt { "Source" } dd { (run.tags.get("mlflow.source.name").map(String::as_str).unwrap_or("—")) }
                    dt { "Artifact URI" } dd.mono { (run.info.artifact_uri) }
                    @if let Some(parent) = run.tags.get(PARENT_RUN_ID_TAG) {
                        dt { "Parent run" } dd { a.mono href=(format!("/runs/{}", format::segment(parent))) { (parent) } }
                    }
                }
            }
            div.card {
                h2 { "Description" }
                @if let Some(d) = run.tags.get(DESCRIPTION_TAG) { pre.desc { (d) } } @else { p.muted { "No description." } }
                details {
                    summary { "Edit description" }
                    form method="post" action=(format!("{base}/tags")) {
                        input type="hidden" name="key" value=(DESCRIPTION_TAG);
                        textarea name="value" rows="4" aria-label="Description" { (run.tags.get(DESCRIPTION_TAG).map(String::as_str).unwrap_or("")) }
                        button type="submit" { "Save description" }
                    }
                }
            }
        }
        section.cards {
            div.card {
                h2 { "Parameters (" (run.params.len()) ")" }
                (key_value_table("params", run.params.iter()))
            }
            div.card {
                h2 { "Metrics (" (run.metrics.len()) ")" }
                table.grid #metrics {
                    thead { tr { th { "Key" } th.num { "Latest" } th.num { "Step" } th { "Time" } } }
                    tbody {
                        @for (i, (k, p)) in run.metrics.iter().enumerate() {
                            tr { td { a href=(format!("#chart-{i}")) { (k) } } td.num { (format::number(p.value)) } td.num { (p.step) } td { (format::time(p.timestamp)) } }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { "Tags" }
            table.grid #tags {
                thead { tr { th { "Key" } th { "Value" } th { span.sr-only { "Actions" } } } }
                tbody {
                    @for (k, v) in &user_tags {
                        tr {
                            td { (k) } td { span.clip title=(v) { (v) } }
                            td { form.inline method="post" action=(format!("{base}/tags/delete")) {
                                input type="hidden" name="key" value=(k);
                                button.danger.small type="submit" aria-label=(format!("Delete tag {k}")) { "Delete" }
                            } }
                        }
                    }
                }
            }
            form.inline method="post" action=(format!("{base}/tags")) {
                input type="text" name="key" required placeholder="key" aria-label="Tag key";
                input type="text" name="value" placeholder="value" aria-label="Tag value";
                button type="submit" { "Set tag" }
            }
            @if !system_tags.is_empty() {
                details {
                    summary { "System tags (" (system_tags.len()) ")" }
                    (key_value_table("system-tags", system_tags.iter().map(|(k, v)| (*k, *v))))
                }
            }
        }
        @if !children.is_empty() || !run.inputs.datasets.is_empty() || !models.is_empty() {
            section.cards {
                @if !children.is_empty() {
                    div.card {
                        h2 { "Child runs (" (children.len()) ")" }
                        ul.plain { @for ch in &children { li { a href=(format!("/runs/{}", ch.info.run_id)) { (ch.info.run_name) } " " (status_badge(ch.info.status)) } } }
                    }
                }
                @if !run.inputs.datasets.is_empty() {
                    div.card {
                        h2 { "Datasets" }
                        table.grid #datasets {
                            thead { tr { th { "Name" } th { "Digest" } th { "Context" } th { "Source type" } } }
                            tbody { @for d in &run.inputs.datasets {
                                tr {
                                    td { (d.dataset.name) } td.mono { (d.dataset.digest) }
                                    td { (d.tags.iter().find(|(k, _)| k == "mlflow.data.context").map(|(_, v)| v.as_str()).unwrap_or("—")) }
                                    td { (d.dataset.source_type) }
                                }
                            } }
                        }
                    }
                }
                @if !models.is_empty() {
                    div.card {
                        h2 { "Logged models" }
                        table.grid #models {
                            thead { tr { th { "Name" } th { "Model ID" } th { "Status" } th { "Created" } } }
                            tbody { @for m in &models {
                                tr { td { (m.name) } td.mono { (m.id.to_string()) } td { (m.status.as_str()) } td { (format::time(m.creation_time)) } }
                            } }
                        }
                    }
                }
            }
        }
        section.card #charts {
            h2 { "Charts" }
            (controls())
            @if run.metrics.is_empty() { p.muted { "No metrics logged." } }
            div.chart-grid {
                @for (i, key) in run.metrics.keys().enumerate() {
                    div.chart id=(format!("chart-{i}")) data-runs=(id) data-key=(key) data-live=[live.then_some("1")] {
                        div.chart-head { span.chart-title { (key) } span.chart-note {} }
                    }
                }
            }
        }
        section.card #artifacts {
            h2 { "Artifacts" }
            (artifacts)
        }
    };
    Ok(page(
        &run.info.run_name,
        &[
            (
                experiment.name.clone(),
                format!("/experiments/{}", experiment.id),
            ),
            (run.info.run_name.clone(), base.clone()),
        ],
        body,
    ))
}

/// A run's status as a coloured badge.
pub fn status_badge(status: RunStatus) -> Markup {
    html! { span class=(format!("status {}", status.as_str().to_ascii_lowercase())) { (status.as_str()) } }
}

fn key_value_table<'a>(id: &str, rows: impl Iterator<Item = (&'a String, &'a String)>) -> Markup {
    html! {
        table.grid id=(id) {
            thead { tr { th { "Key" } th { "Value" } } }
            tbody { @for (k, v) in rows { tr { td { (k) } td { span.clip title=(v) { (v) } } } } }
        }
    }
}

/// `POST /runs/{id}/tags` (`key`, `value`): sets a tag (the description is the tag
/// `mlflow.note.content`).
pub async fn set_tag(
    State(t): State<Tracker>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let outcome = t.set_tag(&c, &id, form.get("key"), form.get("value")).await;
    back(&format!("/runs/{}", format::segment(&id)), outcome)
}

/// `POST /runs/{id}/tags/delete` (`key`).
pub async fn delete_tag(
    State(t): State<Tracker>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let outcome = t.delete_tag(&c, &id, form.get("key")).await;
    back(&format!("/runs/{}", format::segment(&id)), outcome)
}

/// Whether a run is shown as live (its charts poll for new points).
pub fn is_live(run: &Run) -> bool {
    run.info.status == RunStatus::Running
}
