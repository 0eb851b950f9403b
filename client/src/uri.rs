//! Tracking URI resolution: explicit → `MLFLOW_TRACKING_URI` → `./mlruns` (embedded).

use std::path::PathBuf;

use crate::error::{ClientError, Result};

/// Environment variable naming the tracking server or store.
pub const TRACKING_URI_ENV: &str = "MLFLOW_TRACKING_URI";
/// The default tracking URI: an embedded store in `./mlruns`.
pub const DEFAULT_TRACKING_URI: &str = "./mlruns";

/// Where tracking data goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A trackd server, reached over gRPC (`http://host:port`).
    Remote(String),
    /// A store directory opened in-process (a path or `file:` URI).
    Embedded(PathBuf),
}

/// The URI to use: `explicit`, else `MLFLOW_TRACKING_URI`, else `./mlruns`.
pub fn resolve(explicit: Option<&str>) -> String {
    explicit
        .map(str::to_owned)
        .or_else(|| {
            std::env::var(TRACKING_URI_ENV)
                .ok()
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| DEFAULT_TRACKING_URI.to_owned())
}

/// Classifies a tracking URI.
pub fn parse(uri: &str) -> Result<Target> {
    let bad = |reason: &str| ClientError::Uri {
        uri: uri.to_owned(),
        reason: reason.to_owned(),
    };
    if uri.is_empty() {
        return Err(bad("it is empty"));
    }
    if let Some(rest) = uri.strip_prefix("http://") {
        if rest.is_empty() {
            return Err(bad("no host"));
        }
        return Ok(Target::Remote(uri.trim_end_matches('/').to_owned()));
    }
    if uri.starts_with("https://") {
        return Err(bad(
            "TLS is not supported yet; use http:// on a trusted network or a TLS-terminating proxy",
        ));
    }
    if let Some(path) = uri.strip_prefix("file://") {
        return Ok(Target::Embedded(PathBuf::from(path)));
    }
    if let Some(path) = uri.strip_prefix("file:") {
        return Ok(Target::Embedded(PathBuf::from(path)));
    }
    if uri.contains("://") {
        return Err(bad(
            "unsupported scheme (use http://HOST:PORT, a directory path, or file:PATH)",
        ));
    }
    Ok(Target::Embedded(PathBuf::from(uri)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_uris() {
        assert_eq!(
            parse("http://127.0.0.1:5000/").unwrap(),
            Target::Remote("http://127.0.0.1:5000".into())
        );
        assert_eq!(
            parse("./mlruns").unwrap(),
            Target::Embedded("./mlruns".into())
        );
        assert_eq!(
            parse("file:///tmp/x").unwrap(),
            Target::Embedded("/tmp/x".into())
        );
        assert_eq!(parse("file:rel").unwrap(), Target::Embedded("rel".into()));
        assert!(parse("https://h").is_err());
        assert!(parse("s3://bucket").is_err());
        assert!(parse("").is_err());
    }
}
