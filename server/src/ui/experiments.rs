//! The experiments page (`/`): search by name, run counts, last activity; create, rename,
//! delete and restore. It is also where MLflow's links land (`/#/experiments/<id>…`): the
//! part after `#` never reaches a server, so the script routes it in the browser.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Extension;
use maud::html;
use serde::Deserialize;

use super::forms::{back, Form};
use super::layout::{notice, page};
use super::{format, page_err, PageResult};
use crate::domain::{Caller, Lifecycle, ViewType};
use crate::tracker::{ExperimentSearch, Tracker};

/// Most experiments on one page.
const PAGE_SIZE: i64 = 200;

/// The page's state, all in its URL.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// Part of the name to look for (case-insensitive).
    #[serde(default)]
    q: String,
    /// `active` (default), `deleted` or `all`.
    #[serde(default)]
    view: String,
    /// Where the page starts.
    #[serde(default)]
    page: String,
    /// A message left by a form.
    #[serde(default)]
    error: String,
}

fn view_of(s: &str) -> ViewType {
    match s {
        "deleted" => ViewType::DeletedOnly,
        "all" => ViewType::All,
        _ => ViewType::ActiveOnly,
    }
}

/// `GET /`: the experiments.
pub async fn list(
    State(t): State<Tracker>,
    Extension(c): Extension<Caller>,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let filter = format::name_contains(&q.q);
    let found = t
        .search_experiments(
            &c,
            ExperimentSearch {
                filter,
                view: view_of(&q.view),
                max_results: PAGE_SIZE,
                order_by: vec!["last_update_time DESC".into()],
                page_token: q.page.clone(),
            },
        )
        .await
        .map_err(page_err)?;
    let ids: Vec<String> = found.items.iter().map(|e| e.id.to_string()).collect();
    let activity = t.experiment_activity(&c, &ids).await.map_err(page_err)?;
    let view = if q.view.is_empty() {
        "active"
    } else {
        q.view.as_str()
    };
    let body = html! {
        (notice(Some(&q.error)))
        div.bar {
            h1 { "Experiments" }
            form.inline method="get" action="/" {
                input type="search" name="q" value=(q.q) placeholder="Search by name" aria-label="Search experiments by name";
                select name="view" aria-label="Which experiments" {
                    @for (v, label) in [("active", "Active"), ("deleted", "Deleted"), ("all", "All")] {
                        option value=(v) selected[view == v] { (label) }
                    }
                }
                button type="submit" { "Search" }
            }
            form.inline method="post" action="/experiments" {
                input type="text" name="name" required placeholder="New experiment name" aria-label="New experiment name";
                button type="submit" { "Create" }
            }
        }
        table.grid #experiments {
            thead { tr {
                th { "Name" } th { "ID" } th.num { "Runs" } th { "Last activity" } th { "Created" } th { "Actions" }
            } }
            tbody {
                @for e in &found.items {
                    @let a = activity.get(&e.id).copied().unwrap_or_default();
                    @let last = a.last_run_activity.unwrap_or(0).max(e.last_update_time);
                    tr.deleted[e.lifecycle == Lifecycle::Deleted] {
                        td { a href=(format!("/experiments/{}", e.id)) { (e.name) } }
                        td.mono { (e.id) }
                        td.num { (a.active_runs) @if a.deleted_runs > 0 { span.muted { " (+" (a.deleted_runs) " deleted)" } } }
                        td { (format::time(last)) }
                        td { (format::time(e.creation_time)) }
                        td.actions {
                            form.inline method="post" action=(format!("/experiments/{}/rename", e.id)) {
                                input type="text" name="name" required value=(e.name) aria-label=(format!("New name of {}", e.name));
                                button type="submit" { "Rename" }
                            }
                            @if e.lifecycle == Lifecycle::Active {
                                form.inline method="post" action=(format!("/experiments/{}/delete", e.id)) {
                                    button.danger type="submit" { "Delete" }
                                }
                            } @else {
                                form.inline method="post" action=(format!("/experiments/{}/restore", e.id)) {
                                    button type="submit" { "Restore" }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if found.items.is_empty() { p.muted { "No experiments match." } }
        @if !found.next_page_token.is_empty() {
            p { a.button href=(format!("/?{}", format::query([("q", q.q.as_str()), ("view", view), ("page", found.next_page_token.as_str())]))) { "Next page →" } }
        }
    };
    Ok(page("Experiments", &[], body))
}

/// `POST /experiments` (`name`): creates an experiment and opens it.
pub async fn create(
    State(t): State<Tracker>,
    Extension(c): Extension<Caller>,
    form: Form,
) -> Response {
    match t
        .create_experiment(&c, form.get("name"), "", Vec::new())
        .await
    {
        Ok(id) => back(&format!("/experiments/{id}"), Ok(())),
        Err(e) => back("/", Err(e)),
    }
}

/// `POST /experiments/{id}/rename` (`name`).
pub async fn rename(
    State(t): State<Tracker>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    back(
        "/?view=all",
        t.update_experiment(&c, &id, form.get("name")).await,
    )
}

/// `POST /experiments/{id}/delete`.
pub async fn delete(
    State(t): State<Tracker>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    _form: Form,
) -> Response {
    back("/", t.delete_experiment(&c, &id).await)
}

/// `POST /experiments/{id}/restore`.
pub async fn restore(
    State(t): State<Tracker>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    _form: Form,
) -> Response {
    back("/", t.restore_experiment(&c, &id).await)
}
