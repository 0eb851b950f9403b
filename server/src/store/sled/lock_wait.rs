//! Waiting, briefly, for the store's lock to be let go before sled takes it.
//!
//! sled holds an exclusive `flock` on `<dir>/db` for as long as any of its threads keeps the
//! file open, and its background writer threads can outlive the last `Db` handle by a few
//! milliseconds. A server restarted in the same process (the embedded API, tests), or a new
//! process started just as the old one exits (`systemctl restart`), would then find the store
//! "in use" although nobody is using it. So before sled opens the store, [`wait_for_lock`]
//! tries the lock itself for up to [`LOCK_WAIT`]: a store that is really in use is still
//! refused, only that much later.

use std::fs::{File, TryLockError};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long an open waits for another holder of the store's lock to let it go.
pub const LOCK_WAIT: Duration = Duration::from_secs(2);

/// How often the lock is tried while waiting.
const RETRY_EVERY: Duration = Duration::from_millis(10);

/// What [`wait_for_lock`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockState {
    /// Nobody holds the lock (or there is no store yet): sled may take it.
    Free,
    /// Someone still held it after `wait`.
    Held,
}

/// Waits up to `wait` until nobody holds the lock on `db_path`, then lets it go again.
///
/// Anything but a lock held by someone else (no file yet, no permission to open it) answers
/// [`LockState::Free`]: sled's own open then reports it in its words.
pub fn wait_for_lock(db_path: &Path, wait: Duration) -> LockState {
    let Ok(file) = File::open(db_path) else {
        return LockState::Free;
    };
    let deadline = Instant::now() + wait;
    let mut logged = false;
    loop {
        match file.try_lock() {
            // Dropping `file` closes it, which releases the lock for sled.
            Ok(()) => return LockState::Free,
            Err(TryLockError::Error(_)) => return LockState::Free,
            Err(TryLockError::WouldBlock) if Instant::now() >= deadline => return LockState::Held,
            Err(TryLockError::WouldBlock) => {
                if !logged {
                    tracing::info!(
                        path = %db_path.display(),
                        "the store's lock is held; waiting for its holder to let go"
                    );
                    logged = true;
                }
                std::thread::sleep(RETRY_EVERY);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_store_is_free() {
        let dir = tempfile::tempdir().unwrap();
        let state = wait_for_lock(&dir.path().join("db"), Duration::ZERO);
        assert_eq!(state, LockState::Free);
    }

    #[test]
    fn a_held_lock_is_reported_after_the_wait() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let holder = File::create(&path).unwrap();
        holder.lock().unwrap();
        let started = Instant::now();
        assert_eq!(
            wait_for_lock(&path, Duration::from_millis(50)),
            LockState::Held
        );
        assert!(started.elapsed() >= Duration::from_millis(50));
    }
}
