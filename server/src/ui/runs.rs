//! The runs table of an experiment (`/experiments/{id}`): MLflow's filter language in a
//! filter box (errors shown where they are), sorting by any column on the server, chosen
//! param / metric / tag columns (only those are rendered), one page of rows at a time
//! (at most [`MAX_PAGE`] in the DOM, whatever the experiment's size), and every piece of
//! state in the URL. The column picker (`/experiments/{id}/columns`) is loaded only when
//! opened, because listing every key scans the experiment's runs.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use axum::Extension;
use maud::{html, Markup};

use super::layout::{notice, page};
use super::{format, page_err, PageResult};
use crate::domain::{Caller, Experiment, Run, ViewType, PARENT_RUN_ID_TAG, USER_TAG};
use crate::error::TrackingError;
use crate::tracker::{RunSearch, Tracker};

/// Rows per page unless the URL says otherwise.
pub const DEFAULT_PAGE: usize = 100;
/// Most rows on one page.
pub const MAX_PAGE: usize = 500;
/// Columns shown when none were chosen: this many metrics and this many params, taken
/// from the runs on the page.
const DEFAULT_METRIC_COLUMNS: usize = 5;
const DEFAULT_PARAM_COLUMNS: usize = 3;
/// The source tag MLflow's clients set.
const SOURCE_TAG: &str = "mlflow.source.name";

/// A chosen column: `metrics.<key>`, `params.<key>` or `tags.<key>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Column {
    kind: ColumnKind,
    key: String,
}

/// What a chosen column shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum ColumnKind {
    Metric,
    Param,
    Tag,
}

impl Column {
    fn parse(spec: &str) -> Option<Column> {
        let (prefix, key) = spec.split_once('.')?;
        let kind = match prefix {
            "metrics" => ColumnKind::Metric,
            "params" => ColumnKind::Param,
            "tags" => ColumnKind::Tag,
            _ => return None,
        };
        (!key.is_empty()).then(|| Column {
            kind,
            key: key.to_owned(),
        })
    }

    fn prefix(&self) -> &'static str {
        match self.kind {
            ColumnKind::Metric => "metrics",
            ColumnKind::Param => "params",
            ColumnKind::Tag => "tags",
        }
    }

    /// `metrics.loss` (as the URL carries it).
    fn spec(&self) -> String {
        format!("{}.{}", self.prefix(), self.key)
    }

    /// The identifier in the filter / order_by language (key quoted).
    fn ident(&self) -> Option<String> {
        quoted_ident(self.prefix(), &self.key)
    }

    fn cell(&self, run: &Run) -> Markup {
        match self.kind {
            ColumnKind::Metric => match run.metrics.get(&self.key) {
                Some(p) => {
                    html! { span title=(format!("step {}", p.step)) { (format::number(p.value)) } }
                }
                None => html! { span.muted { "—" } },
            },
            ColumnKind::Param => text_cell(run.params.get(&self.key)),
            ColumnKind::Tag => text_cell(run.tags.get(&self.key)),
        }
    }
}

fn text_cell(value: Option<&String>) -> Markup {
    match value {
        Some(v) => html! { span.clip title=(v) { (v) } },
        None => html! { span.muted { "—" } },
    }
}

/// `prefix.key` with the key quoted when it needs it; `None` when it cannot be written.
pub fn quoted_ident(prefix: &str, key: &str) -> Option<String> {
    if key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Some(format!("{prefix}.{key}"))
    } else if !key.contains('`') {
        Some(format!("{prefix}.`{key}`"))
    } else if !key.contains('"') {
        Some(format!("{prefix}.\"{key}\""))
    } else {
        None
    }
}

/// Everything the runs page shows, as its URL carries it.
#[derive(Debug, Clone, Default)]
pub struct RunsView {
    /// The filter as typed.
    pub filter: String,
    /// One ordering clause (`metrics.loss DESC`); empty: newest first.
    pub order: String,
    /// Chosen columns; empty: the defaults.
    pub columns: Vec<Column>,
    /// `active` (default), `deleted` or `all`.
    pub view: String,
    /// Where the page starts.
    pub page: String,
    /// Rows per page.
    pub size: usize,
    /// A message left by a form.
    pub error: String,
}

impl RunsView {
    /// Reads the state from a query string; unknown fields are ignored.
    pub fn parse(query: Option<&str>) -> RunsView {
        let mut v = RunsView {
            size: DEFAULT_PAGE,
            ..RunsView::default()
        };
        for (k, val) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match &*k {
                "filter" => v.filter = val.into_owned(),
                "order" => v.order = val.into_owned(),
                "cols" => v.columns.extend(val.split(',').filter_map(Column::parse)),
                "view" => v.view = val.into_owned(),
                "page" => v.page = val.into_owned(),
                "n" => {
                    v.size = val
                        .parse::<usize>()
                        .unwrap_or(DEFAULT_PAGE)
                        .clamp(1, MAX_PAGE)
                }
                "error" => v.error = val.into_owned(),
                _ => {}
            }
        }
        let mut seen = BTreeSet::new();
        v.columns.retain(|c| seen.insert(c.clone()));
        v
    }

    fn view_type(&self) -> ViewType {
        match self.view.as_str() {
            "deleted" => ViewType::DeletedOnly,
            "all" => ViewType::All,
            _ => ViewType::ActiveOnly,
        }
    }

    /// The query string of this state (first page unless `page` is given).
    pub fn to_query(&self, columns: &[Column], order: &str, page: &str) -> String {
        let cols: Vec<String> = columns.iter().map(Column::spec).collect();
        let size = self.size.to_string();
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        if !self.filter.is_empty() {
            pairs.push(("filter", &self.filter));
        }
        if !order.is_empty() {
            pairs.push(("order", order));
        }
        for c in &cols {
            pairs.push(("cols", c));
        }
        if !self.view.is_empty() && self.view != "active" {
            pairs.push(("view", &self.view));
        }
        if self.size != DEFAULT_PAGE {
            pairs.push(("n", &size));
        }
        if !page.is_empty() {
            pairs.push(("page", page));
        }
        format::query(pairs)
    }
}

/// `GET /experiments/{id}`: the runs table.
pub async fn table(
    State(t): State<Tracker>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> PageResult {
    let experiment = t.get_experiment(&c, &id).await.map_err(page_err)?;
    let state = RunsView::parse(query.as_deref());
    let search = t
        .search_runs(
            &c,
            RunSearch {
                experiment_ids: vec![id.clone()],
                filter: state.filter.clone(),
                view: state.view_type(),
                max_results: state.size as i64,
                order_by: if state.order.is_empty() {
                    vec![]
                } else {
                    vec![state.order.clone()]
                },
                page_token: state.page.clone(),
            },
        )
        .await;
    let (runs, next, search_error) = match search {
        Ok(p) => (p.items, p.next_page_token, None),
        Err(e @ TrackingError::InvalidArgument(_)) => (Vec::new(), String::new(), Some(e)),
        Err(e) => return Err(page_err(e)),
    };
    let columns = if state.columns.is_empty() {
        default_columns(&runs)
    } else {
        state.columns.clone()
    };
    let body = runs_body(&experiment, &state, &columns, &runs, &next, search_error);
    Ok(page(
        &experiment.name,
        &[(
            experiment.name.clone(),
            format!("/experiments/{}", experiment.id),
        )],
        body,
    ))
}

/// The first metrics and params (by name) used by the runs on the page.
fn default_columns(runs: &[Arc<Run>]) -> Vec<Column> {
    let mut metrics = BTreeSet::new();
    let mut params = BTreeSet::new();
    for r in runs {
        metrics.extend(r.metrics.keys().map(String::as_str));
        params.extend(r.params.keys().map(String::as_str));
    }
    metrics
        .into_iter()
        .take(DEFAULT_METRIC_COLUMNS)
        .map(|k| Column {
            kind: ColumnKind::Metric,
            key: k.to_owned(),
        })
        .chain(
            params
                .into_iter()
                .take(DEFAULT_PARAM_COLUMNS)
                .map(|k| Column {
                    kind: ColumnKind::Param,
                    key: k.to_owned(),
                }),
        )
        .collect()
}

/// The ordering a header link asks for: this column descending, or ascending when it is
/// already sorted descending.
fn toggled_order(current: &str, ident: &str) -> (String, Option<&'static str>) {
    let desc = format!("{ident} DESC");
    let asc = format!("{ident} ASC");
    if current == desc {
        (asc, Some("▼"))
    } else if current == asc || current == ident {
        (desc, Some("▲"))
    } else {
        (desc, None)
    }
}

fn runs_body(
    experiment: &Experiment,
    state: &RunsView,
    columns: &[Column],
    runs: &[Arc<Run>],
    next: &str,
    search_error: Option<TrackingError>,
) -> Markup {
    let base = format!("/experiments/{}", experiment.id);
    let header = |label: &str, ident: Option<String>| -> Markup {
        match ident {
            Some(ident) => {
                let (order, arrow) = toggled_order(&state.order, &ident);
                let href = format!("{base}?{}", state.to_query(columns, &order, ""));
                html! { th { a.sort href=(href) title=(format!("Sort by {ident}")) { (label) @if let Some(a) = arrow { " " (a) } } } }
            }
            None => html! { th { (label) } },
        }
    };
    let error_message = search_error.as_ref().map(|e| e.to_string());
    let position = error_message.as_deref().and_then(format::error_position);
    html! {
        (notice(Some(&state.error)))
        div.bar {
            h1 { (experiment.name) }
            nav.tabs {
                a.active href=(base) { "Runs" }
                a href=(format!("{base}/models")) { "Models" }
            }
        }
        form.filter method="get" action=(base) {
            input type="text" name="filter" value=(state.filter) placeholder="metrics.loss < 0.5 AND params.optimizer = 'adam'" aria-label="Filter runs" spellcheck="false" autocomplete="off";
            @if !state.order.is_empty() { input type="hidden" name="order" value=(state.order); }
            @for c in &state.columns { input type="hidden" name="cols" value=(c.spec()); }
            select name="view" aria-label="Which runs" {
                @for (v, label) in [("active", "Active"), ("deleted", "Deleted"), ("all", "All")] {
                    option value=(v) selected[state.view == v || (state.view.is_empty() && v == "active")] { (label) }
                }
            }
            button type="submit" { "Search" }
            @if !state.filter.is_empty() || !state.order.is_empty() {
                a.button href=(format!("{base}?{}", RunsView { filter: String::new(), ..state.clone() }.to_query(&state.columns, "", ""))) { "Clear" }
            }
        }
        @if let Some(message) = &error_message {
            div.filter-error role="alert" {
                (message)
                @if let Some(pos) = position {
                    @let (before, after) = split_at_char(&state.filter, pos);
                    pre.caret { (before) mark { (after.chars().next().map(String::from).unwrap_or_else(|| " ".into())) } (after.chars().skip(1).collect::<String>()) }
                }
            }
        }
        details.columns data-columns-url=(format!("{base}/columns?{}", state.to_query(columns, &state.order, ""))) {
            summary { "Columns (" (columns.len()) ")" }
            div.picker { a href=(format!("{base}/columns?{}", state.to_query(columns, &state.order, ""))) { "Choose columns" } }
        }
        form #compare method="get" action="/compare" {
            button type="submit" { "Compare selected" }
            span.muted { " " (runs.len()) " runs on this page" }
        }
        div.table-wrap {
            table.grid #runs {
                thead { tr {
                    th { span.sr-only { "Select" } }
                    (header("Run", Some("attributes.run_name".into())))
                    (header("Status", Some("attributes.status".into())))
                    (header("Started", Some("attributes.start_time".into())))
                    th { "Duration" }
                    (header("User", Some("attributes.user_id".into())))
                    th { "Source" }
                    @for c in columns { (header(&c.spec(), c.ident())) }
                } }
                tbody {
                    @for run in runs {
                        @let id = run.info.run_id.to_string();
                        tr {
                            td { input type="checkbox" name="runs" value=(id) form="compare" aria-label=(format!("Select {}", run.info.run_name)); }
                            td {
                                @if run.tags.contains_key(PARENT_RUN_ID_TAG) { span.muted title="nested run" { "↳ " } }
                                a href=(format!("/runs/{id}")) { (run.info.run_name) }
                            }
                            td { span class=(format!("status {}", run.info.status.as_str().to_ascii_lowercase())) { (run.info.status.as_str()) } }
                            td { (format::time(run.info.start_time)) }
                            td { @if let Some(end) = run.info.end_time { (format::duration(end - run.info.start_time)) } @else { span.muted { "—" } } }
                            td { (run.tags.get(USER_TAG).unwrap_or(&run.info.user_id)) }
                            td { (text_cell(run.tags.get(SOURCE_TAG))) }
                            @for c in columns { td.num[c.kind == ColumnKind::Metric] { (c.cell(run)) } }
                        }
                    }
                }
            }
        }
        @if runs.is_empty() && error_message.is_none() { p.muted { "No runs match." } }
        nav.pager {
            @if !state.page.is_empty() {
                a.button href=(format!("{base}?{}", state.to_query(columns, &state.order, ""))) { "← First page" }
            }
            @if !next.is_empty() {
                a.button #next-page href=(format!("{base}?{}", state.to_query(columns, &state.order, next))) { "Next page →" }
            }
        }
    }
}

/// `s` split before its `pos`-th character (a filter error's position counts characters).
fn split_at_char(s: &str, pos: usize) -> (&str, &str) {
    let at = s.char_indices().nth(pos).map_or(s.len(), |(i, _)| i);
    s.split_at(at)
}

/// `GET /experiments/{id}/columns`: the column picker — every metric, param and tag key of
/// the experiment's runs as checkboxes, chosen ones checked. A fragment when the page's
/// script asks for it (`x-fragment: 1`), a page otherwise.
pub async fn columns(
    State(t): State<Tracker>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let state = RunsView::parse(query.as_deref());
    let keys = match t.run_columns(&c, &id, state.view_type()).await {
        Ok(k) => k,
        Err(e) => return page_err(e),
    };
    let base = format!("/experiments/{}", id);
    let chosen: BTreeSet<String> = state.columns.iter().map(Column::spec).collect();
    let group = |title: &str, prefix: &str, keys: &[String]| -> Markup {
        html! {
            fieldset {
                legend { (title) " (" (keys.len()) ")" }
                @for k in keys {
                    @let spec = format!("{prefix}.{k}");
                    label.pick { input type="checkbox" name="cols" value=(spec) checked[chosen.contains(&spec)]; " " (k) }
                }
            }
        }
    };
    let form = html! {
        form.picker-form method="get" action=(base) {
            @if !state.filter.is_empty() { input type="hidden" name="filter" value=(state.filter); }
            @if !state.order.is_empty() { input type="hidden" name="order" value=(state.order); }
            @if !state.view.is_empty() { input type="hidden" name="view" value=(state.view); }
            input.narrow type="search" placeholder="Narrow the list" aria-label="Narrow the list of columns";
            div.groups {
                (group("Metrics", "metrics", &keys.metrics))
                (group("Params", "params", &keys.params))
                (group("Tags", "tags", &keys.tags))
            }
            button type="submit" { "Show these columns" }
        }
    };
    if headers.get("x-fragment").is_some() {
        return Html(form.into_string()).into_response();
    }
    page("Columns", &[("Runs".into(), base.clone())], form).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_through_the_url() {
        let v = RunsView::parse(Some(
            "filter=metrics.acc+%3E+0.5&order=metrics.acc+DESC&cols=metrics.acc&cols=params.lr&n=50&page=abc",
        ));
        assert_eq!(v.filter, "metrics.acc > 0.5");
        assert_eq!(v.size, 50);
        assert_eq!(
            v.columns.iter().map(Column::spec).collect::<Vec<_>>(),
            ["metrics.acc", "params.lr"]
        );
        let q = v.to_query(&v.columns, &v.order, "");
        let again = RunsView::parse(Some(&q));
        assert_eq!(again.filter, v.filter);
        assert_eq!(again.order, v.order);
        assert_eq!(again.columns, v.columns);
        assert_eq!(again.page, "");
    }

    #[test]
    fn page_sizes_are_bounded_and_columns_deduplicated() {
        let v = RunsView::parse(Some("n=100000&cols=metrics.a,metrics.a&cols=bogus"));
        assert_eq!(v.size, MAX_PAGE);
        assert_eq!(v.columns.len(), 1);
    }

    #[test]
    fn keys_are_quoted_when_needed() {
        assert_eq!(quoted_ident("metrics", "loss").unwrap(), "metrics.loss");
        assert_eq!(
            quoted_ident("metrics", "val/loss").unwrap(),
            "metrics.`val/loss`"
        );
        assert_eq!(quoted_ident("params", "a`b").unwrap(), "params.\"a`b\"");
    }

    #[test]
    fn headers_toggle_the_order() {
        assert_eq!(toggled_order("", "metrics.a").0, "metrics.a DESC");
        assert_eq!(
            toggled_order("metrics.a DESC", "metrics.a").0,
            "metrics.a ASC"
        );
        assert_eq!(
            toggled_order("metrics.a ASC", "metrics.a").0,
            "metrics.a DESC"
        );
    }
}
