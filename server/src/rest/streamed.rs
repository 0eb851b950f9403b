//! Responses that grow with the data, encoded as they are sent (chunked), so a request's
//! memory does not grow with the series or the page: a metric history is written a block
//! of points at a time, a page of runs a few runs at a time.
//!
//! Errors found before the first byte are ordinary MLflow error answers (the caller checks
//! before streaming). An error after the first byte can only abort the response: the client
//! sees a truncated body, never a well-formed wrong one.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use super::json;
use crate::domain::{Point, Run};
use crate::tracker::HistoryBlocks;

/// Runs encoded per body chunk of a search page.
const RUNS_PER_CHUNK: usize = 64;

fn json_response(body: Body) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// `{"metrics": [...]}` (or `{}` when empty), MLflow's GetMetricHistory answer, written a
/// block at a time.
pub fn history(key: &str, blocks: HistoryBlocks) -> Response {
    let key = serde_json::to_string(key).expect("a string serialises");
    let chunks = futures::stream::unfold(
        (blocks, key, false, false),
        |(mut blocks, key, started, done)| async move {
            if done {
                return None;
            }
            match blocks.next().await {
                Some(Ok(block)) if block.points().is_empty() => {
                    Some((Ok(Bytes::new()), (blocks, key, started, false)))
                }
                Some(Ok(block)) => {
                    let mut out = String::with_capacity(block.points().len() * 64);
                    out.push_str(if started { "," } else { "{\"metrics\":[" });
                    for (i, p) in block.points().iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        write_metric(&mut out, &key, p);
                    }
                    Some((Ok(Bytes::from(out)), (blocks, key, true, false)))
                }
                Some(Err(e)) => Some((Err(std::io::Error::other(e)), (blocks, key, started, true))),
                None => {
                    let end = if started { "]}" } else { "{}" };
                    Some((
                        Ok(Bytes::from_static(end.as_bytes())),
                        (blocks, key, started, true),
                    ))
                }
            }
        },
    );
    json_response(Body::from_stream(chunks))
}

/// One metric point as MLflow writes it; `key` is already a JSON string.
fn write_metric(out: &mut String, key: &str, p: &Point) {
    use std::fmt::Write;
    out.push_str("{\"key\":");
    out.push_str(key);
    out.push_str(",\"value\":");
    if p.value.is_finite() {
        out.push_str(ryu::Buffer::new().format_finite(p.value));
    } else if p.value.is_nan() {
        out.push_str("\"NaN\"");
    } else if p.value > 0.0 {
        out.push_str("\"Infinity\"");
    } else {
        out.push_str("\"-Infinity\"");
    }
    let _ = write!(out, ",\"timestamp\":{},\"step\":{}}}", p.timestamp, p.step);
}

/// `{"runs": [...], "next_page_token": "..."}` (fields omitted when empty), MLflow's
/// SearchRuns answer, written a few runs at a time.
pub fn runs_page(runs: Vec<Arc<Run>>, next_page_token: String) -> Response {
    let tail = if next_page_token.is_empty() {
        "}".to_owned()
    } else {
        format!(
            ",\"next_page_token\":{}}}",
            serde_json::to_string(&next_page_token).expect("a string serialises")
        )
    };
    if runs.is_empty() {
        let body = if next_page_token.is_empty() {
            "{}".to_owned()
        } else {
            format!("{{{}", &tail[1..])
        };
        return json_response(Body::from(body));
    }
    let total = runs.len();
    let chunks = futures::stream::iter((0..total).step_by(RUNS_PER_CHUNK)).map(move |start| {
        let end = (start + RUNS_PER_CHUNK).min(total);
        let mut out = String::new();
        out.push_str(if start == 0 { "{\"runs\":[" } else { "," });
        for (i, run) in runs[start..end].iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&json::run(run).to_string());
        }
        if end == total {
            out.push(']');
            out.push_str(&tail);
        }
        Ok::<_, std::io::Error>(Bytes::from(out))
    });
    json_response(Body::from_stream(chunks))
}

/// Files per body chunk of an artifact listing.
const FILES_PER_CHUNK: usize = 512;

/// An artifact listing, `{<head fields>, "files": [...]}` (`files` omitted when empty),
/// written a few hundred entries at a time. `head` is the JSON object's other fields (`""`
/// for none, else `"root_uri":"…"`); `name` picks the path shown for each file.
pub fn files(
    head: String,
    files: Vec<crate::artifacts::ArtifactFile>,
    name: fn(&crate::artifacts::ArtifactFile) -> &str,
) -> Response {
    if files.is_empty() {
        return json_response(Body::from(format!("{{{head}}}")));
    }
    let total = files.len();
    let chunks = futures::stream::iter((0..total).step_by(FILES_PER_CHUNK)).map(move |start| {
        let end = (start + FILES_PER_CHUNK).min(total);
        let mut out = String::new();
        if start == 0 {
            out.push('{');
            out.push_str(&head);
            out.push_str(if head.is_empty() {
                "\"files\":["
            } else {
                ",\"files\":["
            });
        } else {
            out.push(',');
        }
        for (i, f) in files[start..end].iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let mut entry = serde_json::json!({"path": name(f), "is_dir": f.is_dir});
            if let Some(size) = f.size {
                entry["file_size"] = serde_json::json!(size);
            }
            out.push_str(&entry.to_string());
        }
        if end == total {
            out.push_str("]}");
        }
        Ok::<_, std::io::Error>(Bytes::from(out))
    });
    json_response(Body::from_stream(chunks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_written_as_mlflow_writes_them() {
        for value in [
            0.5,
            1.0,
            -2.0e-300,
            1e300,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            let p = Point {
                step: -3,
                timestamp: 1_700_000_000_000,
                value,
            };
            let mut out = String::new();
            write_metric(&mut out, "\"loss \\\"x\\\"\"", &p);
            let ours: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(ours, json::metric("loss \"x\"", &p), "{out}");
        }
    }
}
