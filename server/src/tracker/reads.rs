//! The Tracker's reads that take more than a lookup: SearchRuns and SearchExperiments
//! (filter, order, keyset pages from `query/`), paged and one-message metric histories, and
//! sampled histories for charts. Streaming history reads are in `history`.

use crate::backend::TrackingBackend;
use crate::domain::{Experiment, ExperimentId, Point, Run, RunId, ViewType};
use crate::error::{Result, TrackingError};
use crate::query::eval::FilterError;
use crate::query::filter::Expr;
use crate::query::order::{self, OrderClause, SortKey};
use crate::query::page::{
    decode_key_token, decode_token, encode_token, keyset_page, EXPERIMENT_TOKEN, HISTORY_TOKEN,
    RUN_TOKEN,
};
use crate::query::{eval, filter, sample};

/// Default `max_results` of searches.
pub const SEARCH_MAX_RESULTS_DEFAULT: i64 = 1000;
/// Largest `max_results` of searches.
pub const SEARCH_MAX_RESULTS_THRESHOLD: i64 = 50_000;
/// Largest page of a metric history.
pub const HISTORY_MAX_RESULTS: i64 = 25_000;
/// Most points a whole-series `GetMetricHistory` (one message of MLflow's per-point
/// metrics) answers; longer series are paged or streamed.
pub const UNARY_HISTORY_MAX_POINTS: u64 = 100_000;
/// Most points a `GetMetricHistoryColumns` answers in its one message (24 MB of columns);
/// longer series are streamed.
pub const UNARY_COLUMNS_MAX_POINTS: u64 = 1_000_000;

/// One page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Token of the next page; empty on the last page.
    pub next_page_token: String,
}

/// Arguments of SearchRuns.
#[derive(Debug, Clone, Default)]
pub struct RunSearch {
    /// Experiments to search (ids as sent).
    pub experiment_ids: Vec<String>,
    /// Filter expression (empty: every run).
    pub filter: String,
    /// Lifecycle stages to include.
    pub view: ViewType,
    /// Page size; 0 means the default (1000).
    pub max_results: i64,
    /// Ordering clauses.
    pub order_by: Vec<String>,
    /// Token from the previous page.
    pub page_token: String,
}

/// Arguments of SearchExperiments.
#[derive(Debug, Clone, Default)]
pub struct ExperimentSearch {
    /// Filter expression (empty: every experiment).
    pub filter: String,
    /// Lifecycle stages to include.
    pub view: ViewType,
    /// Page size; 0 means the default (1000).
    pub max_results: i64,
    /// Ordering clauses.
    pub order_by: Vec<String>,
    /// Token from the previous page.
    pub page_token: String,
}

pub(super) fn page_size(max_results: i64) -> Result<usize> {
    match max_results {
        0 => Ok(SEARCH_MAX_RESULTS_DEFAULT as usize),
        n if (1..=SEARCH_MAX_RESULTS_THRESHOLD).contains(&n) => Ok(n as usize),
        n => Err(TrackingError::invalid(format!(
            "Invalid value {n} for parameter 'max_results' supplied. It must be between 1 and \
             {SEARCH_MAX_RESULTS_THRESHOLD}."
        ))),
    }
}

fn invalid_filter(e: impl std::fmt::Display) -> TrackingError {
    TrackingError::invalid(e.to_string())
}

/// What one kind of search accepts: its page-token kind, its filter and ordering checks, and
/// how many tie-break values its sort keys carry under given orderings.
pub(super) struct SearchRules<'a> {
    pub token: u8,
    pub check_filter: &'a dyn Fn(&Expr) -> std::result::Result<(), FilterError>,
    pub check_order: &'a dyn Fn(&[OrderClause]) -> std::result::Result<(), String>,
    pub tie: &'a dyn Fn(&[OrderClause]) -> usize,
}

/// A search request, checked once for every kind of search: the filter parsed and
/// type-checked, the orderings parsed and checked, the page size, where to resume.
pub(super) struct CheckedSearch {
    pub expr: Option<Expr>,
    pub clauses: Vec<OrderClause>,
    size: usize,
    after: Option<SortKey>,
    token: u8,
}

impl CheckedSearch {
    pub(super) fn new(
        filter_text: &str,
        order_by: &[String],
        max_results: i64,
        page_token: &str,
        rules: &SearchRules<'_>,
    ) -> Result<Self> {
        let size = page_size(max_results)?;
        let expr = filter::parse(filter_text).map_err(invalid_filter)?;
        if let Some(e) = &expr {
            (rules.check_filter)(e).map_err(invalid_filter)?;
        }
        let clauses = order::parse_order_by(order_by).map_err(TrackingError::invalid)?;
        (rules.check_order)(&clauses).map_err(TrackingError::invalid)?;
        let after = if page_token.is_empty() {
            None
        } else {
            Some(decode_key_token(
                rules.token,
                page_token,
                clauses.len(),
                (rules.tie)(&clauses),
            )?)
        };
        Ok(CheckedSearch {
            expr,
            clauses,
            size,
            after,
            token: rules.token,
        })
    }

    /// The page of `rows` (with their sort keys) this search asks for.
    pub(super) fn page<T>(&self, rows: Vec<(SortKey, T)>) -> Page<T> {
        let (items, next_page_token) = keyset_page(
            rows,
            &self.clauses,
            self.after.as_ref(),
            self.size,
            self.token,
        );
        Page {
            items,
            next_page_token,
        }
    }
}

// --- runs -----------------------------------------------------------------------------------

pub(crate) fn search_runs(
    backend: &dyn TrackingBackend,
    search: &RunSearch,
) -> Result<Page<std::sync::Arc<Run>>> {
    let checked = CheckedSearch::new(
        &search.filter,
        &search.order_by,
        search.max_results,
        &search.page_token,
        &SearchRules {
            token: RUN_TOKEN,
            check_filter: &eval::check_runs,
            check_order: &order::check_run_clauses,
            tie: &|_| 2,
        },
    )?;
    let experiments: Vec<ExperimentId> = search
        .experiment_ids
        .iter()
        .map(|e| ExperimentId::parse(e))
        .collect::<Result<_>>()?;
    let runs = backend.search_runs(&experiments, search.view, checked.expr.as_ref())?;
    let rows: Vec<(SortKey, std::sync::Arc<Run>)> = runs
        .into_iter()
        .map(|r| (order::run_key(&r, &checked.clauses), r))
        .collect();
    Ok(checked.page(rows))
}

// --- experiments ----------------------------------------------------------------------------

pub(crate) fn search_experiments(
    backend: &dyn TrackingBackend,
    search: &ExperimentSearch,
) -> Result<Page<Experiment>> {
    let checked = CheckedSearch::new(
        &search.filter,
        &search.order_by,
        search.max_results,
        &search.page_token,
        &SearchRules {
            token: EXPERIMENT_TOKEN,
            check_filter: &eval::check_experiments,
            check_order: &order::check_experiment_clauses,
            // MLflow's default order has two tie-break values, an explicit one only the id.
            tie: &|clauses| if clauses.is_empty() { 2 } else { 1 },
        },
    )?;
    let rows: Vec<(SortKey, Experiment)> = backend
        .experiments()?
        .into_iter()
        .filter(|e| search.view.includes(e.lifecycle))
        .filter(|e| {
            checked
                .expr
                .as_ref()
                .is_none_or(|x| eval::matches_experiment(x, e))
        })
        .map(|e| (order::experiment_key(&e, &checked.clauses), e))
        .collect();
    Ok(checked.page(rows))
}

// --- metric history -------------------------------------------------------------------------

pub(crate) fn metric_history(
    backend: &dyn TrackingBackend,
    run: RunId,
    key: &str,
    page_token: &str,
    max_results: i64,
) -> Result<Page<Point>> {
    if !(0..=HISTORY_MAX_RESULTS).contains(&max_results) {
        return Err(TrackingError::invalid(format!(
            "Invalid value {max_results} for parameter 'max_results': it must be between 1 and \
             {HISTORY_MAX_RESULTS} (or unset for the whole history)."
        )));
    }
    backend.run_info(run)?;
    let offset = if page_token.is_empty() {
        0
    } else {
        let raw = decode_token(HISTORY_TOKEN, page_token, 8)?;
        u64::from_be_bytes(raw.try_into().expect("8 bytes")) as usize
    };
    let mut reader = backend.history(run, key, None, None)?;
    let total = reader.points_hint();
    let wanted = if max_results == 0 {
        let rest = total.saturating_sub(offset as u64);
        if rest > UNARY_HISTORY_MAX_POINTS {
            return Err(too_long_for_one_message(
                "GetMetricHistory",
                rest,
                UNARY_HISTORY_MAX_POINTS,
                "page it with max_results and page_token, or read it with StreamMetricHistory",
            ));
        }
        rest as usize
    } else {
        max_results as usize
    };
    reader.skip(offset)?;
    let mut items = Vec::with_capacity(wanted.min(HISTORY_MAX_RESULTS as usize));
    while items.len() < wanted {
        match reader.next_block_max(wanted - items.len())? {
            Some(block) => items.extend(block),
            None => break,
        }
    }
    let end = offset.saturating_add(items.len());
    let next_page_token = if max_results > 0 && (end as u64) < total {
        encode_token(HISTORY_TOKEN, &(end as u64).to_be_bytes())
    } else {
        String::new()
    };
    Ok(Page {
        items,
        next_page_token,
    })
}

fn too_long_for_one_message(call: &str, points: u64, limit: u64, instead: &str) -> TrackingError {
    TrackingError::invalid(format!(
        "The series has {points} points, more than the {limit} one {call} answers in a single \
         message; {instead}."
    ))
}

/// Every point of one series in step order, optionally limited to a step range, for
/// answers in one message (at most [`UNARY_COLUMNS_MAX_POINTS`]).
pub(crate) fn history_range(
    backend: &dyn TrackingBackend,
    run: RunId,
    key: &str,
    start_step: Option<i64>,
    end_step: Option<i64>,
) -> Result<Vec<Point>> {
    if let (Some(a), Some(b)) = (start_step, end_step) {
        if a > b {
            return Err(TrackingError::invalid(format!(
                "start_step ({a}) must not exceed end_step ({b})"
            )));
        }
    }
    backend.run_info(run)?;
    let mut reader = backend.history(run, key, start_step, end_step)?;
    let mut points = Vec::new();
    while let Some(block) = reader.next_block()? {
        points.extend(block);
        if points.len() as u64 > UNARY_COLUMNS_MAX_POINTS {
            return Err(too_long_for_one_message(
                "GetMetricHistoryColumns",
                reader.points_hint(),
                UNARY_COLUMNS_MAX_POINTS,
                "read it with StreamMetricHistory, or ask for a step range",
            ));
        }
    }
    Ok(points)
}

/// Most series in one sampled-history request.
pub const SAMPLED_MAX_SERIES: usize = 1000;
/// Most points per series of a sampled history.
pub const SAMPLED_MAX_POINTS: usize = 25_000;

/// How a sampled history picks its points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sampling {
    /// First, last, and the minimum and maximum of each bucket.
    #[default]
    MinMax,
    /// Largest-Triangle-Three-Buckets (plus the global minimum and maximum).
    Lttb,
}

/// Arguments of a sampled history.
#[derive(Debug, Clone)]
pub struct SampledHistory {
    /// Runs (ids as sent).
    pub run_ids: Vec<String>,
    /// Metric keys.
    pub keys: Vec<String>,
    /// Most points per series (0 → 1000).
    pub max_points: usize,
    /// Only steps ≥ this.
    pub start_step: Option<i64>,
    /// Only steps ≤ this.
    pub end_step: Option<i64>,
    /// How points are picked.
    pub method: Sampling,
}

impl SampledHistory {
    /// MLflow's GetMetricHistoryBulkInterval, with its limits: 1 to 100 runs, one key, 1 to
    /// 2500 points per series (default 2500), a step range given whole or not at all;
    /// min/max sampling.
    pub fn bulk_interval(
        run_ids: Vec<String>,
        key: String,
        start_step: Option<i64>,
        end_step: Option<i64>,
        max_results: Option<i64>,
    ) -> Result<Self> {
        if run_ids.is_empty() {
            return Err(TrackingError::invalid(
                "Missing value for required parameter 'run_ids'.",
            ));
        }
        if run_ids.len() > BULK_INTERVAL_MAX_RUNS {
            return Err(TrackingError::invalid(format!(
                "GetMetricHistoryBulkInterval takes at most {BULK_INTERVAL_MAX_RUNS} run_ids, got {}.",
                run_ids.len()
            )));
        }
        if start_step.is_some() != end_step.is_some() {
            return Err(TrackingError::invalid(
                "start_step and end_step must be given together.",
            ));
        }
        let max = max_results.unwrap_or(BULK_INTERVAL_MAX_POINTS as i64);
        if !(1..=BULK_INTERVAL_MAX_POINTS as i64).contains(&max) {
            return Err(TrackingError::invalid(format!(
                "max_results must be between 1 and {BULK_INTERVAL_MAX_POINTS}, got {max}."
            )));
        }
        Ok(SampledHistory {
            run_ids,
            keys: vec![key],
            max_points: max as usize,
            start_step,
            end_step,
            method: Sampling::MinMax,
        })
    }
}

/// Most runs of one GetMetricHistoryBulkInterval (MLflow's limit).
pub const BULK_INTERVAL_MAX_RUNS: usize = 100;
/// Most points per series of one GetMetricHistoryBulkInterval (MLflow's limit).
pub const BULK_INTERVAL_MAX_POINTS: usize = 2500;

/// One sampled series.
#[derive(Debug, Clone, PartialEq)]
pub struct SampledSeries {
    /// The run.
    pub run_id: RunId,
    /// The metric key.
    pub key: String,
    /// The kept points, in step order.
    pub points: Vec<Point>,
    /// Points of the series in the step range before sampling.
    pub total_points: usize,
}

pub(crate) fn sampled_history(
    backend: &dyn TrackingBackend,
    req: &SampledHistory,
) -> Result<Vec<SampledSeries>> {
    if req.run_ids.is_empty() || req.keys.is_empty() {
        return Err(TrackingError::invalid(
            "run_ids and metric_keys must each name at least one entry",
        ));
    }
    if req.run_ids.len() * req.keys.len() > SAMPLED_MAX_SERIES {
        return Err(TrackingError::invalid(format!(
            "at most {SAMPLED_MAX_SERIES} series (runs x keys) per request, got {}",
            req.run_ids.len() * req.keys.len()
        )));
    }
    let max_points = match req.max_points {
        0 => 1000,
        n if n <= SAMPLED_MAX_POINTS => n,
        n => {
            return Err(TrackingError::invalid(format!(
                "max_points must be at most {SAMPLED_MAX_POINTS}, got {n}"
            )))
        }
    };
    if let (Some(a), Some(b)) = (req.start_step, req.end_step) {
        if a > b {
            return Err(TrackingError::invalid(format!(
                "start_step ({a}) must not exceed end_step ({b})"
            )));
        }
    }
    let runs: Vec<RunId> = req
        .run_ids
        .iter()
        .map(|r| RunId::parse(r))
        .collect::<Result<_>>()?;
    let mut out = Vec::with_capacity(runs.len() * req.keys.len());
    for run in &runs {
        backend.run_info(*run)?;
        for key in &req.keys {
            if req.method == Sampling::MinMax && req.start_step.is_none() && req.end_step.is_none()
            {
                out.push(stream_min_max(backend, *run, key, max_points)?);
                continue;
            }
            // Only the chunks that hold the range are read.
            let mut reader = backend.history(*run, key, req.start_step, req.end_step)?;
            let mut points = Vec::new();
            while let Some(block) = reader.next_block()? {
                points.extend(block);
            }
            let range = &points[..];
            let kept = match req.method {
                Sampling::MinMax => sample::min_max(range, max_points),
                Sampling::Lttb => sample::lttb(range, max_points),
            };
            out.push(SampledSeries {
                run_id: *run,
                key: key.clone(),
                points: kept,
                total_points: range.len(),
            });
        }
    }
    Ok(out)
}

/// Min/max sampling of a whole series as it is read, a block at a time, without
/// materialising it (a million points would be 24 MB), whatever order it was logged in.
fn stream_min_max(
    backend: &dyn TrackingBackend,
    run: RunId,
    key: &str,
    max_points: usize,
) -> Result<SampledSeries> {
    let mut reader = backend.history(run, key, None, None)?;
    let total = reader.points_hint() as usize;
    let mut sampler = sample::MinMaxSampler::new(total, max_points);
    while let Some(block) = reader.next_block()? {
        sampler.extend(&block);
    }
    Ok(SampledSeries {
        run_id: run,
        key: key.to_owned(),
        points: sampler.finish(),
        total_points: total,
    })
}
