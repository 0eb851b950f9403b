//! Backups of a live store (`trackd backup`): a consistent copy taken while writes go on.

use tracing::instrument;

use super::Tracker;
use crate::backend::BackupReport;
use crate::domain::caller::{Caller, Need};
use crate::error::{Result, TrackingError};

/// Longest backup name.
const MAX_NAME: usize = 128;

impl Tracker {
    /// Takes a backup named `name` (letters, digits, `.`, `_`, `-`; not starting with `.`):
    /// the database as of a cut between two write groups — exactly the writes acknowledged
    /// before the backup began — then the artifact files. Writes arriving during the
    /// database copy wait for it. Needs an administrator.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn backup(&self, caller: &Caller, name: &str) -> Result<BackupReport> {
        self.authorize(caller, Need::Admin)?;
        let valid = !name.is_empty()
            && name.len() <= MAX_NAME
            && !name.starts_with('.')
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !valid {
            return Err(TrackingError::invalid(format!(
                "Invalid backup name '{}': use letters, digits, '.', '_' and '-' (at most {MAX_NAME}, not starting with '.').",
                crate::domain::validate::abbreviate(name)
            )));
        }
        self.backend.backup(name).await
    }
}
