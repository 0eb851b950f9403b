//! `trackd backup NAME` (a consistent copy of a live store, taken by the server while writes
//! go on) and `trackd restore BACKUP --store DIR` (puts a backup in place as a store).

use std::path::{Path, PathBuf};

use serde_json::json;
use trackd_server::{Store, StoreConfig};

use crate::exit::{Failure, Outcome};
use crate::output::{self, Table};
use crate::target::Target;

/// `trackd backup` options.
#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// The backup's name (letters, digits, `.`, `_`, `-`); it is written under
    /// `<store>/backups/<name>` on the machine of the store.
    name: String,
    #[command(flatten)]
    target: Target,
}

/// `trackd restore` options.
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The backup directory (`<store>/backups/<name>`, or a copy of it).
    backup: PathBuf,
    /// The store directory to create from it (must not hold a store already).
    #[arg(long)]
    store: PathBuf,
}

/// Runs `trackd backup`.
pub async fn backup(args: BackupArgs) -> Outcome {
    let client = args.target.connect().await?;
    let b = client.backup(&args.name).await?;
    let mut table = Table::new(["what", "value"]);
    for (k, v) in [
        ("path", b.path.clone()),
        ("database entries", b.database_entries.to_string()),
        ("database bytes", b.database_bytes.to_string()),
        (
            "writes waited (s)",
            format!("{:.3}", b.writes_waited_seconds),
        ),
        ("artifact files", b.artifact_files.to_string()),
        ("artifact bytes", b.artifact_bytes.to_string()),
    ] {
        table.row([k.to_owned(), v]);
    }
    let json = json!({
        "path": b.path, "database_entries": b.database_entries, "database_bytes": b.database_bytes,
        "writes_waited_seconds": b.writes_waited_seconds, "artifact_files": b.artifact_files,
        "artifact_bytes": b.artifact_bytes,
    });
    output::print(args.target.format(), &table, json)?;
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<u64> {
    std::fs::create_dir_all(to)?;
    let mut bytes = 0;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            bytes += copy_dir(&entry.path(), &target)?;
        } else {
            bytes += std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(bytes)
}

/// Runs `trackd restore`: copies the backup into a new store directory (beside it first,
/// then renamed into place, so a failed restore leaves nothing that looks like a store) and
/// opens it once to check it.
pub async fn restore(args: RestoreArgs) -> Outcome {
    if !args.backup.join("db").is_dir() {
        return Err(Failure::not_found(format!(
            "{} is not a trackd backup (no db/ in it)",
            args.backup.display()
        )));
    }
    if args.store.join("db").exists() {
        return Err(Failure {
            message: format!(
                "{} holds a store already; restore into a new directory (or move it away first)",
                args.store.display()
            ),
            code: crate::exit::REFUSED,
        });
    }
    let parent = args
        .store
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let staging = parent.join(format!(
        ".{}.restoring",
        args.store.file_name().unwrap_or_default().to_string_lossy()
    ));
    let _ = std::fs::remove_dir_all(&staging);
    let (from, to) = (args.backup.clone(), staging.clone());
    let bytes = tokio::task::spawn_blocking(move || copy_dir(&from, &to))
        .await
        .map_err(|e| Failure::other(e.to_string()))?
        .map_err(|e| {
            let _ = std::fs::remove_dir_all(&staging);
            Failure::other(format!("copying the backup failed: {e}"))
        })?;
    // Checked before it is put in place.
    let opened = Store::open(StoreConfig::new(&staging));
    match opened {
        Ok(store) => store
            .close()
            .await
            .map_err(|e| Failure::other(e.to_string()))?,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(Failure::other(format!(
                "the backup does not open as a store: {e}"
            )));
        }
    }
    if args.store.exists() {
        // An empty directory the user made for it.
        std::fs::remove_dir(&args.store)
            .map_err(|e| Failure::other(format!("{} is not empty: {e}", args.store.display())))?;
    }
    std::fs::rename(&staging, &args.store)?;
    eprintln!(
        "restored {} bytes into {}; serve it with: trackd server --store {}",
        bytes,
        args.store.display(),
        args.store.display()
    );
    Ok(())
}
