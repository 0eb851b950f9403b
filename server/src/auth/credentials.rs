//! The `Authorization` header (REST, the UI, and gRPC's `authorization` metadata, which is
//! the same HTTP/2 header): HTTP Basic (what the stock MLflow client sends for
//! `MLFLOW_TRACKING_USERNAME`/`PASSWORD`) or a bearer token (`MLFLOW_TRACKING_TOKEN`).

use base64::Engine;

/// Credentials as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// `Basic base64(user:password)`.
    Basic {
        /// User name.
        user: String,
        /// Password as sent.
        password: String,
    },
    /// `Bearer <token>`.
    Bearer(String),
}

/// Why a header is not credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MalformedCredentials {
    /// A scheme other than Basic or Bearer.
    #[error("unsupported authorization scheme (use Basic or Bearer)")]
    Scheme,
    /// Basic credentials that are not base64 of `user:password` in UTF-8.
    #[error("malformed Basic credentials")]
    Basic,
    /// A bearer token that is empty.
    #[error("empty bearer token")]
    Bearer,
}

/// Parses an `Authorization` header value.
pub fn parse(value: &str) -> Result<Credentials, MalformedCredentials> {
    let (scheme, rest) = value
        .trim()
        .split_once(' ')
        .ok_or(MalformedCredentials::Scheme)?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .map_err(|_| MalformedCredentials::Basic)?;
        let text = String::from_utf8(decoded).map_err(|_| MalformedCredentials::Basic)?;
        let (user, password) = text.split_once(':').ok_or(MalformedCredentials::Basic)?;
        if user.is_empty() {
            return Err(MalformedCredentials::Basic);
        }
        Ok(Credentials::Basic {
            user: user.to_owned(),
            password: password.to_owned(),
        })
    } else if scheme.eq_ignore_ascii_case("bearer") {
        if rest.is_empty() {
            return Err(MalformedCredentials::Bearer);
        }
        Ok(Credentials::Bearer(rest.to_owned()))
    } else {
        Err(MalformedCredentials::Scheme)
    }
}

/// The header value for Basic credentials (clients and tests).
pub fn basic_header(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_and_bearer_parse_and_garbage_is_refused() {
        assert_eq!(
            parse(&basic_header("ann", "pa:ss")).unwrap(),
            Credentials::Basic {
                user: "ann".into(),
                password: "pa:ss".into()
            }
        );
        assert_eq!(
            parse("bearer trk_0123_abc").unwrap(),
            Credentials::Bearer("trk_0123_abc".into())
        );
        assert_eq!(parse("Digest x"), Err(MalformedCredentials::Scheme));
        assert_eq!(parse("Basic !!!"), Err(MalformedCredentials::Basic));
        assert_eq!(parse("Basic Og=="), Err(MalformedCredentials::Basic)); // ":" — no user
        assert_eq!(parse("Bearer "), Err(MalformedCredentials::Scheme));
        assert_eq!(parse("nonsense"), Err(MalformedCredentials::Scheme));
    }
}
