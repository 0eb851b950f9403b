//! Who calls an operation, and what each operation needs.
//!
//! Every [`crate::Tracker`] operation takes a [`Caller`] and states the [`Permission`] it
//! needs on what it touches ([`Need`]); the Tracker decides in one place
//! (`Tracker::authorize`). The edges never decide: one layer in front of gRPC, REST and the
//! UI alike puts the request's caller into its extensions (`crate::identity`), and every
//! handler passes it on.
//!
//! Without `--auth` every network caller is [`Caller::Anonymous`] and every need is
//! granted. With it, requests carry a [`Caller::User`] (the identity layer verified its
//! credentials) and `Tracker::authorize` checks the user's grants (`crate::domain::access`).

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A network request without credentials.
    Anonymous,
    /// Code running the Tracker in its own process (the client's embedded mode, tools,
    /// tests): it owns the store and may do anything.
    InProcess,
    /// An authenticated user.
    User {
        /// The user's name.
        name: std::sync::Arc<str>,
        /// Whether the user is an administrator.
        admin: bool,
    },
}

impl Caller {
    /// An authenticated caller.
    pub fn user(name: &str, admin: bool) -> Caller {
        Caller::User {
            name: name.into(),
            admin,
        }
    }

    /// The user's name, for a [`Caller::User`].
    pub fn user_name(&self) -> Option<&str> {
        match self {
            Caller::User { name, .. } => Some(name),
            _ => None,
        }
    }
}

/// What an operation needs on the experiment it touches (MLflow's permission levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Permission {
    /// Read experiments, runs, histories and artifacts.
    Read,
    /// Log to runs, create runs, change tags and names, upload and delete artifacts.
    Edit,
    /// Delete and restore experiments and runs.
    Manage,
}

/// A permission on something, as an operation states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need<'a> {
    /// Creating an experiment (needs no permission on an existing one).
    CreateExperiment,
    /// A permission on an experiment, by id as sent.
    Experiment(Permission, &'a str),
    /// A permission on a run's experiment, by run id as sent.
    Run(Permission, &'a str),
    /// A permission on every run of a stream batch (checked per run).
    StreamRuns(Permission),
    /// Reading experiments found by a search (results are filtered, not refused).
    Search,
    /// Creating a registered model (open to every user; the creator gets `MANAGE` on it).
    CreateRegisteredModel,
    /// A permission on a registered model (and its versions), by name.
    Model(Permission, &'a str),
    /// Whole-store maintenance (backups, garbage collection): an administrator's.
    Admin,
}
