//! Group commit: one thread owns every write.
//!
//! Callers put a [`WriteOp`] and a reply channel on a bounded queue. The committer takes the
//! first waiting request, drains whatever else is queued (up to a group limit), applies each
//! op in order, calls sled's blocking `flush()` once for the whole group (durable mode), and
//! then answers every caller. Under load, groups grow by themselves: while one flush runs,
//! the next group queues up. `flush_async` is never used (it can deadlock in sled 0.34).
//!
//! The queue is bounded, so a writer faster than the disk waits instead of growing memory.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::streams::Pruner;
use super::writer;
use super::{StoreConfig, StoreError, Trees};
use crate::domain::Durability;
use crate::domain::{Outcome, WriteOp};
use crate::error::{Result, TrackingError};

/// sled's background flush interval in buffered mode, in milliseconds.
pub const BUFFERED_FLUSH_MS: u64 = 200;
/// Most ops applied in one group.
const MAX_GROUP_OPS: usize = 4096;
/// Most metric points applied in one group (bounds flush latency).
const MAX_GROUP_POINTS: usize = 1 << 20;

/// Counters exported on `/metrics`.
#[derive(Debug, Default)]
pub struct CommitStats {
    /// Groups committed.
    pub groups: AtomicU64,
    /// Ops applied (successful or refused).
    pub ops: AtomicU64,
    /// Metric points stored.
    pub points: AtomicU64,
    /// Flushes called.
    pub flushes: AtomicU64,
    /// Total time spent in `flush()`, microseconds.
    pub flush_micros: AtomicU64,
    /// Ops currently queued.
    pub queue_depth: AtomicU64,
    /// LogStream sequence records removed after their retention.
    pub stream_records_pruned: AtomicU64,
}

struct Request {
    op: WriteOp,
    reply: oneshot::Sender<Result<Outcome>>,
}

/// What the committer is asked to do: a write, or a consistent copy of the database taken
/// between two groups (every write queued before it is applied and acknowledged first; later
/// ones wait until the copy is done).
enum Job {
    Write(Request),
    Backup {
        dest: std::path::PathBuf,
        reply: oneshot::Sender<Result<crate::backend::Copied>>,
    },
}

pub(crate) struct Handle {
    tx: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    durability: Durability,
    stats: std::sync::Arc<CommitStats>,
}

pub(crate) fn spawn(
    db: sled::Db,
    trees: Trees,
    catalog: std::sync::Arc<super::Catalog>,
    config: &StoreConfig,
) -> Result<Handle, StoreError> {
    let (tx, rx) = mpsc::channel(config.queue_capacity.max(1));
    let stats = std::sync::Arc::new(CommitStats::default());
    let durability = config.durability;
    let thread_stats = stats.clone();
    let pruner = Pruner::new(config.stream_retention);
    let rules = Rules {
        durability,
        pruner,
        space: super::space::SpaceGuard::new(config.dir.clone(), config.min_free_bytes),
    };
    let thread = std::thread::Builder::new()
        .name("trackd-committer".into())
        .spawn(move || run(db, trees, &catalog, rx, rules, &thread_stats))
        .map_err(|e| StoreError::Sled(format!("cannot start the committer thread: {e}")))?;
    Ok(Handle {
        tx: Mutex::new(Some(tx)),
        thread: Mutex::new(Some(thread)),
        durability,
        stats,
    })
}

impl Handle {
    pub fn durability(&self) -> Durability {
        self.durability
    }

    pub fn stats(&self) -> &CommitStats {
        &self.stats
    }

    fn sender(&self) -> Result<mpsc::Sender<Job>> {
        self.tx
            .lock()
            .expect("committer sender lock")
            .clone()
            .ok_or_else(|| StoreError::Closed.into())
    }

    /// Queues `op` (waiting for queue space) and returns the receiver of its answer.
    pub async fn enqueue(&self, op: WriteOp) -> Result<oneshot::Receiver<Result<Outcome>>> {
        let (reply, answer) = oneshot::channel();
        let tx = self.sender()?;
        self.stats.queue_depth.fetch_add(1, Ordering::Relaxed);
        if tx.send(Job::Write(Request { op, reply })).await.is_err() {
            self.stats.queue_depth.fetch_sub(1, Ordering::Relaxed);
            return Err(StoreError::Closed.into());
        }
        Ok(answer)
    }

    /// Copies the database into a new sled database at `dest` (and the chunk log beside it),
    /// at a cut between two write groups: it holds exactly the writes acknowledged before
    /// the copy began.
    pub async fn backup(&self, dest: std::path::PathBuf) -> Result<crate::backend::Copied> {
        let (reply, answer) = oneshot::channel();
        let tx = self.sender()?;
        if tx.send(Job::Backup { dest, reply }).await.is_err() {
            return Err(StoreError::Closed.into());
        }
        answer
            .await
            .map_err(|_| TrackingError::from(StoreError::Closed))?
    }

    /// Closes the queue and waits for the committer to drain it and exit.
    pub async fn close(&self) {
        drop(self.tx.lock().expect("committer sender lock").take());
        let thread = self.thread.lock().expect("committer thread lock").take();
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

/// Applies one op and, if it changed anything, refreshes the run catalog.
fn apply(trees: &Trees, catalog: &super::Catalog, op: &WriteOp) -> Result<Outcome> {
    let outcome = writer::apply(trees, op);
    if outcome.is_ok() {
        catalog.refresh_after(trees, op);
    }
    outcome
}

fn prune_stream_records(pruner: &mut Pruner, trees: &Trees, stats: &CommitStats) {
    match pruner.step(&trees.streams, crate::domain::now_ms(), Instant::now()) {
        Ok(step) => {
            stats
                .stream_records_pruned
                .fetch_add(step.removed, Ordering::Relaxed);
            if step.removed + step.stamped > 0 {
                tracing::debug!(
                    removed = step.removed,
                    stamped = step.stamped,
                    "stream records pruned"
                );
            }
        }
        Err(e) => tracing::warn!(error = %e, "pruning stream records failed; will retry"),
    }
}

/// How the committer works: what an acknowledgement means, the stream-record pruner, and
/// the free-space guard.
struct Rules {
    durability: Durability,
    pruner: Pruner,
    space: super::space::SpaceGuard,
}

fn run(
    db: sled::Db,
    trees: Trees,
    catalog: &super::Catalog,
    mut rx: mpsc::Receiver<Job>,
    rules: Rules,
    stats: &CommitStats,
) {
    let Rules {
        durability,
        mut pruner,
        space,
    } = rules;
    let mut group: Vec<(Request, Result<Outcome>)> = Vec::with_capacity(64);
    let mut pending_backup = None;
    let mut last_sync = Instant::now();
    while let Some(job) = rx.blocking_recv() {
        let first = match job {
            Job::Write(request) => request,
            Job::Backup { dest, reply } => {
                let _ = reply.send(super::backup::copy_store(&db, &trees, &dest));
                continue;
            }
        };
        if !space.room() {
            // Nothing reaches sled on a (nearly) full disk; see `space`.
            stats.queue_depth.fetch_sub(1, Ordering::Relaxed);
            stats.ops.fetch_add(1, Ordering::Relaxed);
            let _ = first
                .reply
                .send(Err(TrackingError::from(StoreError::DiskFull)));
            continue;
        }
        let mut points = first.op.point_count();
        let outcome = apply(&trees, catalog, &first.op);
        group.push((first, outcome));
        while group.len() < MAX_GROUP_OPS && points < MAX_GROUP_POINTS {
            let Ok(next) = rx.try_recv() else { break };
            let next = match next {
                Job::Write(request) => request,
                // The group ends here; the copy follows its flush and answers.
                backup @ Job::Backup { .. } => {
                    pending_backup = Some(backup);
                    break;
                }
            };
            points += next.op.point_count();
            let outcome = apply(&trees, catalog, &next.op);
            group.push((next, outcome));
        }
        // Housekeeping rides on the group's flush; a slice at most, so ingest never waits
        // long for it.
        if pruner.due(Instant::now()) {
            prune_stream_records(&mut pruner, &trees, stats);
        }
        let flushed = match durability {
            Durability::Durable => {
                let started = Instant::now();
                // The chunk log first: sled's references must never be durable before the
                // records they name.
                let result = super::chunk_refs::sync_and_mark(&trees)
                    .and_then(|()| db.flush().map(|_| ()).map_err(StoreError::from));
                stats.flushes.fetch_add(1, Ordering::Relaxed);
                stats
                    .flush_micros
                    .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                result
            }
            // sled flushes on its own schedule; the chunk log is synced and marked on the
            // same one (what a crash cuts past the mark was never promised durable).
            Durability::Buffered
                if last_sync.elapsed() >= Duration::from_millis(BUFFERED_FLUSH_MS) =>
            {
                last_sync = Instant::now();
                super::chunk_refs::sync_and_mark(&trees)
            }
            Durability::Buffered => Ok(()),
        };
        stats.groups.fetch_add(1, Ordering::Relaxed);
        stats.ops.fetch_add(group.len() as u64, Ordering::Relaxed);
        stats
            .queue_depth
            .fetch_sub(group.len() as u64, Ordering::Relaxed);
        for (req, outcome) in group.drain(..) {
            let answer = match (&flushed, outcome) {
                (Err(e), _) => {
                    tracing::error!(error = %e, "flush failed; the group is not acknowledged");
                    Err(TrackingError::from(e.clone()))
                }
                (Ok(()), outcome) => {
                    if let Ok(
                        Outcome::Stream { points_stored, .. } | Outcome::Logged { points_stored },
                    ) = &outcome
                    {
                        stats.points.fetch_add(*points_stored, Ordering::Relaxed);
                    }
                    outcome
                }
            };
            // A caller that gave up (dropped its future) does not stop the others.
            let _ = req.reply.send(answer);
        }
        if let Some(Job::Backup { dest, reply }) = pending_backup.take() {
            let _ = reply.send(super::backup::copy_store(&db, &trees, &dest));
        }
    }
    let last = super::chunk_refs::sync_and_mark(&trees)
        .and_then(|()| db.flush().map(|_| ()).map_err(StoreError::from));
    if let Err(e) = last {
        tracing::error!(error = %e, "final flush failed");
    }
}
