//! Keyset pages and their tokens: a page token holds the sort key of the last item returned
//! (so a page boundary does not move when items are created concurrently), or an offset for
//! metric histories. Tokens are opaque hex strings with a kind byte, validated before use.

use super::order::{self, OrderClause, SortKey};
use crate::error::{Result, TrackingError};

pub(crate) fn encode_token(kind: u8, payload: &[u8]) -> String {
    let mut s = String::with_capacity(2 + 2 * payload.len());
    s.push_str(&format!("{kind:02x}"));
    for b in payload {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

fn decode_token_bytes(kind: u8, token: &str) -> Result<Vec<u8>> {
    let bad = || {
        TrackingError::invalid(format!(
            "Invalid page token '{}'.",
            crate::domain::validate::abbreviate(token)
        ))
    };
    if token.len() < 2
        || !token.len().is_multiple_of(2)
        || token.len() > 64 * 1024
        || !token.bytes().all(|b| b.is_ascii_hexdigit())
    {
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

pub(crate) fn decode_token(kind: u8, token: &str, len: usize) -> Result<Vec<u8>> {
    let bytes = decode_token_bytes(kind, token)?;
    if bytes.len() != len {
        return Err(TrackingError::invalid(format!(
            "Invalid page token '{}'.",
            crate::domain::validate::abbreviate(token)
        )));
    }
    Ok(bytes)
}

/// Encodes a keyset token (the sort key of a page's last row).
pub(crate) fn encode_key_token(kind: u8, key: &SortKey) -> String {
    encode_token(
        kind,
        &postcard::to_stdvec(key).expect("sort keys serialise"),
    )
}

/// Decodes a keyset token and checks it fits the query's ordering.
pub(crate) fn decode_key_token(
    kind: u8,
    token: &str,
    clauses: usize,
    tie: usize,
) -> Result<SortKey> {
    let bytes = decode_token_bytes(kind, token)?;
    let key: SortKey = postcard::from_bytes(&bytes).map_err(|_| {
        TrackingError::invalid(format!(
            "Invalid page token '{}'.",
            crate::domain::validate::abbreviate(token)
        ))
    })?;
    if key.values.len() != clauses || key.tie.len() != tie {
        return Err(TrackingError::invalid(
            "Invalid page token: it belongs to a search with a different order_by.",
        ));
    }
    Ok(key)
}

pub(crate) const RUN_TOKEN: u8 = 0x52;
pub(crate) const EXPERIMENT_TOKEN: u8 = 0x45;
pub(crate) const HISTORY_TOKEN: u8 = 0x48;
pub(crate) const MODEL_TOKEN: u8 = 0x4D;
pub(crate) const REGISTERED_TOKEN: u8 = 0x52;
pub(crate) const VERSION_TOKEN: u8 = 0x56;

/// Sorts `rows` by their keys, skips those up to `after`, and cuts a page of `size`.
pub(crate) fn keyset_page<T>(
    mut rows: Vec<(SortKey, T)>,
    clauses: &[OrderClause],
    after: Option<&SortKey>,
    size: usize,
    token_kind: u8,
) -> (Vec<T>, String) {
    rows.sort_by(|a, b| order::compare(&a.0, &b.0, clauses));
    let start = match after {
        None => 0,
        Some(k) => rows.partition_point(|(key, _)| order::compare(key, k, clauses).is_le()),
    };
    let mut page: Vec<(SortKey, T)> = rows.into_iter().skip(start).take(size + 1).collect();
    let more = page.len() > size;
    page.truncate(size);
    let token = match (more, page.last()) {
        (true, Some((key, _))) => encode_key_token(token_kind, key),
        _ => String::new(),
    };
    (page.into_iter().map(|(_, item)| item).collect(), token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_roundtrip_and_reject_garbage() {
        let t = encode_token(HISTORY_TOKEN, &[1, 2, 3]);
        assert_eq!(decode_token(HISTORY_TOKEN, &t, 3).unwrap(), vec![1, 2, 3]);
        assert!(decode_token(EXPERIMENT_TOKEN, &t, 3).is_err());
        // `from_str_radix` alone would take a sign: "+0" is not a hex byte.
        for bad in ["", "zz", "garbage", "5201020", "é", "48+0+1+2", "48-1"] {
            assert!(decode_token(HISTORY_TOKEN, bad, 3).is_err(), "{bad}");
            assert!(decode_key_token(RUN_TOKEN, bad, 1, 2).is_err(), "{bad}");
        }
    }
}
