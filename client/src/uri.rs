//! Tracking URI resolution: explicit → `MLFLOW_TRACKING_URI` → `./mlruns` (embedded).

use std::path::PathBuf;

use crate::error::{ClientError, Result};

/// Environment variable naming the tracking server or store.
///
/// # Examples
///
/// ```
/// # fn main() -> trackd_client::Result<()> {
/// use trackd_client::uri;
/// # // SAFETY: single-threaded example.
/// # unsafe { std::env::set_var(uri::TRACKING_URI_ENV, "http://127.0.0.1:5000") };
/// assert_eq!(uri::TRACKING_URI_ENV, "MLFLOW_TRACKING_URI");
/// assert_eq!(uri::resolve(None), "http://127.0.0.1:5000");
/// # Ok(()) }
/// ```
pub const TRACKING_URI_ENV: &str = "MLFLOW_TRACKING_URI";
/// The default tracking URI: an embedded store in `./mlruns`.
///
/// # Examples
///
/// ```
/// # fn main() -> trackd_client::Result<()> {
/// use trackd_client::uri;
/// # // SAFETY: single-threaded example.
/// # unsafe { std::env::remove_var(uri::TRACKING_URI_ENV) };
/// assert_eq!(uri::resolve(None), uri::DEFAULT_TRACKING_URI);
/// # Ok(()) }
/// ```
pub const DEFAULT_TRACKING_URI: &str = "./mlruns";

/// Where tracking data goes.
///
/// # Examples
///
/// ```
/// # fn main() -> trackd_client::Result<()> {
/// use trackd_client::uri;
/// use trackd_client::uri::Target;
/// assert_eq!(uri::parse("http://127.0.0.1:5000")?, Target::Remote("http://127.0.0.1:5000".into()));
/// assert_eq!(uri::parse("file:///data/mlruns")?, Target::Embedded("/data/mlruns".into()));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A trackd server, reached over gRPC (`http://host:port`, or `https://` for TLS).
    Remote(String),
    /// A store directory opened in-process (a path or `file:` URI).
    Embedded(PathBuf),
    /// Several replicas of one server (`http://a:5000,http://b:5000`: trackd servers on one
    /// PostgreSQL database). Calls go to a replica that answers; a stream cut by a replica's
    /// failure is re-sent to another, which recognises what was stored.
    Replicas(Vec<String>),
}

/// The URI to use: `explicit`, else `MLFLOW_TRACKING_URI`, else `./mlruns`.
///
/// # Examples
///
/// ```
/// # fn main() -> trackd_client::Result<()> {
/// use trackd_client::uri;
/// # // SAFETY: single-threaded example.
/// # unsafe { std::env::set_var(uri::TRACKING_URI_ENV, "http://10.0.0.7:5000") };
/// assert_eq!(uri::resolve(Some("./runs")), "./runs"); // explicit wins
/// assert_eq!(uri::resolve(None), "http://10.0.0.7:5000"); // then the environment
/// # unsafe { std::env::remove_var(uri::TRACKING_URI_ENV) };
/// assert_eq!(uri::resolve(None), "./mlruns"); // then the default
/// # Ok(()) }
/// ```
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

/// Classifies a tracking URI: `http://HOST:PORT` (or `https://` for a server with TLS) is a
/// server; a path or `file:` URI an embedded store. Other schemes are refused.
///
/// # Examples
///
/// ```
/// # fn main() -> trackd_client::Result<()> {
/// use trackd_client::uri;
/// use trackd_client::uri::Target;
/// assert_eq!(uri::parse("./mlruns")?, Target::Embedded("./mlruns".into()));
/// assert!(matches!(uri::parse("http://tracking:5000/")?, Target::Remote(u) if u == "http://tracking:5000"));
/// assert!(uri::parse("s3://bucket/mlruns").is_err());
/// assert_eq!(
///     uri::parse("http://a:5000,http://b:5000")?,
///     Target::Replicas(vec!["http://a:5000".into(), "http://b:5000".into()])
/// );
/// # Ok(()) }
/// ```
pub fn parse(uri: &str) -> Result<Target> {
    let bad = |reason: &str| ClientError::Uri {
        uri: uri.to_owned(),
        reason: reason.to_owned(),
    };
    if uri.is_empty() {
        return Err(bad("it is empty"));
    }
    if uri.contains(',') {
        let mut urls = Vec::new();
        for part in uri.split(',').map(str::trim) {
            match parse(part) {
                Ok(Target::Remote(url)) => urls.push(url),
                _ => {
                    return Err(bad(
                        "a list of servers must be http(s)://HOST:PORT URLs separated by commas",
                    ));
                }
            }
        }
        return Ok(Target::Replicas(urls));
    }
    if let Some(rest) = uri
        .strip_prefix("http://")
        .or_else(|| uri.strip_prefix("https://"))
    {
        if rest.is_empty() {
            return Err(bad("no host"));
        }
        return Ok(Target::Remote(uri.trim_end_matches('/').to_owned()));
    }
    if let Some(path) = uri.strip_prefix("file://") {
        return Ok(Target::Embedded(PathBuf::from(path)));
    }
    if let Some(path) = uri.strip_prefix("file:") {
        return Ok(Target::Embedded(PathBuf::from(path)));
    }
    if uri.contains("://") {
        return Err(bad(
            "unsupported scheme (use http://HOST:PORT, https://HOST:PORT, a directory path, or file:PATH)",
        ));
    }
    Ok(Target::Embedded(PathBuf::from(uri)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_of_replicas() {
        assert_eq!(
            parse("http://a:1/, https://b:2").unwrap(),
            Target::Replicas(vec!["http://a:1".into(), "https://b:2".into()])
        );
        assert!(parse("http://a:1,./mlruns").is_err());
        assert!(parse("http://a:1,").is_err());
    }

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
        assert_eq!(
            parse("https://h:443/").unwrap(),
            Target::Remote("https://h:443".into())
        );
        assert!(parse("https://").is_err());
        assert!(parse("s3://bucket").is_err());
        assert!(parse("").is_err());
    }
}
