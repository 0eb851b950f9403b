//! Acknowledgement latency: how long each LogStream batch waited between being sent and being
//! acknowledged (durable, unless the server says otherwise), kept in an HDR histogram
//! (1 µs to 1 hour, 3 significant digits), so quantiles are exact to 0.1 %.

use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;

/// The longest latency recorded as itself; longer ones count as this.
const HIGHEST_US: u64 = 3_600_000_000;

/// Per-batch acknowledgement latencies of one client (see [`crate::IngestStats`]).
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
/// let run = client.start_run().start().await?;
/// run.log_metric("loss", 0.5, 0).await?;
/// run.flush().await?;
/// let latency = &client.ingest_stats().ack_latency;
/// assert_eq!(latency.count(), 1);
/// assert!(latency.quantile(0.99).unwrap() >= latency.quantile(0.5).unwrap());
/// # run.finish().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct AckLatency(Mutex<Histogram<u64>>);

impl Default for AckLatency {
    fn default() -> Self {
        AckLatency(Mutex::new(
            Histogram::new_with_bounds(1, HIGHEST_US, 3).expect("valid histogram bounds"),
        ))
    }
}

impl AckLatency {
    /// Records one batch's latency.
    pub(crate) fn record(&self, latency: Duration) {
        let us = (latency.as_micros() as u64).clamp(1, HIGHEST_US);
        self.lock().saturating_record(us);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Histogram<u64>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Batches recorded.
    pub fn count(&self) -> u64 {
        self.lock().len()
    }

    /// The latency `q` (0.0–1.0) of the batches are at or under; `None` before any batch.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let h = self.lock();
        (!h.is_empty()).then(|| Duration::from_micros(h.value_at_quantile(q)))
    }

    /// The longest latency recorded.
    pub fn max(&self) -> Option<Duration> {
        let h = self.lock();
        (!h.is_empty()).then(|| Duration::from_micros(h.max()))
    }

    /// Adds every latency `other` recorded (to report several clients as one).
    pub fn merge(&self, other: &AckLatency) {
        if std::ptr::eq(self, other) {
            return;
        }
        let theirs = other.lock().clone();
        // Same bounds on both sides: adding cannot fail.
        let _ = self.lock().add(&theirs);
    }

    /// Forgets what was recorded (to measure one phase of a run).
    pub fn reset(&self) {
        self.lock().reset();
    }
}
