//! Non-blocking metric delivery.
//!
//! `log` puts a point into a shared buffer (columns per run and key) and returns; it waits
//! only when the buffer is full (backpressure: memory is bounded by
//! [`IngestConfig::buffer_points`], counting points buffered *and* sent but not yet
//! acknowledged). A background task cuts the buffer into batches (by size, or every
//! `flush_interval`), sends them over one `LogStream` with increasing sequence numbers, keeps
//! each batch until the server acknowledges it, and after a broken stream reconnects and
//! re-sends every unacknowledged batch: the server stores a `(stream, seq)` once, so nothing
//! is lost and nothing is doubled. `flush` waits until everything logged before it is
//! acknowledged (durably, with a default server).

use std::collections::VecDeque;

use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::credentials::Transport;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::{Notify, Semaphore, mpsc, oneshot};
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use trackd_proto::codec::PreEncodedCodec;
use trackd_proto::v1 as pb;

use crate::error::{ClientError, Result};

/// The LogStream method of TrackingService (called on the channel with pre-encoded batches).
const LOG_STREAM_PATH: &str = "/trackd.v1.TrackingService/LogStream";

/// Longest wait for the server to answer a new LogStream.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A stream with nothing unacknowledged that sent nothing for this long starts over with a
/// new stream id at seq 1: the server keeps a stream's sequence record for at least an hour
/// after its last batch (its retention), and a stream it has no record of must start at 1.
const STREAM_ROTATE_IDLE: Duration = Duration::from_secs(30 * 60);

/// Tuning of metric delivery.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// use std::time::Duration;
/// use trackd_client::{Client, IngestConfig};
/// let config = IngestConfig::default()
///     .with_batch_points(8_192)
///     .with_flush_interval(Duration::from_millis(50))
///     .with_buffer_points(256 * 1024) // at most this many points in memory
///     .with_reconnect_timeout(Duration::from_secs(300));
/// assert_eq!(config.buffer_points, 256 * 1024);
/// let client = Client::connect_with(store.path().to_str().unwrap(), config).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IngestConfig {
    /// Points per batch that trigger an immediate send.
    pub batch_points: usize,
    /// Longest time a point waits in the buffer before it is sent.
    pub flush_interval: Duration,
    /// Most points buffered or awaiting acknowledgement; `log_metric` waits beyond this.
    pub buffer_points: usize,
    /// Most batches sent and not yet acknowledged.
    pub max_in_flight: usize,
    /// How long the stream may stay broken before buffered points are dropped and reported.
    pub reconnect_timeout: Duration,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            batch_points: 16_384,
            flush_interval: Duration::from_millis(100),
            buffer_points: 1 << 20,
            max_in_flight: 8,
            reconnect_timeout: Duration::from_secs(60),
        }
    }
}

impl IngestConfig {
    /// Sets [`IngestConfig::batch_points`] (at least 1).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// use std::time::Duration;
    /// use trackd_client::{Client, IngestConfig};
    /// let config = IngestConfig::default().with_batch_points(1_000);
    /// assert_eq!(config.batch_points, 1_000);
    /// assert_eq!(IngestConfig::default().with_batch_points(0).batch_points, 1);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_batch_points(mut self, n: usize) -> Self {
        self.batch_points = n.max(1);
        self
    }

    /// Sets [`IngestConfig::flush_interval`] (at least 1 ms).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// use std::time::Duration;
    /// use trackd_client::{Client, IngestConfig};
    /// let config = IngestConfig::default().with_flush_interval(Duration::from_millis(10));
    /// assert_eq!(config.flush_interval, Duration::from_millis(10));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_flush_interval(mut self, d: Duration) -> Self {
        self.flush_interval = d.max(Duration::from_millis(1));
        self
    }

    /// Sets [`IngestConfig::buffer_points`] (at least 1).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// use std::time::Duration;
    /// use trackd_client::{Client, IngestConfig};
    /// // A logger that may use little memory: logging waits once 10,000 points are unacknowledged.
    /// let config = IngestConfig::default().with_buffer_points(10_000);
    /// let client = Client::connect_with(store.path().to_str().unwrap(), config).await?;
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_buffer_points(mut self, n: usize) -> Self {
        self.buffer_points = n.max(1);
        self
    }

    /// Sets [`IngestConfig::reconnect_timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// use std::time::Duration;
    /// use trackd_client::{Client, IngestConfig};
    /// // Ride out a server restart of up to ten minutes without dropping points.
    /// let config = IngestConfig::default().with_reconnect_timeout(Duration::from_secs(600));
    /// assert_eq!(config.reconnect_timeout, Duration::from_secs(600));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_reconnect_timeout(mut self, d: Duration) -> Self {
        self.reconnect_timeout = d;
        self
    }
}

/// Counters of one client's delivery (for tests and monitoring).
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
/// # let run = client.start_run().start().await?;
/// use std::sync::atomic::Ordering;
/// for step in 0..10 {
///     run.log_metric("loss", 0.1, step).await?;
/// }
/// run.flush().await?;
/// let stats = client.ingest_stats();
/// assert_eq!(stats.points_acked.load(Ordering::Relaxed), 10);
/// assert!(stats.batches_sent.load(Ordering::Relaxed) >= 1);
/// # run.finish().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct IngestStats {
    /// Batches sent (re-sends included).
    pub batches_sent: AtomicU64,
    /// Batches re-sent after a reconnect.
    pub batches_resent: AtomicU64,
    /// Points acknowledged as stored (re-sent points count once; points of refused runs
    /// do not count).
    pub points_acked: AtomicU64,
    /// Streams opened.
    pub connections: AtomicU64,
    /// Acknowledgements that promised less than `DURABLE` (a server in buffered mode).
    pub acks_not_durable: AtomicU64,
    /// Logging calls that found the buffer full and waited for acknowledgements to free it
    /// (the bound on the client's memory at work).
    pub buffer_waits: AtomicU64,
    /// How long each batch waited from its first sending to its acknowledgement (a batch
    /// re-sent after a reconnect counts from its first sending).
    pub ack_latency: crate::AckLatency,
}

#[derive(Default)]
struct Columns {
    steps: Vec<i64>,
    timestamps: Vec<i64>,
    values: Vec<f64>,
}

/// One run's columns in a batch, by key. Training loops log the same keys in the same order
/// every step, so a lookup first tries the slot after the previous hit: a short string
/// compare instead of hashing, almost always.
#[derive(Default)]
struct RunColumns {
    keys: Vec<(String, Columns)>,
    // FxHash: the fallback lookup, on short keys.
    index: FxHashMap<String, usize>,
    next: usize,
}

impl RunColumns {
    fn columns(&mut self, key: &str) -> &mut Columns {
        let slot = match self.keys.get(self.next) {
            Some((k, _)) if k == key => self.next,
            _ => match self.index.get(key) {
                Some(&slot) => slot,
                None => {
                    self.keys.push((key.to_owned(), Columns::default()));
                    self.index.insert(key.to_owned(), self.keys.len() - 1);
                    self.keys.len() - 1
                }
            },
        };
        self.next = if slot + 1 == self.keys.len() {
            0
        } else {
            slot + 1
        };
        &mut self.keys[slot].1
    }

    /// Takes the points gathered (compact wire columns), leaving each key that had some with
    /// room for as many; keys without points are dropped.
    fn take_batch(&mut self) -> Vec<pb::MetricColumns> {
        let before = self.keys.len();
        self.keys.retain(|(_, c)| !c.values.is_empty());
        if self.keys.len() != before {
            self.index = self
                .keys
                .iter()
                .enumerate()
                .map(|(slot, (key, _))| (key.clone(), slot))
                .collect();
            self.next = 0;
        }
        self.keys
            .iter_mut()
            .map(|(key, c)| {
                let n = c.values.len();
                let mut columns = pb::MetricColumns {
                    key: key.clone(),
                    steps: std::mem::replace(&mut c.steps, Vec::with_capacity(n)),
                    timestamps: std::mem::replace(&mut c.timestamps, Vec::with_capacity(n)),
                    values: std::mem::replace(&mut c.values, Vec::with_capacity(n)),
                    ..Default::default()
                };
                columns.compact();
                columns
            })
            .collect()
    }
}

/// Points being gathered into the next batch.
#[derive(Default)]
struct Batch {
    runs: FxHashMap<String, RunColumns>,
    points: usize,
}

impl Batch {
    /// Appends points of one step of one run.
    fn push(&mut self, run_id: &str, metrics: &[(&str, f64)], step: i64, timestamp: i64) {
        let run = match self.runs.get_mut(run_id) {
            Some(run) => run,
            None => self.runs.entry(run_id.to_owned()).or_default(),
        };
        for (key, value) in metrics {
            let cols = run.columns(key);
            cols.steps.push(step);
            cols.timestamps.push(timestamp);
            cols.values.push(*value);
        }
        self.points += metrics.len();
    }

    /// Appends a run of points of one key.
    fn push_columns(
        &mut self,
        run_id: &str,
        key: &str,
        steps: &[i64],
        timestamps: &[i64],
        values: &[f64],
    ) {
        let run = match self.runs.get_mut(run_id) {
            Some(run) => run,
            None => self.runs.entry(run_id.to_owned()).or_default(),
        };
        let cols = run.columns(key);
        cols.steps.extend_from_slice(steps);
        cols.timestamps.extend_from_slice(timestamps);
        cols.values.extend_from_slice(values);
        self.points += values.len();
    }

    /// Closes the batch. The next one keeps each run's keys in the same slots, with room for
    /// as many points as this one had, so filling it does not grow the columns again. Keys
    /// and runs that logged nothing in this batch are forgotten.
    fn seal(&mut self) -> Sealed {
        let points = std::mem::take(&mut self.points);
        let mut runs = Vec::with_capacity(self.runs.len());
        self.runs.retain(|run_id, columns| {
            let metrics = columns.take_batch();
            if metrics.is_empty() {
                return false;
            }
            runs.push(pb::RunWrites {
                run_id: run_id.clone(),
                metrics,
                params: Vec::new(),
                tags: Vec::new(),
            });
            true
        });
        Sealed { runs, points }
    }
}

/// A batch closed for sending.
struct Sealed {
    runs: Vec<pb::RunWrites>,
    points: usize,
}

/// The buffer: full batches waiting to be sent, and the one being filled.
#[derive(Default)]
struct Pending {
    ready: VecDeque<Sealed>,
    current: Batch,
}

impl Pending {
    fn points(&self) -> usize {
        self.current.points + self.ready.iter().map(|b| b.points).sum::<usize>()
    }
}

/// Delivery errors not yet reported: one for the whole client (the stream failed, a batch
/// was malformed) and one per run whose part of a batch was refused, so a run's calls report
/// its own refusals and not another run's.
#[derive(Default)]
struct Errors {
    client: Option<ClientError>,
    runs: FxHashMap<String, ClientError>,
}

struct Shared {
    pending: Mutex<Pending>,
    budget: Semaphore,
    failed: AtomicBool,
    /// A batch was sealed since a logging call last yielded to the delivery task.
    pending_sealed: AtomicBool,
    errors: Mutex<Errors>,
    wake: Notify,
    batch_points: usize,
    stats: IngestStats,
}

impl Shared {
    /// Keeps the first unreported error of the client (`run: None`) or of one run.
    fn record_error(&self, run: Option<&str>, err: ClientError) {
        let mut errors = self.errors.lock().expect("ingest error lock");
        match run {
            None => {
                errors.client.get_or_insert(err);
            }
            Some(run) => {
                errors.runs.entry(run.to_owned()).or_insert(err);
            }
        }
        self.failed.store(true, Ordering::Release);
    }

    /// Takes an error to report to a caller: the client's, else the run's (`Some`), else
    /// any run's (`None`: a client-wide flush).
    fn take_error(&self, run: Option<&str>) -> Option<ClientError> {
        if !self.failed.load(Ordering::Acquire) {
            return None;
        }
        let mut errors = self.errors.lock().expect("ingest error lock");
        let taken = errors.client.take().or_else(|| match run {
            Some(run) => errors.runs.remove(run),
            None => {
                let any = errors.runs.keys().next().cloned()?;
                errors.runs.remove(&any)
            }
        });
        let left = errors.client.is_some() || !errors.runs.is_empty();
        self.failed.store(left, Ordering::Release);
        taken
    }
}

enum Command {
    Flush(oneshot::Sender<Result<()>>),
}

/// Handle to the delivery task of one client. Dropping the last handle lets the task send
/// what is buffered and exit.
pub(crate) struct Ingest {
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<Command>,
}

impl Ingest {
    pub fn start(channel: Transport, config: IngestConfig) -> Ingest {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            budget: Semaphore::new(config.buffer_points.min(Semaphore::MAX_PERMITS)),
            failed: AtomicBool::new(false),
            pending_sealed: AtomicBool::new(false),
            errors: Mutex::new(Errors::default()),
            wake: Notify::new(),
            batch_points: config.batch_points,
            stats: IngestStats::default(),
        });
        let (commands, rx) = mpsc::unbounded_channel();
        tokio::spawn(Sender::new(shared.clone(), channel, config).run(rx));
        Ingest { shared, commands }
    }

    pub fn stats(&self) -> &IngestStats {
        &self.shared.stats
    }

    /// Buffers one point; waits only while the buffer is full. Reports (once) an error of an
    /// earlier batch.
    pub async fn log(
        &self,
        run_id: &str,
        key: &str,
        value: f64,
        step: i64,
        timestamp: i64,
    ) -> Result<()> {
        self.log_many(run_id, &[(key, value)], step, timestamp)
            .await
    }

    /// Buffers several points of one step under one lock; waits only while the buffer is
    /// full. Reports (once) an error of an earlier batch.
    pub async fn log_many(
        &self,
        run_id: &str,
        metrics: &[(&str, f64)],
        step: i64,
        timestamp: i64,
    ) -> Result<()> {
        let n = Self::points_of(metrics)?;
        if !self.try_log_many(run_id, metrics, step, timestamp)? {
            self.shared
                .stats
                .buffer_waits
                .fetch_add(1, Ordering::Relaxed);
            self.acquire(n).await?;
            self.push(run_id, metrics, step, timestamp);
        }
        // Let the delivery task run even if the caller's loop never awaits anything else
        // (a single-threaded runtime would otherwise send nothing until flush).
        if self.shared.pending_sealed.swap(false, Ordering::AcqRel) {
            tokio::task::yield_now().await;
        }
        Ok(())
    }

    /// Buffers several points of one step if the buffer has room for them, without waiting
    /// and from any thread (no runtime needed). `Ok(false)`: the buffer is full and nothing
    /// was buffered. Reports (once) an error of an earlier batch.
    pub fn try_log_many(
        &self,
        run_id: &str,
        metrics: &[(&str, f64)],
        step: i64,
        timestamp: i64,
    ) -> Result<bool> {
        if let Some(err) = self.shared.take_error(Some(run_id)) {
            return Err(err);
        }
        let n = Self::points_of(metrics)?;
        match self.shared.budget.try_acquire_many(n) {
            Ok(permit) => permit.forget(),
            Err(_) => return Ok(false),
        }
        self.push(run_id, metrics, step, timestamp);
        Ok(true)
    }

    /// Buffers a whole series of one key (columns of equal length), waiting for room in
    /// pieces of at most a batch, so a series longer than the buffer streams through it.
    /// Reports (once) an error of an earlier batch.
    pub async fn log_series(
        &self,
        run_id: &str,
        key: &str,
        steps: &[i64],
        timestamps: &[i64],
        values: &[f64],
    ) -> Result<()> {
        if steps.len() != values.len() || timestamps.len() != values.len() {
            return Err(ClientError::Usage(format!(
                "a series needs columns of one length: {} steps, {} timestamps, {} values",
                steps.len(),
                timestamps.len(),
                values.len()
            )));
        }
        if let Some(err) = self.shared.take_error(Some(run_id)) {
            return Err(err);
        }
        let piece = self.shared.batch_points.clamp(1, 1 << 20);
        let mut start = 0;
        while start < values.len() {
            let end = (start + piece).min(values.len());
            let n = u32::try_from(end - start).expect("a piece is at most 2^20 points");
            match self.shared.budget.try_acquire_many(n) {
                Ok(permit) => permit.forget(),
                Err(_) => {
                    self.shared
                        .stats
                        .buffer_waits
                        .fetch_add(1, Ordering::Relaxed);
                    self.acquire(n).await?;
                }
            }
            {
                let mut pending = self.shared.pending.lock().expect("ingest buffer lock");
                pending.current.push_columns(
                    run_id,
                    key,
                    &steps[start..end],
                    &timestamps[start..end],
                    &values[start..end],
                );
                self.seal_if_full(&mut pending);
            }
            if self.shared.pending_sealed.swap(false, Ordering::AcqRel) {
                tokio::task::yield_now().await;
            }
            start = end;
        }
        Ok(())
    }

    fn points_of(metrics: &[(&str, f64)]) -> Result<u32> {
        u32::try_from(metrics.len())
            .map_err(|_| ClientError::Usage("too many metrics in one call".into()))
    }

    /// Waits for room for `n` points and takes it.
    async fn acquire(&self, n: u32) -> Result<()> {
        self.shared
            .budget
            .acquire_many(n)
            .await
            .map_err(|_| ClientError::Delivery("the delivery task stopped".into()))?
            .forget();
        Ok(())
    }

    /// Appends points the caller holds room for.
    fn push(&self, run_id: &str, metrics: &[(&str, f64)], step: i64, timestamp: i64) {
        let mut pending = self.shared.pending.lock().expect("ingest buffer lock");
        pending.current.push(run_id, metrics, step, timestamp);
        self.seal_if_full(&mut pending);
    }

    /// Closes the current batch once it holds `batch_points` and wakes the delivery task.
    fn seal_if_full(&self, pending: &mut Pending) {
        if pending.current.points >= self.shared.batch_points {
            let batch = pending.current.seal();
            pending.ready.push_back(batch);
            self.shared.pending_sealed.store(true, Ordering::Release);
            self.shared.wake.notify_one();
        }
    }

    /// Waits until every point logged before this call is acknowledged; returns a delivery
    /// error not yet reported: the client's, else one of `run` (or, with `None`, of any
    /// run).
    pub async fn flush(&self, run: Option<&str>) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Flush(tx))
            .map_err(|_| ClientError::Delivery("the delivery task stopped".into()))?;
        rx.await
            .map_err(|_| ClientError::Delivery("the delivery task stopped".into()))??;
        match self.shared.take_error(run) {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}

struct Sent {
    seq: u64,
    /// The batch encoded once (`LogStreamRequest::encode_fast`); a re-send clones a
    /// reference.
    request: Bytes,
    points: usize,
    /// When it was first sent.
    sent_at: Instant,
}

struct Conn {
    requests: mpsc::Sender<Bytes>,
    acks: BoxStream<'static, Result<pb::LogStreamResponse>>,
}

struct Sender {
    shared: Arc<Shared>,
    /// LogStream is called on the channel directly: its batches go out pre-encoded.
    channel: Transport,
    config: IngestConfig,
    stream_id: String,
    next_seq: u64,
    acked_seq: u64,
    unacked: VecDeque<Sent>,
    waiters: Vec<(u64, oneshot::Sender<Result<()>>)>,
    conn: Option<Conn>,
    broken_since: Option<Instant>,
    retry_at: Option<Instant>,
    /// When the last batch was sent.
    last_sent: Instant,
}

impl Sender {
    fn new(shared: Arc<Shared>, channel: Transport, config: IngestConfig) -> Self {
        Sender {
            shared,
            channel,
            config,
            stream_id: uuid::Uuid::new_v4().simple().to_string(),
            next_seq: 1,
            acked_seq: 0,
            unacked: VecDeque::new(),
            waiters: Vec::new(),
            conn: None,
            broken_since: None,
            retry_at: None,
            last_sent: Instant::now(),
        }
    }

    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut ticker = tokio::time::interval(self.config.flush_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut open = true;
        loop {
            if !open && self.unacked.is_empty() && self.buffered() == 0 {
                break;
            }
            if self.conn.is_none()
                && !self.unacked.is_empty()
                && self.retry_at.is_none_or(|t| t <= Instant::now())
            {
                self.connect().await;
            }
            let retry_at = self.retry_at;
            let shared = self.shared.clone();
            tokio::select! {
                ack = next_ack(&mut self.conn) => match ack {
                    Some(Ok(ack)) => {
                        self.on_ack(ack);
                        self.cut(false).await;
                    }
                    Some(Err(err)) => self.on_broken(err),
                    None => self.on_broken(ClientError::Delivery("the server closed the stream".into())),
                },
                () = shared.wake.notified() => self.cut(false).await,
                _ = ticker.tick() => {
                    self.cut(true).await;
                    self.give_up_if_broken_too_long();
                }
                command = commands.recv(), if open => match command {
                    Some(Command::Flush(reply)) => {
                        self.cut_all().await;
                        let target = self.next_seq - 1;
                        if target <= self.acked_seq {
                            let _ = reply.send(Ok(()));
                        } else {
                            self.waiters.push((target, reply));
                        }
                    }
                    None => {
                        open = false;
                        self.cut_all().await;
                    }
                },
                () = sleep_until_opt(retry_at) => { self.retry_at = None; }
            }
        }
    }

    fn buffered(&self) -> usize {
        self.shared
            .pending
            .lock()
            .expect("ingest buffer lock")
            .points()
    }

    /// Sends sealed batches while the in-flight window has room; with `any`, also seals and
    /// sends a partly filled batch (the flush interval elapsed).
    async fn cut(&mut self, any: bool) {
        while self.unacked.len() < self.config.max_in_flight {
            let next = {
                let mut pending = self.shared.pending.lock().expect("ingest buffer lock");
                match pending.ready.pop_front() {
                    Some(batch) => Some(batch),
                    None if any && pending.current.points > 0 => Some(pending.current.seal()),
                    None => None,
                }
            };
            match next {
                Some(batch) => self.send_new(batch).await,
                None => return,
            }
        }
    }

    /// Sends everything buffered, ignoring the window (flush and close).
    async fn cut_all(&mut self) {
        loop {
            let next = {
                let mut pending = self.shared.pending.lock().expect("ingest buffer lock");
                match pending.ready.pop_front() {
                    Some(batch) => Some(batch),
                    None if pending.current.points > 0 => Some(pending.current.seal()),
                    None => None,
                }
            };
            match next {
                Some(batch) => self.send_new(batch).await,
                None => return,
            }
        }
    }

    async fn send_new(&mut self, batch: Sealed) {
        let Sealed { runs, points } = batch;
        if self.unacked.is_empty() && self.last_sent.elapsed() >= STREAM_ROTATE_IDLE {
            self.stream_id = uuid::Uuid::new_v4().simple().to_string();
            self.next_seq = 1;
            self.acked_seq = 0;
        }
        self.last_sent = Instant::now();
        let seq = self.next_seq;
        self.next_seq += 1;
        let request = pb::LogStreamRequest {
            stream_id: self.stream_id.clone(),
            seq,
            runs,
        };
        let request = request.encode_fast();
        if let Some(conn) = &self.conn {
            self.shared
                .stats
                .batches_sent
                .fetch_add(1, Ordering::Relaxed);
            if conn.requests.send(request.clone()).await.is_err() {
                self.on_broken(ClientError::Delivery("stream closed while sending".into()));
            }
        }
        self.unacked.push_back(Sent {
            seq,
            request,
            points,
            sent_at: self.last_sent,
        });
    }

    async fn connect(&mut self) {
        let (tx, rx) = mpsc::channel(self.config.max_in_flight.max(1) + 1);
        let acks: Result<BoxStream<'static, Result<pb::LogStreamResponse>>> = {
            let mut grpc = tonic::client::Grpc::new(self.channel.clone());
            let outgoing = ReceiverStream::new(rx);
            let open = async move {
                grpc.ready().await.map_err(|e| {
                    tonic::Status::unavailable(format!("connection not ready: {e}"))
                })?;
                grpc.streaming(
                    tonic::Request::new(outgoing),
                    tonic::codegen::http::uri::PathAndQuery::from_static(LOG_STREAM_PATH),
                    PreEncodedCodec::<pb::LogStreamResponse>::default(),
                )
                .await
            };
            match tokio::time::timeout(CONNECT_TIMEOUT, open).await {
                Ok(Ok(response)) => Ok(response
                    .into_inner()
                    .map(|r| r.map_err(ClientError::from))
                    .boxed()),
                Ok(Err(status)) => Err(status.into()),
                Err(_) => Err(ClientError::Delivery(format!(
                    "no answer to LogStream within {CONNECT_TIMEOUT:?}"
                ))),
            }
        };
        match acks {
            Ok(acks) => {
                self.shared
                    .stats
                    .connections
                    .fetch_add(1, Ordering::Relaxed);
                let resend = self.shared.stats.connections.load(Ordering::Relaxed) > 1;
                for sent in &self.unacked {
                    self.shared
                        .stats
                        .batches_sent
                        .fetch_add(1, Ordering::Relaxed);
                    if resend {
                        self.shared
                            .stats
                            .batches_resent
                            .fetch_add(1, Ordering::Relaxed);
                    }
                    if tx.send(sent.request.clone()).await.is_err() {
                        break;
                    }
                }
                self.conn = Some(Conn { requests: tx, acks });
            }
            Err(err) => self.on_broken(err),
        }
    }

    fn on_ack(&mut self, ack: pb::LogStreamResponse) {
        while let Some(front) = self.unacked.front() {
            if front.seq > ack.seq {
                break;
            }
            let sent = self.unacked.pop_front().expect("front exists");
            self.shared.budget.add_permits(sent.points);
            self.shared.stats.ack_latency.record(sent.sent_at.elapsed());
            if sent.seq == ack.seq {
                // A refused run does not stop the others: its error is kept for that run's
                // calls, their points are stored.
                let api = |e: &pb::StreamError| ClientError::Api {
                    code: tonic::Code::from_i32(e.code),
                    error_code: e.error_code.clone(),
                    message: e.message.clone(),
                };
                if let Some(e) = &ack.error {
                    self.shared.record_error(None, api(e));
                } else {
                    // With refused runs only the server's count is known to be stored.
                    let stored = if ack.run_errors.is_empty() {
                        sent.points as u64
                    } else {
                        ack.points_stored
                    };
                    self.shared
                        .stats
                        .points_acked
                        .fetch_add(stored, Ordering::Relaxed);
                    if ack.durability != pb::Durability::Durable as i32 {
                        self.shared
                            .stats
                            .acks_not_durable
                            .fetch_add(1, Ordering::Relaxed);
                    }
                }
                for refused in &ack.run_errors {
                    if let Some(e) = &refused.error {
                        self.shared.record_error(Some(&refused.run_id), api(e));
                    }
                }
            }
        }
        self.acked_seq = self.acked_seq.max(ack.seq);
        self.broken_since = None;
        let acked = self.acked_seq;
        let (done, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiters)
            .into_iter()
            .partition(|(t, _)| *t <= acked);
        self.waiters = keep;
        for (_, reply) in done {
            let _ = reply.send(Ok(()));
        }
    }

    fn on_broken(&mut self, err: ClientError) {
        tracing::debug!(error = %err, unacked = self.unacked.len(), "log stream broken; will reconnect");
        self.conn = None;
        self.broken_since.get_or_insert_with(Instant::now);
        // Back off a little before reconnecting so a down server is not hammered.
        self.retry_at = Some(Instant::now() + Duration::from_millis(100));
        if matches!(&err, ClientError::Api { code, .. } if !retryable(*code)) {
            self.fail_everything(err);
        }
    }

    fn give_up_if_broken_too_long(&mut self) {
        let Some(since) = self.broken_since else {
            return;
        };
        if since.elapsed() < self.config.reconnect_timeout || self.conn.is_some() {
            return;
        }
        let points: usize = self.unacked.iter().map(|s| s.points).sum();
        self.fail_everything(ClientError::Delivery(format!(
            "the stream stayed broken for {:?}; {points} points were not delivered",
            self.config.reconnect_timeout
        )));
    }

    fn fail_everything(&mut self, err: ClientError) {
        let points: usize = self.unacked.drain(..).map(|s| s.points).sum();
        self.shared.budget.add_permits(points);
        self.acked_seq = self.next_seq - 1;
        self.broken_since = None;
        for (_, reply) in self.waiters.drain(..) {
            let _ = reply.send(Err(err.clone()));
        }
        self.shared.record_error(None, err);
    }
}

fn retryable(code: tonic::Code) -> bool {
    use tonic::Code::*;
    matches!(
        code,
        Unavailable
            | DeadlineExceeded
            | Aborted
            | ResourceExhausted
            | Unknown
            | Internal
            | Cancelled
    )
}

async fn next_ack(conn: &mut Option<Conn>) -> Option<Result<pb::LogStreamResponse>> {
    match conn {
        Some(c) => c.acks.next().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::Batch;

    /// Keys in the usual order, in another order, and new keys mid-way all land in their
    /// own columns.
    #[test]
    fn batch_columns_follow_keys_in_any_order() {
        let mut batch = Batch::default();
        batch.push("r", &[("a", 1.0), ("b", 2.0)], 0, 10);
        batch.push("r", &[("a", 3.0), ("b", 4.0)], 1, 11);
        batch.push("r", &[("b", 6.0), ("c", 7.0), ("a", 5.0)], 2, 12);
        batch.push("s", &[("a", 8.0)], 0, 10);
        batch.push("r", &[("a", 9.0)], 3, 13);
        assert_eq!(batch.points, 9);
        let run = &batch.runs["r"];
        let column = |key: &str| {
            let (_, c) = run.keys.iter().find(|(k, _)| k == key).unwrap();
            (c.steps.clone(), c.values.clone())
        };
        assert_eq!(column("a"), (vec![0, 1, 2, 3], vec![1.0, 3.0, 5.0, 9.0]));
        assert_eq!(column("b"), (vec![0, 1, 2], vec![2.0, 4.0, 6.0]));
        assert_eq!(column("c"), (vec![2], vec![7.0]));
        assert_eq!(batch.runs["s"].keys.len(), 1);
    }

    /// Sealing hands over exactly the points gathered; the next batch keeps the slots (with
    /// room) of keys and runs that logged, and forgets the ones that did not.
    #[test]
    fn seal_keeps_active_slots_and_drops_idle_ones() {
        let mut batch = Batch::default();
        batch.push("r", &[("a", 1.0), ("b", 2.0)], 0, 10);
        batch.push("s", &[("a", 3.0)], 0, 10);
        let first = batch.seal();
        assert_eq!(first.points, 3);
        let mut sent: Vec<(String, Vec<String>)> = first
            .runs
            .iter()
            .map(|r| {
                (
                    r.run_id.clone(),
                    r.metrics.iter().map(|m| m.key.clone()).collect(),
                )
            })
            .collect();
        sent.sort();
        assert_eq!(
            sent,
            [
                ("r".to_string(), vec!["a".to_string(), "b".to_string()]),
                ("s".to_string(), vec!["a".to_string()])
            ]
        );
        assert_eq!(batch.points, 0);
        assert!(
            batch.runs["r"]
                .keys
                .iter()
                .all(|(_, c)| c.values.is_empty() && c.values.capacity() >= 1)
        );

        // Next batch: only r.b logs. r.a and run s are dropped when it is sealed.
        batch.push("r", &[("b", 4.0)], 1, 11);
        let second = batch.seal();
        assert_eq!(second.runs.len(), 1);
        assert_eq!(second.runs[0].metrics.len(), 1);
        assert_eq!(second.runs[0].metrics[0].key, "b");
        assert_eq!(second.runs[0].metrics[0].values_f32, vec![4.0]);
        assert_eq!(second.runs[0].metrics[0].step_deltas, vec![1]);
        assert!(!batch.runs.contains_key("s"));
        assert_eq!(batch.runs["r"].keys.len(), 1);
        // The rebuilt index still finds the surviving key, and a returning key gets a slot.
        batch.push("r", &[("b", 5.0), ("a", 6.0)], 2, 12);
        let third = batch.seal();
        let keys: Vec<&str> = third.runs[0]
            .metrics
            .iter()
            .map(|m| m.key.as_str())
            .collect();
        assert_eq!(keys, ["b", "a"]);
        // An empty batch seals to nothing and forgets everything.
        assert!(batch.seal().runs.is_empty());
        assert!(batch.runs.is_empty());
    }
}
