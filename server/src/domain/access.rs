//! Users, API tokens and permission grants (MLflow's auth model), as the store keeps them.
//!
//! - A [`User`] has a name, an argon2 password hash (PHC string) and an admin flag.
//! - An [`ApiToken`] belongs to a user; the store keeps the SHA-256 of its secret, never the
//!   secret (`trk_<id>_<secret>` is shown once, when it is created).
//! - A [`Grant`] gives a user a [`Level`] on one [`Resource`] (an experiment or a registered
//!   model). Without a grant the server's default level applies; admins need none.

use serde::{Deserialize, Serialize};

use super::caller::Permission;

/// A user of the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Unique name (what HTTP Basic sends).
    pub name: String,
    /// argon2id hash of the password, PHC string format.
    pub password_hash: String,
    /// Administrators may do everything, including managing users.
    pub admin: bool,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
}

/// An API token's stored half.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    /// Public id (also in the token string), 16 hex characters.
    pub id: String,
    /// Owner.
    pub user: String,
    /// SHA-256 of the secret part.
    pub secret_sha256: [u8; 32],
    /// What it is for (free text).
    pub description: String,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
}

/// MLflow's permission levels: what a grant gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Level {
    /// Nothing, not even reading (MLflow's `NO_PERMISSIONS`).
    NoPermissions,
    /// Read.
    Read,
    /// Read and write (log, create runs, upload).
    Edit,
    /// Edit, delete and manage permissions.
    Manage,
}

impl Level {
    /// Whether this level allows what an operation needs.
    pub fn allows(self, need: Permission) -> bool {
        let needed = match need {
            Permission::Read => Level::Read,
            Permission::Edit => Level::Edit,
            Permission::Manage => Level::Manage,
        };
        self >= needed
    }

    /// MLflow's name (`READ`, `EDIT`, `MANAGE`, `NO_PERMISSIONS`).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::NoPermissions => "NO_PERMISSIONS",
            Level::Read => "READ",
            Level::Edit => "EDIT",
            Level::Manage => "MANAGE",
        }
    }

    /// A level by MLflow's name or trackd's flag value (`none`, `read`, `edit`, `manage`),
    /// any case.
    pub fn parse(name: &str) -> Option<Level> {
        match name.to_ascii_uppercase().as_str() {
            "NO_PERMISSIONS" | "NONE" => Some(Level::NoPermissions),
            "READ" => Some(Level::Read),
            "EDIT" => Some(Level::Edit),
            "MANAGE" => Some(Level::Manage),
            _ => None,
        }
    }

    /// The one-byte code the store keeps.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The level of a stored code.
    pub fn from_code(code: u8) -> Option<Level> {
        [
            Level::NoPermissions,
            Level::Read,
            Level::Edit,
            Level::Manage,
        ]
        .into_iter()
        .find(|l| l.code() == code)
    }
}

/// What a grant is on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Resource {
    /// An experiment, by id.
    Experiment(String),
    /// A registered model, by name.
    RegisteredModel(String),
}

/// One grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// On what.
    pub resource: Resource,
    /// To whom.
    pub user: String,
    /// What it gives.
    pub level: Level,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_order_and_round_trip() {
        assert!(Level::Manage.allows(Permission::Edit));
        assert!(Level::Read.allows(Permission::Read));
        assert!(!Level::Read.allows(Permission::Edit));
        assert!(!Level::NoPermissions.allows(Permission::Read));
        for level in [
            Level::NoPermissions,
            Level::Read,
            Level::Edit,
            Level::Manage,
        ] {
            assert_eq!(Level::from_code(level.code()), Some(level));
            assert_eq!(Level::parse(level.as_str()), Some(level));
        }
        assert_eq!(Level::parse("none"), Some(Level::NoPermissions));
        assert_eq!(Level::parse("owner"), None);
    }
}
