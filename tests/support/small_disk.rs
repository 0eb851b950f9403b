//! A small tmpfs for full-disk tests (mounting needs root, as `.ci/run` has), shared by
//! `tests/full_disk.rs` and `cli/tests/import.rs`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A mounted tmpfs, unmounted lazily on drop (files an embedded store still has open must
/// not keep it mounted).
pub struct SmallDisk(pub PathBuf);

impl SmallDisk {
    /// Mounts a tmpfs of `mib` MiB at `at`; `None` where mounting is not allowed.
    pub fn mount(at: &Path, mib: u64) -> Option<SmallDisk> {
        std::fs::create_dir_all(at).unwrap();
        Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={mib}m"),
                "tmpfs",
                at.to_str().unwrap(),
            ])
            .status()
            .is_ok_and(|s| s.success())
            .then(|| SmallDisk(at.to_path_buf()))
    }

    /// Grows (or shrinks) it to `mib` MiB, keeping its files.
    pub fn grow(&self, mib: u64) {
        let grown = Command::new("mount")
            .args([
                "-o",
                &format!("remount,size={mib}m"),
                self.0.to_str().unwrap(),
            ])
            .status()
            .is_ok_and(|s| s.success());
        assert!(grown, "remount {}", self.0.display());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}
