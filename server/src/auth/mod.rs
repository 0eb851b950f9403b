//! Authentication: turning a request's `Authorization` header into a [`Caller`].
//!
//! - `credentials`: the header (HTTP Basic or a bearer token);
//! - `secrets`: argon2id password hashes, generated passwords, API tokens;
//! - `cache`: verified headers remembered for a minute (argon2 stays off the request path);
//! - `throttle`: failed logins rate-limited per user and address.
//!
//! [`Authenticator::identify`] is what the identity layer (`crate::identity`) calls.

pub mod cache;
pub mod credentials;
pub mod secrets;
pub mod sessions;
pub mod throttle;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use tokio::sync::OnceCell;

use sha2::{Digest, Sha256};

use crate::domain::Caller;
use crate::error::{Result, TrackingError};
use crate::tracker::Tracker;

use credentials::Credentials;

/// Verifies credentials against a tracker's users and tokens.
pub struct Authenticator {
    tracker: Tracker,
    cache: cache::VerifiedCache,
    throttle: throttle::Throttle,
    sessions: sessions::Sessions,
    /// Verifications in progress, by header digest.
    inflight: std::sync::Mutex<HashMap<[u8; 32], Arc<Flight>>>,
}

/// One verification in progress; everyone waiting on it gets its answer.
type Flight = OnceCell<Result<Option<Caller>>>;

impl Authenticator {
    /// An authenticator over `tracker`'s users (its authentication must be on).
    pub fn new(tracker: Tracker) -> Self {
        Authenticator {
            tracker,
            cache: cache::VerifiedCache::default(),
            throttle: throttle::Throttle::default(),
            sessions: sessions::Sessions::default(),
            inflight: std::sync::Mutex::default(),
        }
    }

    /// The caller an `Authorization` header value stands for, from `addr`. `None` (no
    /// header) is [`Caller::Anonymous`]; bad credentials are `UNAUTHENTICATED`.
    pub async fn identify(&self, header: Option<&str>, addr: Option<IpAddr>) -> Result<Caller> {
        let Some(header) = header else {
            return Ok(Caller::Anonymous);
        };
        let key: [u8; 32] = Sha256::digest(header.as_bytes()).into();
        let generation = self.tracker.access_generation();
        if let Some(caller) = self.cache.get(&key, generation) {
            return Ok(caller);
        }
        let credentials = credentials::parse(header)
            .map_err(|e| TrackingError::Unauthenticated(format!("Bad credentials: {e}.")))?;
        let user_name: Option<String> = match &credentials {
            Credentials::Basic { user, .. } => Some(user.clone()),
            Credentials::Bearer(_) => None,
        };
        let user_name = user_name.as_deref();
        if self.throttle.blocked(user_name, addr) {
            tracing::warn!(target: "trackd::audit", user = ?user_name, ?addr, "login throttled");
            return Err(TrackingError::Unauthenticated(format!(
                "Too many failed logins; try again in {} s.",
                throttle::WINDOW.as_secs()
            )));
        }
        // One verification per header at a time: concurrent requests with the same
        // credentials (64 ranks starting together) wait for it instead of each running
        // argon2.
        let flight = {
            let mut inflight = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
            inflight.entry(key).or_default().clone()
        };
        let verified = flight
            .get_or_init(|| self.verify(credentials))
            .await
            .clone();
        self.inflight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
        match verified? {
            Some(caller) => {
                if let Some(name) = caller.user_name() {
                    self.throttle.succeeded(name);
                }
                self.cache.put(key, caller.clone(), generation);
                Ok(caller)
            }
            None => {
                self.throttle.failed(user_name, addr);
                tracing::warn!(target: "trackd::audit", user = ?user_name, ?addr, "login failed");
                Err(TrackingError::Unauthenticated(
                    "Invalid credentials (wrong user, password or token).".into(),
                ))
            }
        }
    }

    /// The web UI's login: verifies a user name and password like HTTP Basic (throttled
    /// alike) and starts a session; returns its id for the cookie.
    pub async fn login(&self, user: &str, password: &str, addr: Option<IpAddr>) -> Result<String> {
        let header = credentials::basic_header(user, password);
        let caller = self.identify(Some(&header), addr).await?;
        Ok(self
            .sessions
            .start(caller, self.tracker.access_generation()))
    }

    /// Ends a web UI session.
    pub fn logout(&self, session: &str) {
        self.sessions.end(session);
    }

    /// The caller of a web UI session (`None`: no such live session). After a change of
    /// users, tokens or grants the session's user is looked up again.
    pub fn session_caller(&self, session: &str) -> Result<Option<Caller>> {
        let Some((caller, seen)) = self.sessions.get(session) else {
            return Ok(None);
        };
        let now = self.tracker.access_generation();
        if seen == now {
            return Ok(Some(caller));
        }
        let fresh = match (caller.user_name(), self.tracker.access_backend()) {
            (Some(name), Some(access)) => {
                access.user(name)?.map(|u| Caller::user(&u.name, u.admin))
            }
            _ => None,
        };
        self.sessions.refresh(session, fresh.clone(), now);
        Ok(fresh)
    }

    async fn verify(&self, credentials: Credentials) -> Result<Option<Caller>> {
        let Some(access) = self.tracker.access_backend().cloned() else {
            return Ok(None);
        };
        match credentials {
            Credentials::Basic { user, password } => {
                let Some(record) = access.user(&user)? else {
                    // Spend the time a verification would, so a missing user is not
                    // told apart from a wrong password by timing.
                    let _ = tokio::task::spawn_blocking(move || {
                        secrets::verify_password(&password, &DUMMY_HASH)
                    })
                    .await;
                    return Ok(None);
                };
                let hash = record.password_hash.clone();
                let ok =
                    tokio::task::spawn_blocking(move || secrets::verify_password(&password, &hash))
                        .await
                        .map_err(|e| TrackingError::storage("verifying a password", e))?;
                Ok(ok.then(|| Caller::user(&record.name, record.admin)))
            }
            Credentials::Bearer(token) => {
                let Some((id, secret)) = secrets::split_token(&token) else {
                    return Ok(None);
                };
                let Some(record) = access.token(id)? else {
                    return Ok(None);
                };
                if !secrets::digests_equal(&record.secret_sha256, &secrets::secret_digest(secret)) {
                    return Ok(None);
                }
                let Some(user) = access.user(&record.user)? else {
                    return Ok(None);
                };
                Ok(Some(Caller::user(&user.name, user.admin)))
            }
        }
    }
}

/// An argon2id hash of a random password, verified against when the user does not exist.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| secrets::hash_password(&secrets::generate_password()));
