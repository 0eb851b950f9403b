//! Copying the tracking records: experiments, runs with their series, logged and
//! registered models, users, tokens and grants.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use tokio::sync::mpsc;

use super::digest::{Fingerprint, RunHasher};
use super::{blocking, CopyError, CopyReport, OpenedStore, Progress};
use crate::backend::{PendingWrite, TrackingBackend};
use crate::domain::access::Resource;
use crate::domain::{
    ExperimentId, ModelWrite, Point, RegisteredModel, RegistryWrite, Restore, Run, RunId, ViewType,
    WriteOp,
};

/// Writes queued at once: enough to keep the target's writer busy (it commits them in
/// groups), few enough to bound memory (a write carries at most one block of points).
const WINDOW: usize = 16;
/// Blocks of a series read ahead of the writes.
const READ_AHEAD: usize = 2;

/// Writes to the target, a window of them in flight; the first refusal stops the copy.
struct Writes {
    backend: Arc<dyn TrackingBackend>,
    in_flight: VecDeque<(String, PendingWrite)>,
}

impl Writes {
    fn new(backend: Arc<dyn TrackingBackend>) -> Writes {
        Writes {
            backend,
            in_flight: VecDeque::new(),
        }
    }

    async fn push(&mut self, what: String, op: WriteOp) -> Result<(), CopyError> {
        match self.backend.enqueue(op).await {
            Ok(pending) => self.in_flight.push_back((what, pending)),
            Err(source) => return Err(CopyError::Write { what, source }),
        }
        while self.in_flight.len() > WINDOW {
            self.settle_one().await?;
        }
        Ok(())
    }

    async fn settle_one(&mut self) -> Result<(), CopyError> {
        if let Some((what, pending)) = self.in_flight.pop_front() {
            pending
                .await
                .map_err(|source| CopyError::Write { what, source })?;
        }
        Ok(())
    }

    /// Waits until every queued write is durable.
    async fn settle(&mut self) -> Result<(), CopyError> {
        while !self.in_flight.is_empty() {
            self.settle_one().await?;
        }
        Ok(())
    }
}

/// Reads one series in history order, a block at a time, on a blocking thread.
pub(super) fn read_series(
    backend: Arc<dyn TrackingBackend>,
    run: RunId,
    key: String,
) -> mpsc::Receiver<crate::Result<Vec<Point>>> {
    let (tx, rx) = mpsc::channel(READ_AHEAD);
    tokio::task::spawn_blocking(move || {
        let mut source = match backend.history(run, &key, None, None) {
            Ok(s) => s,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        };
        loop {
            let next = source.next_block().transpose();
            let end = !matches!(next, Some(Ok(_)));
            if let Some(block) = next {
                if tx.blocking_send(block).is_err() {
                    return;
                }
            }
            if end {
                return;
            }
        }
    });
    rx
}

/// A run's fingerprint as `backend` holds it (the run read before).
pub(super) async fn fingerprint(
    backend: &Arc<dyn TrackingBackend>,
    run: &Run,
) -> Result<Fingerprint, CopyError> {
    let mut hasher = RunHasher::new(run);
    for key in run.metrics.keys() {
        hasher.series(key);
        let mut blocks = read_series(backend.clone(), run.info.run_id, key.clone());
        while let Some(block) = blocks.recv().await {
            let block = block.map_err(|source| CopyError::Read {
                what: format!("metric '{key}' of run {}", run.info.run_id),
                source,
            })?;
            hasher.points(&block);
        }
    }
    Ok(hasher.finish())
}

/// Copies experiments and runs; returns each source run's fingerprint.
pub(super) async fn copy_tracking(
    from: &OpenedStore,
    to: &OpenedStore,
    report: &mut CopyReport,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<BTreeMap<RunId, Fingerprint>, CopyError> {
    let source = from.tracking.clone();
    let experiments = blocking("the experiments", move || source.experiments()).await?;
    let mut writes = Writes::new(to.tracking.clone());
    let mut fingerprints = BTreeMap::new();
    for experiment in experiments {
        let id = experiment.id;
        writes
            .push(
                format!("experiment {id} '{}'", experiment.name),
                WriteOp::Restore(Restore::Experiment(Box::new(experiment.clone()))),
            )
            .await?;
        report.experiments += 1;
        let source = from.tracking.clone();
        let mut runs = blocking(format!("the runs of experiment {id}"), move || {
            source.search_runs(&[id], ViewType::All, None)
        })
        .await?;
        runs.sort_by_key(|r| r.info.run_id);
        let (before_copied, before_skipped, before_points) = (
            report.runs_copied,
            report.runs_already_copied,
            report.points,
        );
        for run in runs {
            if crate::artifacts::directory_of_uri(&run.info.artifact_uri).is_err() {
                report
                    .artifacts_elsewhere
                    .push((run.info.run_id.to_string(), run.info.artifact_uri.clone()));
            }
            let print = match already_copied(from, to, &run).await? {
                Some(print) => {
                    report.runs_already_copied += 1;
                    print
                }
                None => {
                    let print = copy_run(from, &mut writes, &run).await?;
                    report.runs_copied += 1;
                    report.params += print.params;
                    report.tags += print.tags;
                    report.series += print.series;
                    report.points += print.points;
                    report.dataset_inputs += print.dataset_inputs;
                    print
                }
            };
            fingerprints.insert(run.info.run_id, print);
        }
        writes.settle().await?;
        progress(Progress::Experiment {
            id: id.to_string(),
            name: experiment.name.clone(),
            runs_copied: report.runs_copied - before_copied,
            runs_already_copied: report.runs_already_copied - before_skipped,
            points: report.points - before_points,
        });
    }
    Ok(fingerprints)
}

/// The run's fingerprint when the target already holds it identically.
async fn already_copied(
    from: &OpenedStore,
    to: &OpenedStore,
    run: &Run,
) -> Result<Option<Fingerprint>, CopyError> {
    let target = to.tracking.clone();
    let id = run.info.run_id;
    let held = tokio::task::spawn_blocking(move || target.run(id))
        .await
        .ok()
        .and_then(Result::ok);
    let Some(held) = held else {
        return Ok(None);
    };
    let theirs = fingerprint(&to.tracking, &held).await?;
    let ours = fingerprint(&from.tracking, run).await?;
    Ok((theirs == ours).then_some(ours))
}

/// Writes one run: its record, then each series a block at a time.
async fn copy_run(
    from: &OpenedStore,
    writes: &mut Writes,
    run: &Run,
) -> Result<Fingerprint, CopyError> {
    let id = run.info.run_id;
    writes
        .push(
            format!("run {id}"),
            WriteOp::Restore(Restore::Run(Box::new(run.clone()))),
        )
        .await?;
    let mut hasher = RunHasher::new(run);
    for key in run.metrics.keys() {
        hasher.series(key);
        let mut blocks = read_series(from.tracking.clone(), id, key.clone());
        while let Some(block) = blocks.recv().await {
            let points = block.map_err(|source| CopyError::Read {
                what: format!("metric '{key}' of run {id}"),
                source,
            })?;
            hasher.points(&points);
            writes
                .push(
                    format!("metric '{key}' of run {id}"),
                    WriteOp::Restore(Restore::Points {
                        run_id: id,
                        key: key.clone(),
                        points,
                    }),
                )
                .await?;
        }
    }
    Ok(hasher.finish())
}

/// Everything a grant can be on: the experiments and the registered models.
pub(super) fn grant_resources(
    experiments: &[ExperimentId],
    registered: &[Arc<RegisteredModel>],
) -> Vec<Resource> {
    experiments
        .iter()
        .map(|id| Resource::Experiment(id.to_string()))
        .chain(
            registered
                .iter()
                .map(|m| Resource::RegisteredModel(m.name.clone())),
        )
        .collect()
}

/// Copies logged models, registered models (with versions and aliases), users, tokens and
/// grants.
pub(super) async fn copy_models_and_access(
    from: &OpenedStore,
    to: &OpenedStore,
    report: &mut CopyReport,
) -> Result<(), CopyError> {
    let source = from.tracking.clone();
    let (experiments, models, registered) = blocking("the models", move || {
        let experiments: Vec<ExperimentId> = source.experiments()?.iter().map(|e| e.id).collect();
        let models = source.logged_models(&experiments)?;
        Ok((experiments, models, source.registered_models()?))
    })
    .await?;
    let mut writes = Writes::new(to.tracking.clone());
    for model in models {
        writes
            .push(
                format!("logged model {}", model.id),
                WriteOp::Model(ModelWrite::Restore(Box::new((*model).clone()))),
            )
            .await?;
        report.logged_models += 1;
    }
    for model in &registered {
        writes
            .push(
                format!("registered model '{}'", model.name),
                WriteOp::Registry(RegistryWrite::Restore(Box::new((**model).clone()))),
            )
            .await?;
        report.registered_models += 1;
        report.model_versions += model.versions.len() as u64;
    }
    writes.settle().await?;

    let access = from.access.clone();
    let resources = grant_resources(&experiments, &registered);
    let (users, tokens, grants) = blocking("users, tokens and grants", move || {
        let users = access.users()?;
        let mut tokens = Vec::new();
        for user in &users {
            tokens.extend(access.tokens_of(&user.name)?);
        }
        let mut grants = Vec::new();
        for resource in resources {
            for (user, level) in access.grants_on(&resource)? {
                grants.push((resource.clone(), user, level));
            }
        }
        Ok((users, tokens, grants))
    })
    .await?;
    report.users = users.len() as u64;
    report.tokens = tokens.len() as u64;
    report.grants = grants.len() as u64;
    let target = to.access.clone();
    tokio::task::spawn_blocking(move || -> crate::Result<()> {
        for user in &users {
            target.put_user(user)?;
        }
        for token in &tokens {
            target.put_token(token)?;
        }
        for (resource, user, level) in &grants {
            target.set_grant(resource, user, Some(*level))?;
        }
        Ok(())
    })
    .await
    .map_err(|e| CopyError::Write {
        what: "users".into(),
        source: crate::TrackingError::Unavailable(e.to_string()),
    })?
    .map_err(|source| CopyError::Write {
        what: "users, tokens and grants".into(),
        source,
    })
}
