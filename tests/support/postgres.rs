//! A real PostgreSQL for the PostgreSQL-backend tests. `.ci/run` starts one throwaway
//! cluster for the whole run and names it in `TRACKD_TEST_POSTGRES`; without it,
//! [`Postgres::start`] initialises and starts a cluster of its own (Debian's
//! postgresql-15 binaries, `initdb` as the `postgres` user when run as root) on 127.0.0.1
//! and a free port, and stops it when dropped. Each test takes a fresh database of it
//! ([`Postgres::database`]). Where PostgreSQL is missing and the tools are not required,
//! `start` returns `None` and says so on stderr.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A PostgreSQL cluster on 127.0.0.1.
pub struct Postgres {
    /// Its port.
    pub port: u16,
    /// The cluster this process started (stopped on drop), or `None` for `.ci/run`'s.
    owned: Option<Owned>,
}

struct Owned {
    dir: tempfile::TempDir,
    bin: PathBuf,
}

fn required() -> bool {
    std::env::var("CI").is_ok() || std::env::var("TRACKD_TEST_TOOLS").is_ok_and(|v| v == "required")
}

/// Where initdb and pg_ctl are: `TRACKD_TEST_PG_BIN`, Debian's directory, or PATH.
fn bin_dir() -> Option<PathBuf> {
    let candidates = [
        std::env::var("TRACKD_TEST_PG_BIN").ok().map(PathBuf::from),
        Some(PathBuf::from("/usr/lib/postgresql/15/bin")),
    ];
    for dir in candidates.into_iter().flatten() {
        if dir.join("initdb").exists() {
            return Some(dir);
        }
    }
    let found = Command::new("sh")
        .args(["-c", "command -v initdb"])
        .output()
        .ok()?;
    let path = String::from_utf8(found.stdout).ok()?;
    Path::new(path.trim()).parent().map(Path::to_path_buf)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs a PostgreSQL program, as the `postgres` user when we are root (initdb refuses root).
fn pg_command(bin: &Path, program: &str) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(program));
        c
    } else {
        Command::new(bin.join(program))
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Postgres {
    /// `.ci/run`'s cluster, a new one, or `None` where PostgreSQL is missing (and not
    /// required).
    pub fn start() -> Option<Postgres> {
        if let Ok(uri) = std::env::var("TRACKD_TEST_POSTGRES") {
            let port = uri
                .rsplit_once(':')
                .and_then(|(_, tail)| tail.split('/').next()?.parse().ok())
                .expect("TRACKD_TEST_POSTGRES is postgresql://trackd@127.0.0.1:PORT/postgres");
            return Some(Postgres { port, owned: None });
        }
        let Some(bin) = bin_dir() else {
            assert!(!required(), "PostgreSQL is required (initdb not found)");
            eprintln!("SKIPPED: no PostgreSQL (initdb); run `bash .ci/run`");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success(), "chown the cluster directory to postgres");
        }
        let data = dir.path().join("data");
        let out = pg_command(&bin, "initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "trackd", "--auth=trust", "--no-sync", "-E", "UTF8"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // A port taken between choosing it and binding it makes pg_ctl fail: try another.
        for _ in 0..5 {
            let port = free_port();
            let options = format!(
                "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off \
                 -c full_page_writes=off -c max_connections=200",
                dir.path().display()
            );
            let out = pg_command(&bin, "pg_ctl")
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(dir.path().join("log"))
                .args(["-w", "-o", &options, "start"])
                .output()
                .unwrap();
            if out.status.success() {
                return Some(Postgres {
                    port,
                    owned: Some(Owned { dir, bin }),
                });
            }
        }
        let log = std::fs::read_to_string(dir.path().join("log")).unwrap_or_default();
        panic!("PostgreSQL did not start:\n{log}");
    }

    /// The cluster named by `TRACKD_TEST_POSTGRES` (the suite's PostgreSQL pass needs it;
    /// `.ci/run` sets it).
    pub fn shared() -> Postgres {
        assert!(
            std::env::var("TRACKD_TEST_POSTGRES").is_ok(),
            "TRACKD_TEST_BACKEND=postgres needs TRACKD_TEST_POSTGRES=postgresql://trackd@127.0.0.1:PORT/postgres (.ci/run sets both)"
        );
        Postgres::start().expect("the named cluster")
    }

    /// The URI of the cluster's `postgres` database.
    pub fn admin_uri(&self) -> String {
        format!("postgresql://trackd@127.0.0.1:{}/postgres", self.port)
    }

    /// Runs SQL in the `postgres` database with psql; its output.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let out = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "trackd",
            ])
            .args(["-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A new, empty database; its URI.
    pub fn database(&self) -> String {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        format!("postgresql://trackd@127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(owned) = &self.owned {
            let _ = pg_command(&owned.bin, "pg_ctl")
                .arg("-D")
                .arg(owned.dir.path().join("data"))
                .args(["-m", "immediate", "-w", "stop"])
                .output();
        }
    }
}
