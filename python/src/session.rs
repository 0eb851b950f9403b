//! The process's tracking state: the tracking URI, one tokio runtime and one [`Client`]
//! (the *session*), the experiment chosen with `set_experiment` and the active-run stack.
//!
//! Rules that keep it safe with Python threads and `fork`:
//! - [`STATE`] is locked only for short, non-blocking work and never while the GIL is
//!   released: a thread holding it never waits for the GIL, so it cannot deadlock with one
//!   that holds the GIL and waits for it.
//! - Network and disk work run on the session's runtime with the GIL released
//!   ([`Handles::block_on`]).
//! - After `fork` the child forgets (leaks) the parent's session: its runtime threads do not
//!   exist in the child and its locks may be held forever. The child connects afresh on
//!   first use; the run stack (plain run data) is kept, so a worker logs into the run that
//!   was active when it was forked. Points the parent had buffered are the parent's to send.

use std::future::Future;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use pyo3::prelude::*;
use tokio::runtime::Runtime;
use trackd_client::{uri, Client, RunInfo};

use crate::errors::to_py;

/// A runtime and the client connected on it.
pub struct Session {
    runtime: Arc<Runtime>,
    client: Client,
}

/// What a blocking call needs, cloned out of the state so the lock is released first.
#[derive(Clone)]
pub struct Handles {
    runtime: Arc<Runtime>,
    /// The client of the current tracking URI.
    pub client: Client,
}

impl Handles {
    /// Runs `work` on the session's runtime with the GIL released.
    pub fn block_on<F>(&self, py: Python<'_>, work: F) -> F::Output
    where
        F: Future + Send,
        F::Output: Send,
    {
        let runtime = self.runtime.clone();
        py.detach(move || runtime.block_on(work))
    }
}

/// The process-wide tracking state.
#[derive(Default)]
pub struct State {
    /// `set_tracking_uri`'s value; `None`: `MLFLOW_TRACKING_URI`, else `./mlruns`.
    pub tracking_uri: Option<String>,
    session: Option<Session>,
    /// The experiment `set_experiment` chose.
    pub experiment_id: Option<String>,
    /// Active runs, innermost last.
    pub stack: Vec<RunInfo>,
    /// The id of the last run started.
    pub last_run_id: Option<String>,
}

static STATE: LazyLock<Mutex<State>> = LazyLock::new(Default::default);

/// Locks the state (see the module's rules: never held across a released GIL).
pub fn state() -> MutexGuard<'static, State> {
    // A panic while the lock was held leaves plain data behind; keep using it.
    STATE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl State {
    /// The client of the current session, if one is connected (the logging fast path).
    pub fn client(&self) -> Option<&Client> {
        self.session.as_ref().map(|s| &s.client)
    }

    /// The innermost active run's id.
    pub fn active_run_id(&self) -> Option<&str> {
        self.stack.last().map(|r| r.run_id.as_str())
    }

    /// The tracking URI in effect.
    pub fn resolved_uri(&self) -> String {
        uri::resolve(self.tracking_uri.as_deref())
    }

    /// Takes the session out (to flush and close it outside the lock).
    pub fn take_session(&mut self) -> Option<Handles> {
        self.session.take().map(|s| Handles {
            runtime: s.runtime,
            client: s.client,
        })
    }
}

/// The session's handles, connecting first if there is none (with the GIL released).
pub fn handles(py: Python<'_>) -> PyResult<Handles> {
    let uri = {
        let state = state();
        if let Some(s) = &state.session {
            return Ok(Handles {
                runtime: s.runtime.clone(),
                client: s.client.clone(),
            });
        }
        state.resolved_uri()
    };
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("trackd-client")
            .enable_all()
            .build()
            .map_err(|e| to_py(trackd_client::ClientError::Io(e.to_string())))?,
    );
    let connecting = runtime.clone();
    let client = py
        .detach(move || connecting.block_on(Client::connect(&uri)))
        .map_err(to_py)?;
    let mut state = state();
    if let Some(s) = &state.session {
        // Another thread connected meanwhile: use its session (ours is dropped unused).
        return Ok(Handles {
            runtime: s.runtime.clone(),
            client: s.client.clone(),
        });
    }
    state.session = Some(Session {
        runtime: runtime.clone(),
        client: client.clone(),
    });
    Ok(Handles { runtime, client })
}

/// Called in the child after `fork` (registered with `os.register_at_fork`): forgets the
/// parent's session without touching it (see the module docs).
pub fn forget_session_after_fork() {
    // The lock cannot be held at fork time: it is only taken with the GIL, which the
    // forking thread holds. A poisoned or held lock would be recovered by `state()`.
    let mut state = state();
    if let Some(session) = state.session.take() {
        std::mem::forget(session);
    }
}
