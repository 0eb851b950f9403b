//! Failed logins, rate-limited per user name and per client address: after
//! [`MAX_FAILURES`] failures within [`WINDOW`], further attempts from that address or for
//! that user are refused without checking the password until the window passes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed per window.
pub const MAX_FAILURES: u32 = 10;
/// The window.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Most keys tracked (past this the oldest windows are dropped).
const MAX_KEYS: usize = 50_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Addr(IpAddr),
}

/// The failure counters.
#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<Key, (u32, Instant)>>,
}

impl Throttle {
    fn keys(user: Option<&str>, addr: Option<IpAddr>) -> Vec<Key> {
        let mut keys = Vec::with_capacity(2);
        if let Some(u) = user {
            keys.push(Key::User(u.to_owned()));
        }
        if let Some(a) = addr {
            keys.push(Key::Addr(a));
        }
        keys
    }

    /// Whether attempts for `user` from `addr` are currently refused.
    pub fn blocked(&self, user: Option<&str>, addr: Option<IpAddr>) -> bool {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        Self::keys(user, addr).iter().any(|k| {
            failures
                .get(k)
                .is_some_and(|(n, since)| *n >= MAX_FAILURES && since.elapsed() < WINDOW)
        })
    }

    /// Counts a failed attempt.
    pub fn failed(&self, user: Option<&str>, addr: Option<IpAddr>) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_KEYS {
            failures.retain(|_, (_, since)| since.elapsed() < WINDOW);
        }
        for key in Self::keys(user, addr) {
            let entry = failures.entry(key).or_insert((0, Instant::now()));
            if entry.1.elapsed() >= WINDOW {
                *entry = (0, Instant::now());
            }
            entry.0 += 1;
        }
    }

    /// Forgets the failures of `user` (after a successful login).
    pub fn succeeded(&self, user: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&Key::User(user.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_allowed_failures() {
        let t = Throttle::default();
        let addr: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..MAX_FAILURES {
            assert!(!t.blocked(Some("ann"), Some(addr)));
            t.failed(Some("ann"), Some(addr));
        }
        assert!(t.blocked(Some("ann"), None), "per user");
        assert!(t.blocked(Some("bob"), Some(addr)), "per address");
        assert!(!t.blocked(Some("bob"), None));
        t.succeeded("ann");
        assert!(!t.blocked(Some("ann"), None));
    }
}
