//! The bodies of the fuzz targets (`fuzz/fuzz_targets/`): each hands arbitrary bytes to one
//! decoder of untrusted input and asserts what must hold for every input — no panic, a
//! refusal that is a client error, and a round trip wherever one exists. `tests/fuzz_seeds.rs`
//! replays every committed seed through the same functions on stable Rust, so CI keeps what
//! fuzzing found.
//!
//! | target | decoder | what must hold |
//! |---|---|---|
//! | `filter_parse` | search filters | see [`crate::query::check_filter_round_trip`] |
//! | `rest_request` | every REST endpoint's request, as a JSON body or a query string | refusals are `INVALID_PARAMETER_VALUE`; decoded requests convert or are refused alike |
//! | `log_stream_batch` | a LogStream batch (protobuf), plain and compact columns | prost's encoding and the fast encoder agree byte for byte; the compact form of any accepted column decodes to the same points |
//! | `metric_chunk` | a stored metric chunk | a malformed chunk is an error; a decoded chunk re-encodes to bytes that decode to the same points |
//! | `page_token` | page tokens of every kind | refusals are `INVALID_PARAMETER_VALUE`; an accepted token encodes back to itself |
//! | `artifact_path` | the artifact path validator | an accepted path is clean, relative, a fixed point of the validator, and stays under any root |

use std::path::{Component, Path};

use prost::Message;
use serde::de::DeserializeOwned;

use crate::domain::{validate, Point, RunWrites};
use crate::error::{ErrorKind, Result, TrackingError};
use crate::grpc::convert;
use crate::query::page;
use crate::rest::json::parse_query;
use crate::rest::requests::{self as req, from_body, from_query};
use crate::store::series::chunk;
use trackd_proto::v1 as pb;

/// A decoder's refusal must be the client's fault: `INVALID_PARAMETER_VALUE`, never an
/// internal error.
fn assert_client_error<T>(result: Result<T>, what: &str) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(err) => {
            assert_eq!(
                err.kind(),
                ErrorKind::InvalidArgument,
                "{what}: refused as {err:?}"
            );
            None
        }
    }
}

/// Decodes `body` as request `T`: a JSON body, or (when `as_query`) a query string.
fn decode<T: DeserializeOwned>(body: &[u8], as_query: bool) -> Option<T> {
    let decoded = if as_query {
        let Ok(query) = std::str::from_utf8(body) else {
            return None; // axum hands handlers only UTF-8 query strings
        };
        parse_query(query).and_then(from_query)
    } else {
        from_body(body)
    };
    assert_client_error(decoded, std::any::type_name::<T>())
}

/// What the server validates of a batch of writes before it reaches the store.
fn validate_writes(writes: &RunWrites) {
    let _ = assert_client_error(validate::run_writes(writes), "run writes");
    let _ = assert_client_error(validate::log_batch(writes), "log batch");
}

/// `rest_request`: the first byte picks the endpoint's request type (low 5 bits) and the form
/// (high bit: query string, else JSON body); the rest is the request.
pub fn check_rest_request(input: &[u8]) {
    let Some((&selector, body)) = input.split_first() else {
        return;
    };
    let q = selector & 0x80 != 0;
    let converted: Option<Result<()>> = match selector & 0x1f {
        0 => decode::<req::CreateExperiment>(body, q).map(|r| r.name.required("name").map(drop)),
        1 => decode::<req::ExperimentRef>(body, q).map(|r| r.id().map(drop)),
        2 => decode::<req::ExperimentByName>(body, q).map(|_| Ok(())),
        3 => decode::<req::SearchExperiments>(body, q).map(|r| {
            if let Some(filter) = r.filter.0 {
                crate::query::check_filter_round_trip(&filter);
            }
            Ok(())
        }),
        4 => decode::<req::UpdateExperiment>(body, q).map(|_| Ok(())),
        5 => decode::<req::ExperimentTag>(body, q).map(|r| match (r.key.0, r.value.0) {
            (Some(k), Some(v)) => validate::experiment_tag(&k, &v),
            _ => Ok(()),
        }),
        6 => decode::<req::CreateRun>(body, q).map(|r| {
            let tags = crate::rest::fields::pairs(r.tags)?;
            validate::create_run_tags(&tags)
        }),
        7 => decode::<req::RunRef>(body, q).map(|r| r.id().map(drop)),
        8 => decode::<req::UpdateRun>(body, q).map(|_| Ok(())),
        9 => decode::<req::SearchRuns>(body, q).map(|r| {
            if let Some(filter) = r.filter.0 {
                crate::query::check_filter_round_trip(&filter);
            }
            crate::query::order::parse_order_by(&r.order_by.strings())
                .map(drop)
                .map_err(TrackingError::invalid)
        }),
        10 => decode::<req::LogMetric>(body, q).map(|r| {
            let (_, key, point, _) = r.into_parts()?;
            validate::metric(&key, &point)
        }),
        11 => decode::<req::RunKeyValue>(body, q).map(|r| match (r.key.0, r.value.0) {
            (Some(k), Some(v)) => validate::param(&k, &v).and(validate::tag(&k, &v)),
            _ => Ok(()),
        }),
        12 => decode::<req::LogBatch>(body, q).map(|r| {
            let parts = r.into_parts()?;
            validate_writes(&parts.writes);
            Ok(())
        }),
        13 => decode::<req::LogInputs>(body, q).map(|r| {
            let (_, inputs) = r.into_parts()?;
            validate::run_inputs(&inputs)
        }),
        14 => decode::<req::LogOutputs>(body, q).map(|r| {
            let (_, outputs) = r.into_parts()?;
            validate::run_outputs(&outputs)
        }),
        15 => decode::<req::LogModel>(body, q).map(|r| {
            let (_, json) = r.into_parts()?;
            validate::logged_model(&json)
        }),
        16 => decode::<req::GetHistory>(body, q).map(|r| {
            if let Some(token) = r.page_token.0 {
                check_page_token(token.as_bytes());
            }
            Ok(())
        }),
        17 => decode::<req::GetHistoryBulkInterval>(body, q).map(|_| Ok(())),
        18 => decode::<req::ListArtifacts>(body, q).map(|r| {
            if let Some(path) = r.path.0 {
                check_artifact_path(&path);
            }
            Ok(())
        }),
        19 => decode::<req::PresignedUrl>(body, q).map(|r| {
            let (_, path, _) = r.into_parts()?;
            check_artifact_path(&path);
            Ok(())
        }),
        20 => decode::<req::CreateLoggedModel>(body, q).map(|r| r.into_new().map(drop)),
        21 => decode::<req::GetLoggedModel>(body, q).map(|_| Ok(())),
        22 => decode::<req::FinalizeLoggedModel>(body, q).map(|_| Ok(())),
        23 => decode::<req::ModelFilesQuery>(body, q).map(|_| Ok(())),
        24 => decode::<req::LoggedModelTags>(body, q)
            .map(|r| crate::rest::fields::pairs(r.tags).map(drop)),
        25 => decode::<req::LoggedModelParams>(body, q)
            .map(|r| crate::rest::fields::pairs(r.params).map(drop)),
        26 => decode::<req::SearchLoggedModels>(body, q).map(|r| r.into_search().map(drop)),
        27 => decode::<req::RegistryRequest>(body, q).map(|r| {
            let _ = assert_client_error(r.version(), "registry version");
            r.name().map(drop)
        }),
        28 => decode::<req::SearchRegistry>(body, q).map(|r| {
            let _ = r.into_search();
            Ok(())
        }),
        29 => decode::<req::CreateBackup>(body, q).map(|_| Ok(())),
        30 => decode::<crate::rest::UserRequest>(body, q).map(|_| Ok(())),
        _ => decode::<crate::rest::GrantRequest>(body, q).map(|_| Ok(())),
    };
    if let Some(result) = converted {
        let _ = assert_client_error(result, "conversion");
    }
}

/// `log_stream_batch`: the bytes are one LogStream request as it arrives on the wire.
pub fn check_log_stream_batch(input: &[u8]) {
    let Ok(request) = pb::LogStreamRequest::decode(input) else {
        return;
    };
    let encoded = request.encode_to_vec();
    assert_eq!(
        request.encode_fast().as_ref(),
        encoded.as_slice(),
        "the fast encoder agrees with prost"
    );
    let again = pb::LogStreamRequest::decode(encoded.as_slice()).expect("prost reads its own");
    assert_eq!(again.encode_to_vec(), encoded, "decode∘encode is stable");
    // Every accepted column: its compact form carries the same points, bit for bit.
    for run in &request.runs {
        for column in &run.metrics {
            let plain = convert::metric_column_points(column);
            let mut compact = column.clone();
            compact.compact();
            let packed = convert::metric_column_points(&compact);
            if let Ok(points) = &plain {
                let packed = packed.expect("the compact form of an accepted column is accepted");
                assert_eq!(bits(points), bits(&packed), "compact columns are lossless");
            }
        }
    }
    if let Some(runs) = assert_client_error(convert::stream_writes(request.runs), "stream batch") {
        for (_, writes) in &runs {
            validate_writes(writes);
        }
    }
}

fn bits(points: &[Point]) -> Vec<(i64, i64, u64)> {
    points
        .iter()
        .map(|p| (p.step, p.timestamp, p.value.to_bits()))
        .collect()
}

/// `metric_chunk`: the first byte picks the direction. Odd: the rest is a stored chunk (as a
/// damaged store could hold); it decodes or is refused, and what decodes re-encodes to a
/// chunk of the same points. Even: the rest is read as points (24 bytes each), which must
/// survive encoding and decoding bit for bit.
pub fn check_metric_chunk(input: &[u8]) {
    let Some((&mode, bytes)) = input.split_first() else {
        return;
    };
    let points = if mode & 1 == 1 {
        let Ok(points) = chunk::decode(bytes) else {
            // Never a partial read: a refused chunk leaves what the caller held untouched.
            let before = Point {
                step: 1,
                timestamp: 2,
                value: 3.0,
            };
            let mut out = vec![before];
            assert!(chunk::decode_into(bytes, &mut out).is_err());
            assert_eq!(
                bits(&out),
                bits(&[before]),
                "a refused chunk appended points"
            );
            return;
        };
        assert_eq!(chunk::count(bytes).ok(), Some(points.len()));
        points
    } else {
        bytes
            .chunks_exact(24)
            .filter_map(crate::store::series::decode_point)
            .collect()
    };
    let mut encoded = Vec::new();
    chunk::encode(&points, &mut encoded);
    let decoded = chunk::decode(&encoded).expect("a chunk the encoder wrote decodes");
    assert_eq!(bits(&points), bits(&decoded), "chunks are lossless");
}

/// `page_token`: the bytes are a page token offered to every kind of listing.
pub fn check_page_token(input: &[u8]) {
    let Ok(token) = std::str::from_utf8(input) else {
        return; // tokens arrive as JSON strings or query values: always UTF-8
    };
    for kind in [
        page::RUN_TOKEN,
        page::EXPERIMENT_TOKEN,
        page::HISTORY_TOKEN,
        page::MODEL_TOKEN,
        page::VERSION_TOKEN,
    ] {
        if let Some(payload) = assert_client_error(page::decode_token(kind, token, 8), "token") {
            assert_eq!(
                page::encode_token(kind, &payload),
                token.to_ascii_lowercase()
            );
        }
        for (clauses, tie) in [(0, 1), (1, 2), (2, 1)] {
            let key = page::decode_key_token(kind, token, clauses, tie);
            if let Some(key) = assert_client_error(key, "keyset token") {
                let again = page::encode_key_token(kind, &key);
                let back = page::decode_key_token(kind, &again, clauses, tie)
                    .expect("an encoded key decodes");
                // Compared as text: a NaN sort value is not equal to itself.
                assert_eq!(format!("{back:?}"), format!("{key:?}"));
            }
        }
    }
}

/// `artifact_path`: the bytes are a client's artifact path.
pub fn check_artifact_path(raw: &str) {
    let Some(path) = assert_client_error(
        crate::artifacts::validate_relative_path(raw),
        "artifact path",
    ) else {
        return;
    };
    assert!(
        !path.contains('\\') && !path.chars().any(char::is_control),
        "{path:?}"
    );
    assert!(!path.starts_with('/') && !path.ends_with('/'), "{path:?}");
    if !path.is_empty() {
        for segment in path.split('/') {
            assert!(
                !segment.is_empty() && segment != "." && segment != "..",
                "{path:?}"
            );
        }
    }
    assert_eq!(
        crate::artifacts::validate_relative_path(&path)
            .ok()
            .as_deref(),
        Some(path.as_str()),
        "a validated path validates to itself"
    );
    let root = Path::new("/srv/store/artifacts");
    let joined = root.join(&path);
    assert!(joined.starts_with(root), "{path:?} leaves the root");
    assert!(
        Path::new(&path)
            .components()
            .all(|c| matches!(c, Component::Normal(_))),
        "{path:?}"
    );
}
