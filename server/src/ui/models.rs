//! Models: the logged models of an experiment (`/experiments/{id}/models`), registered
//! models (`/models`) and one registered model's versions and aliases (`/models/{name}`).

use axum::extract::{Path, Query, State};
use axum::Extension;
use maud::html;
use serde::Deserialize;

use super::layout::page;
use super::{format, page_err, PageResult};
use crate::domain::Caller;
use crate::tracker::{ModelSearch, RegistrySearch, Tracker};

/// Most models on one page.
const PAGE_SIZE: i64 = 100;

/// Paging and search state in the URL.
#[derive(Debug, Default, Deserialize)]
pub struct ModelsQuery {
    /// Where the page starts.
    #[serde(default)]
    page: String,
    /// Part of the name to look for.
    #[serde(default)]
    q: String,
}

/// `GET /experiments/{id}/models`.
pub async fn logged(
    State(t): State<Tracker>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<ModelsQuery>,
) -> PageResult {
    let experiment = t.get_experiment(&c, &id).await.map_err(page_err)?;
    let found = t
        .search_logged_models(
            &c,
            ModelSearch {
                experiment_ids: vec![id.clone()],
                max_results: PAGE_SIZE,
                page_token: q.page.clone(),
                ..ModelSearch::default()
            },
        )
        .await
        .map_err(page_err)?;
    let base = format!("/experiments/{}", experiment.id);
    let body = html! {
        div.bar {
            h1 { (experiment.name) }
            nav.tabs { a href=(base) { "Runs" } a.active href=(format!("{base}/models")) { "Models" } }
        }
        table.grid #logged-models {
            thead { tr { th { "Name" } th { "Model ID" } th { "Status" } th { "Type" } th { "Source run" } th { "Created" } } }
            tbody { @for m in &found.items {
                tr {
                    td { (m.name) }
                    td.mono { (m.id.to_string()) }
                    td { (m.status.as_str()) }
                    td { (m.model_type) }
                    td { @if let Some(r) = m.source_run_id { a.mono href=(format!("/runs/{r}")) { (r.to_string()) } } @else { "—" } }
                    td { (format::time(m.creation_time)) }
                }
            } }
        }
        @if found.items.is_empty() { p.muted { "No logged models in this experiment." } }
        @if !found.next_page_token.is_empty() {
            p { a.button href=(format!("{base}/models?{}", format::query([("page", found.next_page_token.as_str())]))) { "Next page →" } }
        }
    };
    Ok(page(
        &format!("Models of {}", experiment.name),
        &[(experiment.name.clone(), base)],
        body,
    ))
}

/// `GET /models`: registered models.
pub async fn registered(
    State(t): State<Tracker>,
    Extension(c): Extension<Caller>,
    Query(q): Query<ModelsQuery>,
) -> PageResult {
    let filter = format::name_contains(&q.q);
    let found = t
        .search_registered_models(
            &c,
            RegistrySearch {
                filter,
                max_results: PAGE_SIZE,
                order_by: vec!["name ASC".into()],
                page_token: q.page.clone(),
            },
        )
        .await
        .map_err(page_err)?;
    let body = html! {
        div.bar {
            h1 { "Registered models" }
            form.inline method="get" action="/models" {
                input type="search" name="q" value=(q.q) placeholder="Search by name" aria-label="Search registered models";
                button type="submit" { "Search" }
            }
        }
        table.grid #registered-models {
            thead { tr { th { "Name" } th.num { "Latest version" } th { "Aliases" } th { "Updated" } th { "Description" } } }
            tbody { @for m in &found.items {
                tr {
                    td { a href=(format!("/models/{}", format::segment(&m.name))) { (m.name) } }
                    td.num { (m.live_versions().map(|v| v.version).max().map(|v| v.to_string()).unwrap_or_else(|| "—".into())) }
                    td { @for (alias, v) in &m.aliases { span.badge { "@" (alias) " → v" (v) } " " } }
                    td { (format::time(m.last_updated_time)) }
                    td { span.clip title=(m.description) { (m.description) } }
                }
            } }
        }
        @if found.items.is_empty() { p.muted { "No registered models." } }
        @if !found.next_page_token.is_empty() {
            p { a.button href=(format!("/models?{}", format::query([("q", q.q.as_str()), ("page", found.next_page_token.as_str())]))) { "Next page →" } }
        }
    };
    Ok(page("Registered models", &[], body))
}

/// `GET /models/{name}`: versions, stages and aliases of one registered model.
pub async fn registered_model(
    State(t): State<Tracker>,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> PageResult {
    let model = t.get_registered_model(&c, &name).await.map_err(page_err)?;
    let body = html! {
        div.bar { h1 { (model.name) } }
        @if !model.description.is_empty() { pre.desc { (model.description) } }
        @if !model.aliases.is_empty() {
            p { "Aliases: " @for (alias, v) in &model.aliases { span.badge { "@" (alias) " → v" (v) } " " } }
        }
        table.grid #versions {
            thead { tr { th.num { "Version" } th { "Stage" } th { "Aliases" } th { "Source" } th { "Run" } th { "Created" } } }
            tbody { @for v in model.live_versions().collect::<Vec<_>>().iter().rev() {
                tr {
                    td.num { (v.version) }
                    td { (v.stage.as_str()) }
                    td { @for (alias, n) in &model.aliases { @if *n == v.version { span.badge { "@" (alias) } " " } } }
                    td.mono { span.clip title=(v.source) { (v.source) } }
                    td { @if !v.run_id.is_empty() { a.mono href=(format!("/runs/{}", format::segment(&v.run_id))) { (v.run_id) } } @else { "—" } }
                    td { (format::time(v.creation_time)) }
                }
            } }
        }
    };
    Ok(page(
        &model.name,
        &[
            ("Models".into(), "/models".into()),
            (
                model.name.clone(),
                format!("/models/{}", format::segment(&model.name)),
            ),
        ],
        body,
    ))
}
