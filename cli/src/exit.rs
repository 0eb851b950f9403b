//! Exit codes, so scripts can tell what happened:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | done |
//! | 1 | failed otherwise (a local file, the server's own failure) |
//! | 2 | the command line is wrong (clap's usage errors) |
//! | 3 | not found (experiment, run, artifact, metric) |
//! | 4 | refused: the request breaks a rule (bad filter, name taken, deleted run, …) |
//! | 5 | cannot reach the server, or the tracking URI / store cannot be opened |

use trackd_client::ClientError;

/// A failed command: its message and exit code.
#[derive(Debug)]
pub struct Failure {
    /// What to print after `trackd: `.
    pub message: String,
    /// The process's exit code.
    pub code: u8,
}

/// Exit code: not found.
pub const NOT_FOUND: u8 = 3;
/// Exit code: refused.
pub const REFUSED: u8 = 4;
/// Exit code: cannot reach the server or open the store.
pub const UNREACHABLE: u8 = 5;

impl Failure {
    /// A failure with exit code 1.
    pub fn other(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: 1,
        }
    }

    /// Something named on the command line does not exist.
    pub fn not_found(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: NOT_FOUND,
        }
    }
}

impl From<trackd_server::TrackingError> for Failure {
    /// A refusal or failure of the tracking core run in this process (tools that open a
    /// store directory themselves).
    fn from(e: trackd_server::TrackingError) -> Failure {
        use trackd_server::TrackingError as E;
        let code = match e {
            E::NotFound(_) => NOT_FOUND,
            E::InvalidArgument(_) | E::InvalidState(_) | E::AlreadyExists(_) => REFUSED,
            _ => 1,
        };
        Failure {
            message: e.to_string(),
            code,
        }
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Failure {
        let code = match &e {
            ClientError::Api { error_code, .. } => match error_code.as_str() {
                "RESOURCE_DOES_NOT_EXIST" | "ENDPOINT_NOT_FOUND" => NOT_FOUND,
                "INVALID_PARAMETER_VALUE"
                | "RESOURCE_ALREADY_EXISTS"
                | "INVALID_STATE"
                | "BAD_REQUEST" => REFUSED,
                "TEMPORARILY_UNAVAILABLE" => UNREACHABLE,
                _ => 1,
            },
            ClientError::Uri { .. } | ClientError::Connect { .. } => UNREACHABLE,
            ClientError::Usage(_) => REFUSED,
            ClientError::Delivery(_) | ClientError::Io(_) => 1,
        };
        Failure {
            message: e.to_string(),
            code,
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::other(e.to_string())
    }
}

/// A command's result.
pub type Outcome = Result<(), Failure>;
