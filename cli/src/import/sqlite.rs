//! MLflow's SQL store in SQLite (`sqlite:///mlflow.db`): the tables `experiments`,
//! `experiment_tags`, `runs`, `params`, `tags`, `metrics` (`is_nan` marks NaN values),
//! `datasets`, `inputs` and `input_tags`. Opened read-only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use trackd_client::{Dataset, DatasetInput};

use super::source::{
    local_artifact_dir, run_status, Chunker, Source, SourceError, SourceExperiment, SourcePoint,
    SourceResult, SourceRun,
};

/// A SQLite database of MLflow's SQL store.
pub struct SqliteStore {
    db: Mutex<Connection>,
    dir: PathBuf,
    path: PathBuf,
}

fn sql_err(path: &Path) -> impl Fn(rusqlite::Error) -> SourceError + '_ {
    move |e| SourceError(format!("{}: {e}", path.display()))
}

impl SqliteStore {
    /// Opens the database at `path` read-only; refuses a file that is not MLflow's.
    pub fn open(path: &Path) -> SourceResult<SqliteStore> {
        let db = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sql_err(path))?;
        let has_runs: Option<String> = db
            .query_row(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'runs'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| {
                SourceError(format!("{} is not a SQLite database: {e}", path.display()))
            })?;
        if has_runs.is_none() {
            return Err(SourceError(format!(
                "{} is not an MLflow database: it has no 'runs' table",
                path.display()
            )));
        }
        Ok(SqliteStore {
            db: Mutex::new(db),
            dir: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
            path: path.to_path_buf(),
        })
    }

    fn db(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn pairs(&self, sql: &str, id: &str) -> SourceResult<Vec<(String, String)>> {
        let db = self.db();
        let mut stmt = db.prepare_cached(sql).map_err(sql_err(&self.path))?;
        let rows = stmt
            .query_map([id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                ))
            })
            .map_err(sql_err(&self.path))?;
        rows.collect::<Result<_, _>>().map_err(sql_err(&self.path))
    }

    fn datasets(&self, run_id: &str) -> SourceResult<Vec<DatasetInput>> {
        let db = self.db();
        let mut stmt = db
            .prepare_cached(
                "SELECT i.input_uuid, d.name, d.digest, d.dataset_source_type, d.dataset_source, \
                 d.dataset_schema, d.dataset_profile FROM inputs i JOIN datasets d \
                 ON d.dataset_uuid = i.source_id WHERE i.source_type = 'DATASET' \
                 AND i.destination_type = 'RUN' AND i.destination_id = ?1 ORDER BY i.input_uuid",
            )
            .map_err(sql_err(&self.path))?;
        let rows: Vec<(String, Dataset)> = stmt
            .query_map([run_id], |r| {
                Ok((
                    r.get(0)?,
                    Dataset {
                        name: r.get(1)?,
                        digest: r.get(2)?,
                        source_type: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                        source: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                        schema: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
                        profile: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
                    },
                ))
            })
            .map_err(sql_err(&self.path))?
            .collect::<Result<_, _>>()
            .map_err(sql_err(&self.path))?;
        drop(stmt);
        drop(db);
        rows.into_iter()
            .map(|(input, dataset)| {
                let tags: BTreeMap<String, String> = self
                    .pairs(
                        "SELECT name, value FROM input_tags WHERE input_uuid = ?1",
                        &input,
                    )?
                    .into_iter()
                    .collect();
                Ok(DatasetInput { dataset, tags })
            })
            .collect()
    }
}

impl Source for SqliteStore {
    fn experiments(&self) -> SourceResult<Vec<SourceExperiment>> {
        let rows: Vec<(String, String, String)> = {
            let db = self.db();
            let mut stmt = db
                .prepare(
                    "SELECT CAST(experiment_id AS TEXT), name, COALESCE(lifecycle_stage, 'active') \
                     FROM experiments ORDER BY experiment_id",
                )
                .map_err(sql_err(&self.path))?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(sql_err(&self.path))?
                .collect::<Result<_, _>>()
                .map_err(sql_err(&self.path))?;
            rows
        };
        rows.into_iter()
            .map(|(id, name, stage)| {
                Ok(SourceExperiment {
                    tags: self.pairs(
                        "SELECT key, value FROM experiment_tags WHERE CAST(experiment_id AS TEXT) = ?1",
                        &id,
                    )?,
                    deleted: stage == "deleted",
                    id,
                    name,
                })
            })
            .collect()
    }

    fn runs(
        &self,
        experiment: &SourceExperiment,
    ) -> SourceResult<Vec<Result<SourceRun, (String, SourceError)>>> {
        type Row = (
            String,
            Option<String>,
            Option<String>,
            Option<i64>,
            Option<i64>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Row> = {
            let db = self.db();
            let mut stmt = db
                .prepare(
                    "SELECT run_uuid, name, status, start_time, end_time, user_id, lifecycle_stage, \
                     artifact_uri FROM runs WHERE CAST(experiment_id AS TEXT) = ?1 ORDER BY start_time, run_uuid",
                )
                .map_err(sql_err(&self.path))?;
            let rows = stmt
                .query_map([&experiment.id], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                    ))
                })
                .map_err(sql_err(&self.path))?
                .collect::<Result<_, _>>()
                .map_err(sql_err(&self.path))?;
            rows
        };
        let mut out = Vec::new();
        for (id, name, status, start, end, user, stage, artifact_uri) in rows {
            let read = || -> SourceResult<SourceRun> {
                let artifact_uri = artifact_uri.clone().unwrap_or_default();
                let metric_keys = self
                    .pairs(
                        "SELECT DISTINCT key, '' FROM metrics WHERE run_uuid = ?1 ORDER BY key",
                        &id,
                    )?
                    .into_iter()
                    .map(|(k, _)| k)
                    .collect();
                Ok(SourceRun {
                    id: id.clone(),
                    name: name.clone().unwrap_or_default(),
                    status: run_status(status.as_deref().unwrap_or("FINISHED")),
                    start_time: start.unwrap_or(0),
                    end_time: end,
                    user_id: user.clone().unwrap_or_default(),
                    deleted: stage.as_deref() == Some("deleted"),
                    params: self.pairs(
                        "SELECT key, value FROM params WHERE run_uuid = ?1 ORDER BY key",
                        &id,
                    )?,
                    tags: self.pairs(
                        "SELECT key, value FROM tags WHERE run_uuid = ?1 ORDER BY key",
                        &id,
                    )?,
                    datasets: self.datasets(&id)?,
                    metric_keys,
                    artifact_dir: local_artifact_dir(&artifact_uri, &id, &self.dir),
                    artifact_uri,
                })
            };
            out.push(read().map_err(|e| (id.clone(), e)));
        }
        Ok(out)
    }

    fn points(
        &self,
        _experiment: &SourceExperiment,
        run: &SourceRun,
        key: &str,
        each: &mut dyn FnMut(Vec<SourcePoint>) -> bool,
    ) -> SourceResult<u64> {
        let db = self.db();
        let mut stmt = db
            .prepare_cached(
                "SELECT step, timestamp, value, is_nan FROM metrics WHERE run_uuid = ?1 AND key = ?2 \
                 ORDER BY step, timestamp",
            )
            .map_err(sql_err(&self.path))?;
        let mut rows = stmt.query([&run.id, key]).map_err(sql_err(&self.path))?;
        let mut chunks = Chunker::new(each);
        while let Some(row) = rows.next().map_err(sql_err(&self.path))? {
            let is_nan: Option<bool> = row.get(3).map_err(sql_err(&self.path))?;
            let value: Option<f64> = row.get(2).map_err(sql_err(&self.path))?;
            let point = SourcePoint {
                step: row
                    .get::<_, Option<i64>>(0)
                    .map_err(sql_err(&self.path))?
                    .unwrap_or(0),
                timestamp: row.get(1).map_err(sql_err(&self.path))?,
                value: if is_nan == Some(true) {
                    f64::NAN
                } else {
                    value.unwrap_or(f64::NAN)
                },
            };
            if !chunks.push(point) {
                break;
            }
        }
        Ok(chunks.finish())
    }
}
