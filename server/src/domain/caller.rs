//! Who calls an operation, and what each operation needs.
//!
//! Every [`crate::Tracker`] operation takes a [`Caller`] and states the [`Permission`] it
//! needs on what it touches ([`Need`]); the Tracker decides in one place
//! (`Tracker::authorize`). The edges never decide: one layer in front of gRPC, REST and the
//! UI alike puts the request's caller into its extensions (`crate::identity`), and every
//! handler passes it on.
//!
//! trackd has no authentication yet, so every network caller is [`Caller::Anonymous`] and
//! every need is granted; authentication (users, per-experiment permissions) replaces the
//! one decision, not the edges.

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A network request without credentials.
    Anonymous,
    /// Code running the Tracker in its own process (the client's embedded mode, tools,
    /// tests): it owns the store and may do anything.
    InProcess,
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
    /// A permission on the model registry (registered models and their versions).
    Registry(Permission),
    /// Whole-store maintenance (backups, garbage collection): an administrator's.
    Admin,
}
