//! How values look on a page: times, durations, numbers, and URL pieces.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Characters escaped in one URL path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// One URL path segment, percent-encoded.
pub fn segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// A query string from pairs (`a=1&b=x%20y`), without the `?`.
pub fn query<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        out.append_pair(k, v);
    }
    out.finish()
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SS` (UTC).
pub fn time(ms: i64) -> String {
    crate::domain::utc_datetime(ms)
}

/// A duration in milliseconds, short (`850ms`, `12.3s`, `4m 05s`, `2h 03m`, `3d 04h`).
pub fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    match ms {
        0..=999 => format!("{ms}ms"),
        1000..=59_999 => format!("{:.1}s", ms as f64 / 1000.0),
        60_000..=3_599_999 => format!("{}m {:02}s", ms / 60_000, ms % 60_000 / 1000),
        3_600_000..=86_399_999 => format!("{}h {:02}m", ms / 3_600_000, ms % 3_600_000 / 60_000),
        _ => format!("{}d {:02}h", ms / 86_400_000, ms % 86_400_000 / 3_600_000),
    }
}

/// A metric value: up to 6 significant digits, NaN and infinities by name.
pub fn number(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "∞" } else { "-∞" }.into();
    }
    if v == v.trunc() && v.abs() < 1e15 {
        return format!("{}", v as i64);
    }
    let abs = v.abs();
    if !(1e-4..1e9).contains(&abs) {
        return format!("{v:.4e}");
    }
    // Six significant digits, trailing zeros dropped.
    let decimals = (5 - abs.log10().floor() as i32).clamp(0, 10) as usize;
    let out = format!("{v:.decimals$}");
    if out.contains('.') {
        out.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        out
    }
}

/// A filter matching names that contain `text`, case-insensitively (empty: no filter).
pub fn name_contains(text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!("name ILIKE '%{}%'", text.replace('\'', "''"))
    }
}

/// The position in a filter error message (`Invalid filter at position 13: …`).
pub fn error_position(message: &str) -> Option<usize> {
    let rest = &message[message.find("at position ")? + "at position ".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_calendar_dates() {
        assert_eq!(time(0), "1970-01-01 00:00:00");
        assert_eq!(time(1_764_650_000_000), "2025-12-02 04:33:20");
        assert_eq!(time(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(time(-1000), "1969-12-31 23:59:59");
    }

    #[test]
    fn durations_are_short() {
        assert_eq!(duration(850), "850ms");
        assert_eq!(duration(12_340), "12.3s");
        assert_eq!(duration(245_000), "4m 05s");
        assert_eq!(duration(7_380_000), "2h 03m");
        assert_eq!(duration(273_600_000), "3d 04h");
    }

    #[test]
    fn numbers_are_readable() {
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.123456789), "0.123457");
        assert_eq!(number(1234.56789), "1234.57");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(f64::NEG_INFINITY), "-∞");
        assert_eq!(number(1.5e-7), "1.5000e-7");
    }

    #[test]
    fn filter_error_positions_are_found() {
        assert_eq!(
            error_position("Invalid filter at position 13: expected a value"),
            Some(13)
        );
        assert_eq!(error_position("something else"), None);
    }

    #[test]
    fn url_pieces_are_encoded() {
        assert_eq!(segment("a b/c"), "a%20b%2Fc");
        assert_eq!(query([("f", "x = 'y'"), ("n", "1")]), "f=x+%3D+%27y%27&n=1");
    }
}
