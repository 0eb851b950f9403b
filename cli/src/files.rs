//! Local files the tools look at.

use std::path::Path;

/// Files and bytes under `path` (a file counts as itself; symbolic links are not followed).
pub fn tree(path: &Path) -> (u64, u64) {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::read_dir(path)
            .map(|entries| {
                entries.flatten().fold((0, 0), |(files, bytes), e| {
                    let (f, b) = tree(&e.path());
                    (files + f, bytes + b)
                })
            })
            .unwrap_or((0, 0)),
        Ok(m) if m.is_file() => (1, m.len()),
        _ => (0, 0),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn trees_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("a"), "12345").unwrap();
        std::fs::write(dir.path().join("sub/b"), "12").unwrap();
        assert_eq!(super::tree(dir.path()), (2, 7));
        assert_eq!(super::tree(&dir.path().join("a")), (1, 5));
        assert_eq!(super::tree(&dir.path().join("nope")), (0, 0));
    }
}
