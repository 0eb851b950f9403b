//! The free-space guard: the committer refuses writes while the file system holding the
//! store has less than a reserve free, before sled is asked to write anything.
//!
//! sled 0.34 does not recover from a failed write: a `flush()` after ENOSPC can wait
//! forever in `iobuf::make_stable` (seen here: the writer thread parked for good on a full
//! tmpfs). So a full disk must never reach it. A refused write is answered at once with
//! RESOURCE_EXHAUSTED ("the disk holding the store is full … free space and retry"), reads
//! go on, and writes resume by themselves once space is freed: the check is made again for
//! every write group.

use std::path::PathBuf;

/// Free bytes on the file system holding `dir` (`None` if it cannot be asked).
pub fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a NUL-terminated string and `stat` is a valid out-pointer.
    let rc = unsafe { libc::statvfs(path.as_ptr(), stat.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it filled `stat`.
    let stat = unsafe { stat.assume_init() };
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// Whether there is room to write.
pub(crate) struct SpaceGuard {
    dir: PathBuf,
    reserve: u64,
}

impl SpaceGuard {
    /// A guard keeping `reserve` bytes free on the file system of `dir` (0: no guard).
    pub fn new(dir: PathBuf, reserve: u64) -> Self {
        SpaceGuard { dir, reserve }
    }

    /// `true` when a write group may go ahead.
    pub fn room(&self) -> bool {
        self.reserve == 0 || free_bytes(&self.dir).is_none_or(|free| free >= self.reserve)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_reads_the_file_system() {
        let dir = tempfile::tempdir().unwrap();
        assert!(free_bytes(dir.path()).unwrap() > 0);
        assert!(SpaceGuard::new(dir.path().into(), 0).room());
        assert!(SpaceGuard::new(dir.path().into(), 1).room());
        assert!(!SpaceGuard::new(dir.path().into(), u64::MAX).room());
    }
}
