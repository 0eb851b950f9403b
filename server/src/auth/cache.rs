//! Verified credentials, remembered for a short time, so a request does not pay for an
//! argon2 verification (tens of milliseconds) each time — MLflow's basic-auth app did, and
//! became 40–90× slower (mlflow#9684). Keyed by the SHA-256 of the whole header value, so
//! no password is kept in memory; an entry is void once users, tokens or grants change.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::Caller;

/// How long a verified header is trusted without checking the store again.
pub const TTL: Duration = Duration::from_secs(60);
/// Most entries kept; past this the cache starts over (no unbounded growth).
const MAX_ENTRIES: usize = 10_000;

/// The cache.
#[derive(Default)]
pub struct VerifiedCache {
    entries: Mutex<HashMap<[u8; 32], (Caller, Instant, u64)>>,
}

impl VerifiedCache {
    /// The caller a header was verified as, if recently and no user, token or grant
    /// changed since (`generation`, see `Tracker::access_generation`).
    pub fn get(&self, key: &[u8; 32], generation: u64) -> Option<Caller> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(_, at, seen)| at.elapsed() < TTL && *seen == generation)
            .map(|(caller, _, _)| caller.clone())
    }

    /// Remembers a header verified at `generation`.
    pub fn put(&self, key: [u8; 32], caller: Caller, generation: u64) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (caller, Instant::now(), generation));
    }
}
