//! The PostgreSQL schema and its versioned migrations, applied at start under an advisory
//! lock (so replicas starting together migrate once). A database whose schema is newer than
//! this build is refused: an older trackd must not write into a layout it does not know.
//!
//! Layout (every table prefixed `trackd_`, so the database can hold other things):
//!
//! | table | row | why this shape |
//! |---|---|---|
//! | `experiments` | one per experiment: unique name, postcard record | names unique by index, across replicas |
//! | `runs` | one per run: experiment, deleted flag, version (+1 on every change), postcard `RunInfo`, postcard data (latest metrics, params, tags, inputs, outputs) | a write locks its run's row, so MLflow's rules (write-once params, deleted runs refuse writes) hold across replicas; a search reads one row per run, never a join (mlflow#1865), and only the versions of runs it holds decoded |
//! | `metric_chunks` | up to 4,096 points of one series, compressed, with its span | ~2 B/point instead of a row per point (mlflow#12813); history by (run, key, chunk no), step ranges by the span's min/max step |
//! | `streams` | last stored seq of a LogStream | written in the batch's transaction: a client re-sending to another replica cannot double-store |
//! | `logged_models`, `registered_models` | postcard records | changed under a row lock |
//! | `users`, `tokens`, `grants` | postcard records | authentication (`--auth`) |

use tokio_postgres::Client;

use super::PgError;

/// The schema version this build writes.
pub const SCHEMA_VERSION: i32 = 1;

/// Advisory lock key held while migrating ("trackd" in ASCII).
const MIGRATION_LOCK: i64 = 0x7472_6163_6b64;

/// Migration `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE trackd_experiments (
    id bigint PRIMARY KEY,
    name text NOT NULL UNIQUE,
    record bytea NOT NULL
);
CREATE SEQUENCE trackd_experiment_ids START 1;
CREATE TABLE trackd_runs (
    run_id bytea PRIMARY KEY,
    experiment_id bigint NOT NULL REFERENCES trackd_experiments (id),
    deleted boolean NOT NULL,
    version bigint NOT NULL DEFAULT 0,
    info bytea NOT NULL,
    data bytea NOT NULL
);
CREATE INDEX trackd_runs_by_experiment ON trackd_runs (experiment_id, deleted);
CREATE TABLE trackd_metric_chunks (
    run_id bytea NOT NULL,
    key text NOT NULL,
    no integer NOT NULL,
    min_step bigint NOT NULL,
    max_step bigint NOT NULL,
    count integer NOT NULL,
    span bytea NOT NULL,
    points bytea NOT NULL,
    PRIMARY KEY (run_id, key, no)
);
CREATE TABLE trackd_streams (
    stream_id text PRIMARY KEY,
    last_seq bigint NOT NULL,
    updated_ms bigint NOT NULL
);
CREATE TABLE trackd_logged_models (
    id bytea PRIMARY KEY,
    experiment_id bigint NOT NULL,
    record bytea NOT NULL
);
CREATE INDEX trackd_logged_models_by_experiment ON trackd_logged_models (experiment_id);
CREATE TABLE trackd_registered_models (
    name text PRIMARY KEY,
    record bytea NOT NULL
);
CREATE TABLE trackd_users (
    name text PRIMARY KEY,
    record bytea NOT NULL
);
CREATE TABLE trackd_tokens (
    id text PRIMARY KEY,
    user_name text NOT NULL,
    record bytea NOT NULL
);
CREATE INDEX trackd_tokens_by_user ON trackd_tokens (user_name);
CREATE TABLE trackd_grants (
    resource text NOT NULL,
    user_name text NOT NULL,
    level smallint NOT NULL,
    PRIMARY KEY (resource, user_name)
);
"#];

/// Brings the schema to [`SCHEMA_VERSION`]; refuses a newer one. Returns the version found.
pub async fn migrate(client: &mut Client) -> Result<i32, PgError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let result = migrate_locked(client).await;
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await?;
    result
}

async fn migrate_locked(client: &mut Client) -> Result<i32, PgError> {
    client
        .batch_execute("CREATE TABLE IF NOT EXISTS trackd_schema (version integer NOT NULL)")
        .await?;
    let found: i32 = client
        .query_opt("SELECT version FROM trackd_schema", &[])
        .await?
        .map(|row| row.get(0))
        .unwrap_or(0);
    if found > SCHEMA_VERSION {
        return Err(PgError::NewerSchema {
            found,
            known: SCHEMA_VERSION,
        });
    }
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = client.transaction().await?;
        tx.batch_execute(sql).await?;
        tx.execute("DELETE FROM trackd_schema", &[]).await?;
        tx.execute(
            "INSERT INTO trackd_schema (version) VALUES ($1)",
            &[&(from as i32 + 1)],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(version = from + 1, "PostgreSQL schema migrated");
    }
    Ok(found)
}
