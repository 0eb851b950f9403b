//! What an MLflow store holds, as the importer reads it: experiments, runs and their metric
//! series, whichever store they come from ([`super::file_store`], [`super::sqlite`]).

use std::path::PathBuf;

use trackd_client::{DatasetInput, RunStatus};

/// Why reading the source failed (the message names the file or table at fault).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(pub String);

/// Result of reading the source.
pub type SourceResult<T> = Result<T, SourceError>;

/// An experiment of the source.
#[derive(Debug, Clone)]
pub struct SourceExperiment {
    /// Its id in the source.
    pub id: String,
    /// Its name (unique).
    pub name: String,
    /// Soft-deleted in the source.
    pub deleted: bool,
    /// Experiment tags.
    pub tags: Vec<(String, String)>,
}

/// A run of the source, without its metric points.
#[derive(Debug, Clone)]
pub struct SourceRun {
    /// Its id in the source.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Status.
    pub status: RunStatus,
    /// Start time, ms.
    pub start_time: i64,
    /// End time, ms.
    pub end_time: Option<i64>,
    /// User.
    pub user_id: String,
    /// Soft-deleted in the source.
    pub deleted: bool,
    /// Params.
    pub params: Vec<(String, String)>,
    /// Tags (system tags included).
    pub tags: Vec<(String, String)>,
    /// Datasets it used.
    pub datasets: Vec<DatasetInput>,
    /// Metric keys with points.
    pub metric_keys: Vec<String>,
    /// The local directory of its artifacts, when the source keeps them on this machine.
    pub artifact_dir: Option<PathBuf>,
    /// Where its artifacts are, as the source says (for the summary when not local).
    pub artifact_uri: String,
}

/// One metric point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourcePoint {
    /// Step.
    pub step: i64,
    /// Wall time, ms.
    pub timestamp: i64,
    /// Value (NaN and infinities allowed).
    pub value: f64,
}

/// Points handed over per call of the reader's callback.
pub const POINT_CHUNK: usize = 65_536;

/// Hands a reader's points to its callback in chunks of at most [`POINT_CHUNK`].
pub struct Chunker<'a> {
    each: &'a mut dyn FnMut(Vec<SourcePoint>) -> bool,
    chunk: Vec<SourcePoint>,
    total: u64,
}

impl<'a> Chunker<'a> {
    /// Chunks for `each`.
    pub fn new(each: &'a mut dyn FnMut(Vec<SourcePoint>) -> bool) -> Self {
        Chunker {
            each,
            chunk: Vec::with_capacity(POINT_CHUNK),
            total: 0,
        }
    }

    /// Adds a point; `false` when the callback asked to stop.
    pub fn push(&mut self, point: SourcePoint) -> bool {
        self.chunk.push(point);
        self.total += 1;
        self.chunk.len() < POINT_CHUNK || (self.each)(std::mem::take(&mut self.chunk))
    }

    /// Hands over the last chunk; returns how many points were read.
    pub fn finish(mut self) -> u64 {
        if !self.chunk.is_empty() {
            (self.each)(std::mem::take(&mut self.chunk));
        }
        self.total
    }
}

/// A readable MLflow store. Reads are blocking (files, SQLite); the importer runs them off
/// the async workers.
pub trait Source: Send + Sync {
    /// Every experiment, deleted ones included.
    fn experiments(&self) -> SourceResult<Vec<SourceExperiment>>;

    /// The runs of an experiment: each run read whole (but its points), or the run's id and
    /// why it could not be read.
    fn runs(
        &self,
        experiment: &SourceExperiment,
    ) -> SourceResult<Vec<Result<SourceRun, (String, SourceError)>>>;

    /// The points of one series in chunks of at most [`POINT_CHUNK`], handed to `each`
    /// (which returns `false` to stop early); returns how many points were read.
    fn points(
        &self,
        experiment: &SourceExperiment,
        run: &SourceRun,
        key: &str,
        each: &mut dyn FnMut(Vec<SourcePoint>) -> bool,
    ) -> SourceResult<u64>;
}

/// MLflow's run status by name or number.
pub fn run_status(s: &str) -> RunStatus {
    match s.trim() {
        "RUNNING" | "1" => RunStatus::Running,
        "SCHEDULED" | "2" => RunStatus::Scheduled,
        "FAILED" | "4" => RunStatus::Failed,
        "KILLED" | "5" => RunStatus::Killed,
        _ => RunStatus::Finished,
    }
}

/// The local directory of a run's artifacts that its artifact URI names, if it is on this
/// machine, exists, and looks like a run's artifact root (`…/<run_id>/artifacts`, as MLflow
/// makes them): an empty or unexpected location is never uploaded (it could name any
/// directory, even `/`).
pub fn local_artifact_dir(
    uri: &str,
    run_id: &str,
    relative_to: &std::path::Path,
) -> Option<PathBuf> {
    if uri.trim().is_empty() {
        return None;
    }
    let path = if let Some(rest) = uri.strip_prefix("file://") {
        PathBuf::from(percent_decode(rest))
    } else if uri.contains("://") || uri.starts_with("mlflow-artifacts:") {
        return None;
    } else {
        let p = PathBuf::from(uri);
        if p.is_absolute() {
            p
        } else {
            relative_to.join(p)
        }
    };
    let mut tail = path.components().rev();
    let looks_right = tail.next().is_some_and(|c| c.as_os_str() == "artifacts")
        && tail.next().is_some_and(|c| c.as_os_str() == run_id);
    (looks_right && path.is_dir()).then_some(path)
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_by_name_and_number() {
        assert_eq!(run_status("3"), RunStatus::Finished);
        assert_eq!(run_status("FAILED"), RunStatus::Failed);
        assert_eq!(run_status("1"), RunStatus::Running);
    }

    #[test]
    fn artifact_uris_on_this_machine() {
        let dir = tempfile::tempdir().unwrap();
        let run = "0123456789abcdef0123456789abcdef";
        let sub = dir.path().join("my runs").join(run).join("artifacts");
        std::fs::create_dir_all(&sub).unwrap();
        let uri = format!("file://{}/my%20runs/{run}/artifacts", dir.path().display());
        assert_eq!(local_artifact_dir(&uri, run, dir.path()), Some(sub.clone()));
        let relative = format!("my runs/{run}/artifacts");
        assert_eq!(local_artifact_dir(&relative, run, dir.path()), Some(sub));
        assert_eq!(local_artifact_dir("s3://bucket/x", run, dir.path()), None);
        assert_eq!(
            local_artifact_dir("mlflow-artifacts:/1/x", run, dir.path()),
            None
        );
        assert_eq!(local_artifact_dir("/does/not/exist", run, dir.path()), None);
        // Never a directory that is not this run's artifact root.
        assert_eq!(local_artifact_dir("", run, dir.path()), None);
        assert_eq!(local_artifact_dir(".", run, dir.path()), None);
        assert_eq!(local_artifact_dir("/", run, dir.path()), None);
        let other = format!("my runs/{run}");
        assert_eq!(local_artifact_dir(&other, run, dir.path()), None);
    }
}
