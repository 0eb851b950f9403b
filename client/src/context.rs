//! MLflow's system tags for new runs: user, source, and git commit.

use std::path::{Path, PathBuf};

/// `mlflow.user`: the user who started the run.
///
/// # Examples
///
/// ```
/// # fn main() {
/// use trackd_client::context;
/// assert_eq!(context::USER, "mlflow.user");
/// # }
/// ```
pub const USER: &str = "mlflow.user";
/// `mlflow.source.name`: the program that started the run.
///
/// # Examples
///
/// ```
/// # fn main() {
/// use trackd_client::context;
/// assert_eq!(context::SOURCE_NAME, "mlflow.source.name");
/// # }
/// ```
pub const SOURCE_NAME: &str = "mlflow.source.name";
/// `mlflow.source.type`: the kind of source (`LOCAL` for a program run on this machine).
///
/// # Examples
///
/// ```
/// # fn main() {
/// use trackd_client::context;
/// assert_eq!(context::SOURCE_TYPE, "mlflow.source.type");
/// # }
/// ```
pub const SOURCE_TYPE: &str = "mlflow.source.type";
/// `mlflow.source.git.commit`: the git commit checked out where the run started.
///
/// # Examples
///
/// ```
/// # fn main() {
/// use trackd_client::context;
/// assert_eq!(context::GIT_COMMIT, "mlflow.source.git.commit");
/// # }
/// ```
pub const GIT_COMMIT: &str = "mlflow.source.git.commit";
/// `mlflow.parentRunId`: the parent of a nested run.
///
/// # Examples
///
/// ```
/// # fn main() {
/// use trackd_client::context;
/// assert_eq!(context::PARENT_RUN_ID, "mlflow.parentRunId");
/// # }
/// ```
pub const PARENT_RUN_ID: &str = "mlflow.parentRunId";
/// `mlflow.runName`: the run's name, as MLflow also keeps it in a tag.
///
/// # Examples
///
/// ```
/// # fn main() {
/// use trackd_client::context;
/// assert_eq!(context::RUN_NAME, "mlflow.runName");
/// # }
/// ```
pub const RUN_NAME: &str = "mlflow.runName";

/// The OS user (`USER`, `LOGNAME`, `USERNAME`), else `unknown`.
///
/// # Examples
///
/// ```
/// # fn main() {
/// use trackd_client::context;
/// # // SAFETY: single-threaded example.
/// # unsafe { std::env::set_var("USER", "ada") };
/// assert_eq!(context::user(), "ada");
/// # }
/// ```
pub fn user() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".into())
}

/// The program being run (its first argument), as MLflow's `sys.argv[0]`.
///
/// # Examples
///
/// ```
/// # fn main() {
/// use trackd_client::context;
/// let program = std::env::args().next().unwrap();
/// assert_eq!(context::source_name(), program);
/// # }
/// ```
pub fn source_name() -> String {
    std::env::args()
        .next()
        .unwrap_or_else(|| "<unknown>".into())
}

/// The commit checked out in the git repository containing `start` (or an ancestor).
///
/// # Examples
///
/// ```
/// # fn main() {
/// use trackd_client::context;
/// # let repo = tempfile::tempdir().unwrap();
/// # std::fs::create_dir_all(repo.path().join(".git/refs/heads")).unwrap();
/// # std::fs::write(repo.path().join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
/// # std::fs::write(repo.path().join(".git/refs/heads/main"), "0123456789abcdef0123456789abcdef01234567\n").unwrap();
/// # std::fs::create_dir_all(repo.path().join("src")).unwrap();
/// // In a checkout of main at 0123456…:
/// let commit = context::git_commit(&repo.path().join("src"));
/// assert_eq!(commit.as_deref(), Some("0123456789abcdef0123456789abcdef01234567"));
/// assert_eq!(context::git_commit(std::path::Path::new("/")), None);
/// # }
/// ```
pub fn git_commit(start: &Path) -> Option<String> {
    let git_dir = find_git_dir(start)?;
    let head = std::fs::read_to_string(git_dir.join("HEAD")).ok()?;
    let head = head.trim();
    let sha = match head.strip_prefix("ref: ") {
        None => head.to_owned(),
        Some(reference) => match std::fs::read_to_string(git_dir.join(reference)) {
            Ok(s) => s.trim().to_owned(),
            Err(_) => packed_ref(&common_dir(&git_dir), reference)?,
        },
    };
    (sha.len() >= 40 && sha.bytes().all(|b| b.is_ascii_hexdigit())).then_some(sha)
}

fn find_git_dir(start: &Path) -> Option<PathBuf> {
    let mut dir = Some(start);
    while let Some(d) = dir {
        let candidate = d.join(".git");
        if candidate.is_dir() {
            return Some(candidate);
        }
        if candidate.is_file() {
            // A worktree or submodule: ".git" holds "gitdir: <path>".
            let text = std::fs::read_to_string(&candidate).ok()?;
            let path = PathBuf::from(text.trim().strip_prefix("gitdir: ")?);
            return Some(if path.is_absolute() {
                path
            } else {
                d.join(path)
            });
        }
        dir = d.parent();
    }
    None
}

fn common_dir(git_dir: &Path) -> PathBuf {
    match std::fs::read_to_string(git_dir.join("commondir")) {
        Ok(rel) => git_dir.join(rel.trim()),
        Err(_) => git_dir.to_path_buf(),
    }
}

fn packed_ref(git_dir: &Path, reference: &str) -> Option<String> {
    let packed = std::fs::read_to_string(git_dir.join("packed-refs")).ok()?;
    packed.lines().find_map(|line| {
        let (sha, name) = line.split_once(' ')?;
        (name == reference).then(|| sha.to_owned())
    })
}

/// The system tags MLflow sets on a new run started from this process (user, source
/// name and type, and the git commit when the working directory or the program is in a git
/// checkout).
///
/// # Examples
///
/// ```
/// # fn main() {
/// use trackd_client::context;
/// let tags = context::system_tags();
/// assert!(tags.iter().any(|(k, v)| k == context::SOURCE_TYPE && v == "LOCAL"));
/// assert!(tags.iter().any(|(k, _)| k == context::USER));
/// # }
/// ```
pub fn system_tags() -> Vec<(String, String)> {
    let mut tags = vec![
        (USER.to_owned(), user()),
        (SOURCE_NAME.to_owned(), source_name()),
        (SOURCE_TYPE.to_owned(), "LOCAL".to_owned()),
    ];
    let commit = std::env::current_dir()
        .ok()
        .and_then(|d| git_commit(&d))
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            git_commit(exe.parent()?)
        });
    if let Some(commit) = commit {
        tags.push((GIT_COMMIT.to_owned(), commit));
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_head_refs_and_packed_refs() {
        let dir = tempfile::tempdir().unwrap();
        let git = dir.path().join(".git");
        std::fs::create_dir_all(git.join("refs/heads")).unwrap();
        let sha = "0123456789abcdef0123456789abcdef01234567";
        std::fs::write(git.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        std::fs::write(
            git.join("packed-refs"),
            format!("# pack-refs\n{sha} refs/heads/main\n"),
        )
        .unwrap();
        let nested = dir.path().join("a/b");
        std::fs::create_dir_all(&nested).unwrap();
        assert_eq!(git_commit(&nested).as_deref(), Some(sha));
        let other = "89abcdef0123456789abcdef0123456789abcdef";
        std::fs::write(git.join("refs/heads/main"), format!("{other}\n")).unwrap();
        assert_eq!(git_commit(&nested).as_deref(), Some(other));
        std::fs::write(git.join("HEAD"), format!("{sha}\n")).unwrap();
        assert_eq!(git_commit(dir.path()).as_deref(), Some(sha));
    }
}
