//! Streaming history reads: one series in history order as a stream of bounded blocks, so
//! no read holds a whole series, whatever its length.
//!
//! A blocking task reads the backend ([`crate::backend::HistorySource`]) and hands blocks over a
//! channel of one; a block is at most [`MAX_BLOCK_POINTS`] points, so a read holds at most
//! three blocks (one being read, one queued, one being sent). Dropping the stream (a client
//! that went away) stops the task at its next block. Every block counts its bytes in
//! [`ReadStats`] while it exists, which `/metrics` reports, so the bound can be observed.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::mpsc;

use crate::backend::TrackingBackend;
use crate::domain::{Point, RunId};
use crate::error::{Result, TrackingError};
use crate::store::HISTORY_BLOCK_POINTS;

/// Largest block of a streaming history read, in points (1.5 MiB).
pub const MAX_BLOCK_POINTS: usize = HISTORY_BLOCK_POINTS;

/// What a streaming history read asks for.
#[derive(Debug, Clone)]
pub struct HistoryRead {
    /// The run (id as sent).
    pub run_id: String,
    /// The metric key.
    pub key: String,
    /// Only steps ≥ this.
    pub start_step: Option<i64>,
    /// Only steps ≤ this.
    pub end_step: Option<i64>,
    /// Points per block; 0 means [`MAX_BLOCK_POINTS`], larger values are capped to it.
    pub block_points: usize,
}

/// Memory held by history reads in flight (for `/metrics` and tests).
#[derive(Debug, Default)]
pub struct ReadStats {
    buffered_bytes: AtomicU64,
    buffered_bytes_max: AtomicU64,
    open_reads: AtomicU64,
}

impl ReadStats {
    /// Bytes of history blocks that exist right now.
    pub fn buffered_bytes(&self) -> u64 {
        self.buffered_bytes.load(Ordering::Relaxed)
    }

    /// The most [`ReadStats::buffered_bytes`] has been since the server started.
    pub fn buffered_bytes_max(&self) -> u64 {
        self.buffered_bytes_max.load(Ordering::Relaxed)
    }

    /// Streaming reads whose reading task is still running.
    pub fn open_reads(&self) -> u64 {
        self.open_reads.load(Ordering::Relaxed)
    }

    fn lease(self: &Arc<Self>, bytes: u64) -> Lease {
        let now = self.buffered_bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.buffered_bytes_max.fetch_max(now, Ordering::Relaxed);
        Lease {
            stats: self.clone(),
            bytes,
        }
    }
}

/// Bytes of one block, counted in [`ReadStats`] until dropped.
#[derive(Debug)]
struct Lease {
    stats: Arc<ReadStats>,
    bytes: u64,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.stats
            .buffered_bytes
            .fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

/// Counts a running read task in [`ReadStats::open_reads`].
struct OpenRead(Arc<ReadStats>);

impl OpenRead {
    fn new(stats: &Arc<ReadStats>) -> Self {
        stats.open_reads.fetch_add(1, Ordering::Relaxed);
        OpenRead(stats.clone())
    }
}

impl Drop for OpenRead {
    fn drop(&mut self) {
        self.0.open_reads.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Points of a series in history order; the next block follows in the stream.
#[derive(Debug)]
pub struct HistoryBlock {
    points: Vec<Point>,
    _lease: Lease,
}

impl HistoryBlock {
    /// The points, in history order.
    pub fn points(&self) -> &[Point] {
        &self.points
    }
}

/// The blocks of one streaming history read.
pub struct HistoryBlocks {
    points_hint: u64,
    blocks: mpsc::Receiver<Result<HistoryBlock>>,
}

impl HistoryBlocks {
    /// Points the read will deliver: exact for a whole series, an upper bound for a step
    /// range.
    pub fn points_hint(&self) -> u64 {
        self.points_hint
    }
}

impl Stream for HistoryBlocks {
    type Item = Result<HistoryBlock>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.blocks.poll_recv(cx)
    }
}

/// Starts a streaming read (see the module docs). Errors that can be known before the
/// first block (unknown run, bad range) are returned here.
pub(crate) async fn start(
    backend: &Arc<dyn TrackingBackend>,
    stats: &Arc<ReadStats>,
    read: HistoryRead,
) -> Result<HistoryBlocks> {
    let run = RunId::parse(&read.run_id)?;
    if read.key.is_empty() {
        return Err(TrackingError::invalid(
            "Missing value for required parameter 'metric_key'.",
        ));
    }
    if let (Some(a), Some(b)) = (read.start_step, read.end_step) {
        if a > b {
            return Err(TrackingError::invalid(format!(
                "start_step ({a}) must not exceed end_step ({b})"
            )));
        }
    }
    let block_points = match read.block_points {
        0 => MAX_BLOCK_POINTS,
        n => n.min(MAX_BLOCK_POINTS),
    };
    let backend = backend.clone();
    let opened = tokio::task::spawn_blocking(move || {
        backend.run_info(run)?;
        backend.history(run, &read.key, read.start_step, read.end_step)
    })
    .await
    .map_err(|e| TrackingError::storage("history task failed", e))??;
    let points_hint = opened.points_hint();
    let (tx, rx) = mpsc::channel(1);
    let stats = stats.clone();
    let open = OpenRead::new(&stats);
    tokio::task::spawn_blocking(move || {
        let _open = open;
        let mut reader = opened;
        loop {
            let item = match reader.next_block_max(block_points) {
                Ok(Some(points)) => {
                    let bytes = (points.capacity() * std::mem::size_of::<Point>()) as u64;
                    Ok(HistoryBlock {
                        points,
                        _lease: stats.lease(bytes),
                    })
                }
                Ok(None) => return,
                Err(e) => Err(e),
            };
            let failed = item.is_err();
            if tx.blocking_send(item).is_err() || failed {
                return; // the reader went away, or the error was the last word
            }
        }
    });
    Ok(HistoryBlocks {
        points_hint,
        blocks: rx,
    })
}
