//! `trackd users …` and `trackd tokens …`: the server's users and API tokens, managed on the
//! store directory (with the server stopped; a running server is changed through MLflow's
//! auth REST API). The first administrator of a new `--auth` server is made here or from
//! `TRACKD_ADMIN_USERNAME` / `TRACKD_ADMIN_PASSWORD`. Generated passwords and tokens are
//! printed once; the store keeps only their hashes.

use std::path::PathBuf;

use trackd_server::domain::Caller;
use trackd_server::{Store, StoreConfig, Tracker};

use crate::exit::{Failure, Outcome};
use crate::output::{self, Format, Table};

/// The store a command works on.
#[derive(Debug, clap::Args)]
pub struct StoreArg {
    /// The store directory (as `trackd server --store`).
    #[arg(long, env = "TRACKD_STORE", default_value = "./mlruns")]
    store: PathBuf,
}

/// `trackd users …`.
#[derive(Debug, clap::Subcommand)]
pub enum UsersCommand {
    /// Create a user; prints a generated password once (or reads one from stdin with
    /// --password-stdin).
    Create {
        /// User name.
        name: String,
        /// Make the user an administrator.
        #[arg(long)]
        admin: bool,
        /// Read the password from the first line of stdin instead of generating one.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        store: StoreArg,
    },
    /// List users.
    List {
        #[command(flatten)]
        store: StoreArg,
    },
    /// Give a user a new generated password (printed once).
    ResetPassword {
        /// User name.
        name: String,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Delete a user with their tokens and permissions.
    Delete {
        /// User name.
        name: String,
        #[command(flatten)]
        store: StoreArg,
    },
}

/// `trackd tokens …`.
#[derive(Debug, clap::Subcommand)]
pub enum TokensCommand {
    /// Create an API token for a user (MLFLOW_TRACKING_TOKEN); printed once.
    Create {
        /// The owner.
        #[arg(long)]
        user: String,
        /// What it is for.
        #[arg(long, default_value = "")]
        description: String,
        #[command(flatten)]
        store: StoreArg,
    },
    /// List a user's tokens (ids and descriptions; never the secrets).
    List {
        /// The owner.
        #[arg(long)]
        user: String,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Revoke a token by id.
    Revoke {
        /// Token id (the 16 hex characters after `trk_`).
        id: String,
        #[command(flatten)]
        store: StoreArg,
    },
}

async fn open(store: &StoreArg) -> Result<Tracker, Failure> {
    if !store.store.join("db").is_dir() {
        // A new store is fine for creating the first user before the first start.
        std::fs::create_dir_all(&store.store).map_err(|e| Failure::other(e.to_string()))?;
    }
    let opened = Store::open(StoreConfig::new(&store.store)).map_err(|e| Failure {
        message: e.to_string(),
        code: crate::exit::UNREACHABLE,
    })?;
    Ok(Tracker::open(opened)?)
}

/// Runs the command on the store, then closes it (even after a refusal).
async fn on_store<T>(
    store: &StoreArg,
    work: impl AsyncFnOnce(&Tracker) -> Result<T, trackd_server::TrackingError>,
) -> Result<T, Failure> {
    let tracker = open(store).await?;
    let result = work(&tracker).await;
    tracker.close().await?;
    Ok(result?)
}

fn read_password() -> Result<String, Failure> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| Failure::other(format!("reading the password from stdin: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Runs `trackd users …`.
pub async fn run_users(command: UsersCommand) -> Outcome {
    let me = Caller::InProcess;
    match command {
        UsersCommand::Create {
            name,
            admin,
            password_stdin,
            store,
        } => {
            let (password, generated) = if password_stdin {
                (read_password()?, false)
            } else {
                (trackd_server::auth::secrets::generate_password(), true)
            };
            on_store(&store, async |t| {
                t.create_user(&me, &name, &password, admin).await
            })
            .await?;
            if generated {
                println!(
                    "created user '{name}'{}; password (shown once): {password}",
                    if admin { " (admin)" } else { "" }
                );
            } else {
                println!(
                    "created user '{name}'{}",
                    if admin { " (admin)" } else { "" }
                );
            }
        }
        UsersCommand::List { store } => {
            let users = on_store(&store, async |t| t.list_users(&me).await).await?;
            let mut table = Table::new(["name", "admin", "created"]);
            let json = serde_json::json!(users
                .iter()
                .map(|u| serde_json::json!({"name": u.name, "admin": u.admin, "created_ms": u.created_ms}))
                .collect::<Vec<_>>());
            for u in users {
                table.row([
                    u.name,
                    u.admin.to_string(),
                    output::time(Some(u.created_ms)),
                ]);
            }
            output::print(Format::Table, &table, json)
                .map_err(|e| Failure::other(e.to_string()))?;
        }
        UsersCommand::ResetPassword { name, store } => {
            let password = trackd_server::auth::secrets::generate_password();
            on_store(&store, async |t| {
                t.update_password(&me, &name, &password).await
            })
            .await?;
            println!("new password of '{name}' (shown once): {password}");
        }
        UsersCommand::Delete { name, store } => {
            on_store(&store, async |t| t.delete_user(&me, &name).await).await?;
            println!("deleted user '{name}'");
        }
    }
    Ok(())
}

/// Runs `trackd tokens …`.
pub async fn run_tokens(command: TokensCommand) -> Outcome {
    let me = Caller::InProcess;
    match command {
        TokensCommand::Create {
            user,
            description,
            store,
        } => {
            let (record, token) = on_store(&store, async |t| {
                t.create_token(&me, &user, &description).await
            })
            .await?;
            println!("token {} for '{user}' (shown once): {token}", record.id);
        }
        TokensCommand::List { user, store } => {
            let tokens = on_store(&store, async |t| t.list_tokens(&me, &user).await).await?;
            let mut table = Table::new(["id", "description", "created"]);
            for t in tokens {
                table.row([t.id, t.description, output::time(Some(t.created_ms))]);
            }
            output::print(Format::Table, &table, serde_json::Value::Null)
                .map_err(|e| Failure::other(e.to_string()))?;
        }
        TokensCommand::Revoke { id, store } => {
            on_store(&store, async |t| t.revoke_token(&me, &id).await).await?;
            println!("revoked token {id}");
        }
    }
    Ok(())
}
