//! The one validator of client-supplied artifact paths.
//!
//! The path is percent-decoded until it stops changing (so `%252e%252e` cannot smuggle a
//! `..` past a single decode), then refused if it is absolute or a drive path, contains `\`,
//! NUL or control characters, `?` or `#`, has a `..`, `.` or empty segment (one trailing `/`
//! is allowed: `dir/` names `dir`), or has a segment longer than a file name may be. The
//! result is a clean relative path with `/` separators; `""` names the root.
//!
//! Refusing `.` and empty segments (rather than dropping them) matters: `.` would otherwise
//! normalise to the root, and an operation meant for a file could reach a whole tree.

use crate::error::{Result, TrackingError};

/// Most decoding rounds before a path is called hostile.
const MAX_DECODE_ROUNDS: usize = 4;
/// Longest artifact path, in bytes.
const MAX_PATH_LEN: usize = 4096;
/// Longest file or directory name, in bytes (Linux's `NAME_MAX`).
pub const MAX_NAME_LEN: usize = 255;

fn refuse(path: &str, why: &str) -> TrackingError {
    TrackingError::invalid(format!(
        "Invalid path '{}': {why}.",
        crate::domain::validate::abbreviate(path)
    ))
}

/// Scheme of artifact URIs served by this server.
pub const SCHEME: &str = "mlflow-artifacts:/";

/// The directory, relative to the artifact root, that an `mlflow-artifacts:/…` URI names
/// (a run's `artifact_uri`, an experiment's location), whatever repository holds it.
pub fn directory_of_uri(uri: &str) -> Result<String> {
    let rest = uri.strip_prefix(SCHEME).ok_or_else(|| {
        TrackingError::invalid(format!("artifact URI '{uri}' is not served by this server"))
    })?;
    validate_relative_path(rest)
}

/// Validates and normalises a relative artifact path ("" is the root).
pub fn validate_relative_path(raw: &str) -> Result<String> {
    if raw.len() > MAX_PATH_LEN {
        return Err(refuse(raw, "it is too long"));
    }
    let mut current = raw.to_owned();
    let mut rounds = 0;
    loop {
        let decoded = percent_decode(&current)
            .ok_or_else(|| refuse(raw, "it is not valid UTF-8 after decoding"))?;
        if decoded == current {
            break;
        }
        rounds += 1;
        if rounds > MAX_DECODE_ROUNDS {
            return Err(refuse(raw, "it is encoded too many times"));
        }
        current = decoded;
    }
    let path = current;
    if path.chars().any(|c| c.is_control()) {
        return Err(refuse(raw, "control characters are not allowed"));
    }
    if path.contains('\\') {
        return Err(refuse(raw, "backslashes are not allowed"));
    }
    if path.contains('?') || path.contains('#') {
        return Err(refuse(raw, "'?' and '#' are not allowed"));
    }
    if path.starts_with('/') {
        return Err(refuse(raw, "absolute paths are not allowed"));
    }
    let bytes = path.as_bytes();
    if bytes.len() >= 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic() {
        return Err(refuse(raw, "drive paths are not allowed"));
    }
    if path.contains("://") || path.starts_with("file:") {
        return Err(refuse(raw, "URIs are not allowed"));
    }
    if path.is_empty() {
        return Ok(path);
    }
    let body = path.strip_suffix('/').unwrap_or(&path);
    for seg in body.split('/') {
        match seg {
            "" => {
                return Err(refuse(
                    raw,
                    "empty segments ('//', a leading '/') are not allowed",
                ))
            }
            "." => return Err(refuse(raw, "'.' segments are not allowed")),
            ".." => return Err(refuse(raw, "'..' segments are not allowed")),
            s if s.len() > MAX_NAME_LEN => {
                return Err(refuse(
                    raw,
                    &format!("a file or directory name is longer than {MAX_NAME_LEN} bytes"),
                ))
            }
            _ => {}
        }
    }
    Ok(body.to_owned())
}

/// One round of percent-decoding; `None` if the bytes are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_paths_pass() {
        assert_eq!(validate_relative_path("").unwrap(), "");
        assert_eq!(validate_relative_path("a/b.txt").unwrap(), "a/b.txt");
        assert_eq!(validate_relative_path("a/b/").unwrap(), "a/b");
        assert_eq!(validate_relative_path("a%20b").unwrap(), "a b");
        assert_eq!(validate_relative_path("a.b/.c").unwrap(), "a.b/.c");
    }

    #[test]
    fn hostile_paths_are_refused() {
        for bad in [
            "..",
            "../x",
            "a/../../x",
            "%2e%2e/x",
            "%2e%2e%2fx",
            "%252e%252e%252fx",
            "/etc/passwd",
            "C:\\x",
            "c:/x",
            "..\\x",
            "a\\b",
            "a\0b",
            "a%00b",
            "a?b",
            "a#b",
            "file:///etc",
            "a\nb",
            ".",
            "./",
            "%2e",
            "%252e",
            "./a",
            "a/.",
            "a/./b",
            "a//b",
            "/",
            "//",
            "a//",
            "n".repeat(256).as_str(),
        ] {
            assert!(
                validate_relative_path(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }
}
