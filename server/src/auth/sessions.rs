//! Web UI sessions: after a login on `/login`, the browser holds a random 128-bit session id
//! in an `HttpOnly`, `SameSite=Strict` cookie (`Secure` over TLS); the server keeps only its
//! SHA-256 with the user, for at most [`TTL`]. A change of users, tokens or grants makes each
//! session check its user again (a deleted user's sessions end; a changed admin flag
//! applies). Sessions live in memory: a restart logs everyone out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::domain::Caller;

/// The cookie's name.
pub const COOKIE: &str = "trackd_session";
/// How long a session lasts.
pub const TTL: Duration = Duration::from_secs(12 * 3600);
/// Most sessions kept (past this, expired ones are dropped, then the oldest).
const MAX_SESSIONS: usize = 100_000;

struct Session {
    caller: Caller,
    created: Instant,
    generation: u64,
}

/// The sessions.
#[derive(Default)]
pub struct Sessions {
    by_digest: Mutex<HashMap<[u8; 32], Session>>,
}

fn digest(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

/// The session id in a `Cookie` header, if any.
pub fn from_cookie_header(header: &str) -> Option<&str> {
    header.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == COOKIE && !value.is_empty()).then_some(value)
    })
}

impl Sessions {
    /// Starts a session for `caller`; returns its id (for the cookie).
    pub fn start(&self, caller: Caller, generation: u64) -> String {
        let id = super::secrets::generate_password();
        let mut sessions = self.by_digest.lock().unwrap_or_else(|e| e.into_inner());
        if sessions.len() >= MAX_SESSIONS {
            sessions.retain(|_, s| s.created.elapsed() < TTL);
            if sessions.len() >= MAX_SESSIONS {
                if let Some(oldest) = sessions
                    .iter()
                    .min_by_key(|(_, s)| s.created)
                    .map(|(k, _)| *k)
                {
                    sessions.remove(&oldest);
                }
            }
        }
        sessions.insert(
            digest(&id),
            Session {
                caller,
                created: Instant::now(),
                generation,
            },
        );
        id
    }

    /// The caller of a live session and the access generation it was last checked at.
    pub fn get(&self, id: &str) -> Option<(Caller, u64)> {
        let mut sessions = self.by_digest.lock().unwrap_or_else(|e| e.into_inner());
        let key = digest(id);
        match sessions.get(&key) {
            Some(s) if s.created.elapsed() < TTL => Some((s.caller.clone(), s.generation)),
            Some(_) => {
                sessions.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Records a fresh check of a session's user (`None`: the user is gone; the session ends).
    pub fn refresh(&self, id: &str, caller: Option<Caller>, generation: u64) {
        let mut sessions = self.by_digest.lock().unwrap_or_else(|e| e.into_inner());
        let key = digest(id);
        match caller {
            Some(caller) => {
                if let Some(s) = sessions.get_mut(&key) {
                    s.caller = caller;
                    s.generation = generation;
                }
            }
            None => {
                sessions.remove(&key);
            }
        }
    }

    /// Ends a session.
    pub fn end(&self, id: &str) {
        self.by_digest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&digest(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_start_resolve_and_end() {
        let sessions = Sessions::default();
        let id = sessions.start(Caller::user("ann", false), 3);
        assert_eq!(id.len(), 32);
        assert_eq!(sessions.get(&id), Some((Caller::user("ann", false), 3)));
        assert_eq!(sessions.get("forged"), None);
        sessions.refresh(&id, Some(Caller::user("ann", true)), 4);
        assert_eq!(sessions.get(&id), Some((Caller::user("ann", true), 4)));
        sessions.end(&id);
        assert_eq!(sessions.get(&id), None);
        let again = sessions.start(Caller::user("bob", false), 0);
        sessions.refresh(&again, None, 1);
        assert_eq!(sessions.get(&again), None, "a deleted user's session ends");
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        assert_eq!(
            from_cookie_header("a=1; trackd_session=abc; b=2"),
            Some("abc")
        );
        assert_eq!(from_cookie_header("trackd_session="), None);
        assert_eq!(from_cookie_header("other=1"), None);
    }
}
