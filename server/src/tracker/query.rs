//! Searches and paged reads: SearchRuns, SearchExperiments, GetMetricHistory.
//!
//! Paging is keyset-based: a page token holds the sort key of the last item returned, so a
//! page boundary does not move when runs are created concurrently. Tokens are opaque hex
//! strings with a kind prefix and are validated before use.

use crate::domain::{Experiment, ExperimentId, Point, Run, RunId, RunInfo, ViewType};
use crate::error::{Result, TrackingError};
use crate::store::Store;

/// Default `max_results` of searches.
pub const SEARCH_MAX_RESULTS_DEFAULT: i64 = 1000;
/// Largest `max_results` of searches.
pub const SEARCH_MAX_RESULTS_THRESHOLD: i64 = 50_000;
/// Largest page of a metric history.
pub const HISTORY_MAX_RESULTS: i64 = 25_000;

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

fn page_size(max_results: i64) -> Result<usize> {
    match max_results {
        0 => Ok(SEARCH_MAX_RESULTS_DEFAULT as usize),
        n if (1..=SEARCH_MAX_RESULTS_THRESHOLD).contains(&n) => Ok(n as usize),
        n => Err(TrackingError::invalid(format!(
            "Invalid value {n} for parameter 'max_results' supplied. It must be between 1 and \
             {SEARCH_MAX_RESULTS_THRESHOLD}."
        ))),
    }
}

fn unsupported_query(filter: &str, order_by: &[String]) -> Result<()> {
    if !filter.trim().is_empty() {
        return Err(TrackingError::invalid(
            "Filter expressions are not supported by this server version yet; search without \
             'filter' and filter client-side.",
        ));
    }
    if !order_by.is_empty() {
        return Err(TrackingError::invalid(
            "'order_by' is not supported by this server version yet; results come in the default \
             order (start/creation time descending, then id).",
        ));
    }
    Ok(())
}

// --- page tokens ----------------------------------------------------------------------------

fn encode_token(kind: u8, payload: &[u8]) -> String {
    let mut s = String::with_capacity(2 + 2 * payload.len());
    s.push_str(&format!("{kind:02x}"));
    for b in payload {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

fn decode_token(kind: u8, token: &str, len: usize) -> Result<Vec<u8>> {
    let bad = || {
        TrackingError::invalid(format!(
            "Invalid page token '{}'.",
            crate::domain::validate::abbreviate(token)
        ))
    };
    if token.len() != 2 + 2 * len || !token.is_ascii() {
        return Err(bad());
    }
    let bytes: Vec<u8> = (0..token.len() / 2)
        .map(|i| u8::from_str_radix(&token[2 * i..2 * i + 2], 16))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| bad())?;
    if bytes[0] != kind {
        return Err(bad());
    }
    Ok(bytes[1..].to_vec())
}

const RUN_TOKEN: u8 = 0x52;
const EXPERIMENT_TOKEN: u8 = 0x45;
const HISTORY_TOKEN: u8 = 0x48;

// --- runs -----------------------------------------------------------------------------------

/// The default run order: start_time descending, then run id ascending.
fn run_order(a: &RunInfo, b: &RunInfo) -> std::cmp::Ordering {
    b.start_time
        .cmp(&a.start_time)
        .then(a.run_id.cmp(&b.run_id))
}

pub(crate) fn search_runs(store: &Store, search: &RunSearch) -> Result<Page<Run>> {
    let size = page_size(search.max_results)?;
    unsupported_query(&search.filter, &search.order_by)?;
    let after = if search.page_token.is_empty() {
        None
    } else {
        let raw = decode_token(RUN_TOKEN, &search.page_token, 24)?;
        let start = i64::from_be_bytes(raw[..8].try_into().expect("8 bytes"));
        let id = RunId(raw[8..24].try_into().expect("16 bytes"));
        Some((start, id))
    };
    let mut infos = Vec::new();
    for exp in &search.experiment_ids {
        let exp = ExperimentId::parse(exp)?;
        for id in store.run_ids(exp)? {
            // An index entry whose run record did not survive a crash is skipped.
            let Ok(info) = store.run_info(id) else {
                continue;
            };
            if !search.view.includes(info.lifecycle) {
                continue;
            }
            if let Some((start, last)) = after {
                let is_after =
                    info.start_time < start || (info.start_time == start && info.run_id > last);
                if !is_after {
                    continue;
                }
            }
            infos.push(info);
        }
    }
    infos.sort_by(run_order);
    let more = infos.len() > size;
    infos.truncate(size);
    let next_page_token = match (more, infos.last()) {
        (true, Some(last)) => {
            let mut payload = last.start_time.to_be_bytes().to_vec();
            payload.extend_from_slice(&last.run_id.0);
            encode_token(RUN_TOKEN, &payload)
        }
        _ => String::new(),
    };
    let items = infos
        .into_iter()
        .map(|info| store.run_with_info(info))
        .collect::<Result<_>>()?;
    Ok(Page {
        items,
        next_page_token,
    })
}

// --- experiments ----------------------------------------------------------------------------

pub(crate) fn search_experiments(
    store: &Store,
    search: &ExperimentSearch,
) -> Result<Page<Experiment>> {
    let size = page_size(search.max_results)?;
    unsupported_query(&search.filter, &search.order_by)?;
    let after = if search.page_token.is_empty() {
        None
    } else {
        let raw = decode_token(EXPERIMENT_TOKEN, &search.page_token, 16)?;
        let created = i64::from_be_bytes(raw[..8].try_into().expect("8 bytes"));
        let id = u64::from_be_bytes(raw[8..16].try_into().expect("8 bytes"));
        Some((created, id))
    };
    let mut exps: Vec<Experiment> = store
        .experiments()?
        .into_iter()
        .filter(|e| search.view.includes(e.lifecycle))
        .filter(|e| match after {
            None => true,
            Some((created, id)) => {
                e.creation_time < created || (e.creation_time == created && e.id.0 > id)
            }
        })
        .collect();
    exps.sort_by(|a, b| b.creation_time.cmp(&a.creation_time).then(a.id.cmp(&b.id)));
    let more = exps.len() > size;
    exps.truncate(size);
    let next_page_token = match (more, exps.last()) {
        (true, Some(last)) => {
            let mut payload = last.creation_time.to_be_bytes().to_vec();
            payload.extend_from_slice(&last.id.0.to_be_bytes());
            encode_token(EXPERIMENT_TOKEN, &payload)
        }
        _ => String::new(),
    };
    Ok(Page {
        items: exps,
        next_page_token,
    })
}

// --- metric history -------------------------------------------------------------------------

pub(crate) fn metric_history(
    store: &Store,
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
    store.run_info(run)?;
    let offset = if page_token.is_empty() {
        0
    } else {
        let raw = decode_token(HISTORY_TOKEN, page_token, 8)?;
        u64::from_be_bytes(raw.try_into().expect("8 bytes")) as usize
    };
    let mut points = store.metric_history(run, key)?;
    let in_order = points
        .windows(2)
        .all(|w| history_order(&w[0], &w[1]).is_le());
    if !in_order {
        points.sort_by(history_order);
    }
    if max_results == 0 {
        let items = points.split_off(offset.min(points.len()));
        return Ok(Page {
            items,
            next_page_token: String::new(),
        });
    }
    let end = offset
        .saturating_add(max_results as usize)
        .min(points.len());
    let items = points
        .get(offset.min(end)..end)
        .unwrap_or_default()
        .to_vec();
    let next_page_token = if end < points.len() {
        encode_token(HISTORY_TOKEN, &(end as u64).to_be_bytes())
    } else {
        String::new()
    };
    Ok(Page {
        items,
        next_page_token,
    })
}

/// History order: step, then timestamp, then value.
fn history_order(a: &Point, b: &Point) -> std::cmp::Ordering {
    (a.step, a.timestamp)
        .cmp(&(b.step, b.timestamp))
        .then(a.value.total_cmp(&b.value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_roundtrip_and_reject_garbage() {
        let t = encode_token(RUN_TOKEN, &[1, 2, 3]);
        assert_eq!(decode_token(RUN_TOKEN, &t, 3).unwrap(), vec![1, 2, 3]);
        assert!(decode_token(EXPERIMENT_TOKEN, &t, 3).is_err());
        for bad in ["", "zz", "garbage", "5201020", "é"] {
            assert!(decode_token(RUN_TOKEN, bad, 3).is_err(), "{bad}");
        }
    }
}
