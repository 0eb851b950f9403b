//! MLflow's file store (`./mlruns`): `<experiment>/meta.yaml` (deleted experiments under
//! `.trash/`), `<experiment>/<run>/meta.yaml`, `params/`, `tags/` (a file per key; keys with
//! `/` are directories), `metrics/<key>` (a line per point: `timestamp value step`),
//! `inputs/<id>/meta.yaml` pointing at `<experiment>/datasets/<id>/meta.yaml`, and
//! `artifacts/`.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use trackd_client::{Dataset, DatasetInput};

use super::source::{
    local_artifact_dir, run_status, Chunker, Source, SourceError, SourceExperiment, SourcePoint,
    SourceResult, SourceRun,
};

/// A file store rooted at a directory.
pub struct FileStore {
    root: PathBuf,
}

#[derive(Deserialize)]
struct ExperimentMeta {
    experiment_id: serde_yaml_value::Scalar,
    name: String,
    #[serde(default)]
    lifecycle_stage: String,
}

#[derive(Deserialize)]
struct RunMeta {
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    run_uuid: Option<String>,
    #[serde(default)]
    run_name: Option<String>,
    #[serde(default)]
    status: serde_yaml_value::Scalar,
    #[serde(default)]
    start_time: Option<i64>,
    #[serde(default)]
    end_time: Option<i64>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    lifecycle_stage: String,
    #[serde(default)]
    artifact_uri: String,
}

#[derive(Deserialize)]
struct InputMeta {
    source_id: String,
    #[serde(default)]
    source_type: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct DatasetMeta {
    name: String,
    digest: String,
    #[serde(default)]
    source_type: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    schema: Option<String>,
    #[serde(default)]
    profile: Option<String>,
}

/// YAML scalars that MLflow writes either quoted or not (`experiment_id: '0'`, `status: 3`).
mod serde_yaml_value {
    use serde::Deserialize;

    /// A scalar read as text.
    #[derive(Debug, Default, Clone)]
    pub struct Scalar(pub String);

    impl<'de> Deserialize<'de> for Scalar {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            #[derive(Deserialize)]
            #[serde(untagged)]
            enum Any {
                S(String),
                I(i64),
                F(f64),
                B(bool),
            }
            Ok(Scalar(match Any::deserialize(d)? {
                Any::S(s) => s,
                Any::I(i) => i.to_string(),
                Any::F(f) => f.to_string(),
                Any::B(b) => b.to_string(),
            }))
        }
    }
}

fn read_yaml<T: for<'de> Deserialize<'de>>(path: &Path) -> SourceResult<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SourceError(format!("{}: {e}", path.display())))?;
    yaml_serde::from_str(&text).map_err(|e| SourceError(format!("{}: {e}", path.display())))
}

/// Files under `dir` as (key, contents): a key with `/` is a nested file.
fn key_files(dir: &Path) -> SourceResult<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                walk(base, &path, out)?;
            } else {
                let key = path
                    .strip_prefix(base)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .replace(std::path::MAIN_SEPARATOR, "/");
                out.push((key, path));
            }
        }
        Ok(())
    }
    if dir.is_dir() {
        walk(dir, dir, &mut out).map_err(|e| SourceError(format!("{}: {e}", dir.display())))?;
    }
    out.sort();
    Ok(out)
}

fn key_values(dir: &Path) -> SourceResult<Vec<(String, String)>> {
    key_files(dir)?
        .into_iter()
        .map(|(k, p)| {
            std::fs::read_to_string(&p)
                .map(|v| (k, v))
                .map_err(|e| SourceError(format!("{}: {e}", p.display())))
        })
        .collect()
}

impl FileStore {
    /// Opens the store at `root` (a directory with `0/meta.yaml` or another experiment).
    pub fn open(root: &Path) -> SourceResult<FileStore> {
        let store = FileStore {
            root: root.to_path_buf(),
        };
        if store.experiment_dirs()?.is_empty() {
            return Err(SourceError(format!(
                "{} is not an MLflow file store: no <experiment>/meta.yaml in it",
                root.display()
            )));
        }
        Ok(store)
    }

    fn experiment_dirs(&self) -> SourceResult<Vec<PathBuf>> {
        let mut dirs = Vec::new();
        for base in [self.root.clone(), self.root.join(".trash")] {
            let Ok(entries) = std::fs::read_dir(&base) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.join("meta.yaml").is_file() {
                    dirs.push(path);
                }
            }
        }
        dirs.sort();
        Ok(dirs)
    }

    fn experiment_dir(&self, id: &str) -> PathBuf {
        let live = self.root.join(id);
        if live.join("meta.yaml").is_file() {
            live
        } else {
            self.root.join(".trash").join(id)
        }
    }

    fn read_run(&self, experiment: &SourceExperiment, dir: &Path) -> SourceResult<SourceRun> {
        let meta: RunMeta = read_yaml(&dir.join("meta.yaml"))?;
        let id = meta.run_id.or(meta.run_uuid).unwrap_or_else(|| {
            dir.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        });
        let tags = key_values(&dir.join("tags"))?;
        let name = meta.run_name.filter(|n| !n.is_empty()).unwrap_or_else(|| {
            tags.iter()
                .find(|(k, _)| k == "mlflow.runName")
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        });
        let mut datasets = Vec::new();
        for entry in std::fs::read_dir(dir.join("inputs"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let input: InputMeta = read_yaml(&entry.path().join("meta.yaml"))?;
            if input.source_type != "DATASET" && !input.source_type.is_empty() {
                continue;
            }
            let ds: DatasetMeta = read_yaml(
                &self
                    .experiment_dir(&experiment.id)
                    .join("datasets")
                    .join(&input.source_id)
                    .join("meta.yaml"),
            )?;
            datasets.push(DatasetInput {
                dataset: Dataset {
                    name: ds.name,
                    digest: ds.digest,
                    source_type: ds.source_type,
                    source: ds.source,
                    schema: ds.schema.unwrap_or_default(),
                    profile: ds.profile.unwrap_or_default(),
                },
                tags: input.tags,
            });
        }
        Ok(SourceRun {
            name,
            status: run_status(&meta.status.0),
            start_time: meta.start_time.unwrap_or(0),
            end_time: meta.end_time,
            user_id: meta.user_id.unwrap_or_default(),
            deleted: meta.lifecycle_stage == "deleted",
            params: key_values(&dir.join("params"))?,
            tags,
            datasets,
            metric_keys: key_files(&dir.join("metrics"))?
                .into_iter()
                .map(|(k, _)| k)
                .collect(),
            artifact_dir: local_artifact_dir(&meta.artifact_uri, &id, &self.root)
                .or_else(|| Some(dir.join("artifacts")).filter(|d| d.is_dir())),
            artifact_uri: meta.artifact_uri,
            id,
        })
    }
}

impl Source for FileStore {
    fn experiments(&self) -> SourceResult<Vec<SourceExperiment>> {
        let mut out = Vec::new();
        for dir in self.experiment_dirs()? {
            let meta: ExperimentMeta = read_yaml(&dir.join("meta.yaml"))?;
            out.push(SourceExperiment {
                id: meta.experiment_id.0,
                name: meta.name,
                deleted: meta.lifecycle_stage == "deleted"
                    || dir.starts_with(self.root.join(".trash")),
                tags: key_values(&dir.join("tags"))?,
            });
        }
        Ok(out)
    }

    fn runs(
        &self,
        experiment: &SourceExperiment,
    ) -> SourceResult<Vec<Result<SourceRun, (String, SourceError)>>> {
        let dir = self.experiment_dir(&experiment.id);
        let mut runs = Vec::new();
        let entries =
            std::fs::read_dir(&dir).map_err(|e| SourceError(format!("{}: {e}", dir.display())))?;
        let mut run_dirs: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                let name = p.file_name().unwrap_or_default().to_string_lossy();
                p.is_dir() && name.len() == 32 && name.bytes().all(|b| b.is_ascii_hexdigit())
            })
            .collect();
        run_dirs.sort();
        for run_dir in run_dirs {
            let id = run_dir
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            runs.push(self.read_run(experiment, &run_dir).map_err(|e| (id, e)));
        }
        Ok(runs)
    }

    fn points(
        &self,
        experiment: &SourceExperiment,
        run: &SourceRun,
        key: &str,
        each: &mut dyn FnMut(Vec<SourcePoint>) -> bool,
    ) -> SourceResult<u64> {
        let path = self
            .experiment_dir(&experiment.id)
            .join(&run.id)
            .join("metrics")
            .join(key);
        let file = std::fs::File::open(&path)
            .map_err(|e| SourceError(format!("{}: {e}", path.display())))?;
        let mut chunks = Chunker::new(each);
        for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| SourceError(format!("{}: {e}", path.display())))?;
            if line.trim().is_empty() {
                continue;
            }
            let point = parse_point(&line).ok_or_else(|| {
                SourceError(format!(
                    "{} line {}: expected 'timestamp value step', got '{}'",
                    path.display(),
                    n + 1,
                    line.chars().take(80).collect::<String>()
                ))
            })?;
            if !chunks.push(point) {
                break;
            }
        }
        Ok(chunks.finish())
    }
}

/// One metric line: `timestamp value [step]` (old stores wrote no step).
fn parse_point(line: &str) -> Option<SourcePoint> {
    let mut parts = line.split_whitespace();
    let timestamp = parts.next()?.parse().ok()?;
    let value = match parts.next()? {
        v if v.eq_ignore_ascii_case("nan") => f64::NAN,
        v if v.eq_ignore_ascii_case("inf") || v.eq_ignore_ascii_case("infinity") => f64::INFINITY,
        v if v.eq_ignore_ascii_case("-inf") || v.eq_ignore_ascii_case("-infinity") => {
            f64::NEG_INFINITY
        }
        v => v.parse().ok()?,
    };
    let step = match parts.next() {
        Some(s) => s.parse().ok()?,
        None => 0,
    };
    if parts.next().is_some() {
        return None;
    }
    Some(SourcePoint {
        step,
        timestamp,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_lines_parse_as_mlflow_writes_them() {
        assert_eq!(
            parse_point("1700000000000 0.5 3"),
            Some(SourcePoint {
                step: 3,
                timestamp: 1_700_000_000_000,
                value: 0.5
            })
        );
        assert!(parse_point("1 nan 0").unwrap().value.is_nan());
        assert_eq!(parse_point("1 -inf 0").unwrap().value, f64::NEG_INFINITY);
        assert_eq!(parse_point("1 2.5").unwrap().step, 0);
        assert_eq!(parse_point("garbage"), None);
        assert_eq!(parse_point("1 2 3 4"), None);
        assert_eq!(parse_point("1 x 3"), None);
    }
}
