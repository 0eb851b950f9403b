//! The server's memory budget (`--memory-budget-mb`): one figure from which the buffers that
//! grow with load are sized, so that load raises latency (backpressure) rather than memory.
//!
//! What grows with the number of saturating writers, and how the budget bounds it:
//!
//! - **Points read but not yet committed** (LogStream batches decoded and queued for the
//!   single writer, ~64 bytes per point in flight): the ingest budget, an eighth of the
//!   memory budget. A stream takes room for its next batch before decoding it into points;
//!   while the budget is full it is not read further.
//! - **HTTP/2 receive windows**: what a client may send before the server reads it. A stream
//!   that waits for the ingest budget keeps at most its window of undecoded bytes; the window
//!   is the budget ÷ 512 (128 KiB at the default), the connection window four times that.
//!
//! What stays outside it: sled's page cache (`--cache-mb`), one decoded message per stream
//! that waits for the ingest budget (at most `--max-message-bytes`, typically ~300 KB for a
//! 16,384-point batch), and per-request response memory, which every large answer already
//! bounds by streaming (history, artifact downloads, searches).

/// Default of `--memory-budget-mb`.
pub const DEFAULT_MEMORY_BUDGET_MB: u64 = 64;

/// Bytes one metric point costs while in flight (decoded points, the write op, the
/// committer's copy), rounded up.
const BYTES_PER_POINT_IN_FLIGHT: u64 = 64;

/// The sizes derived from one memory budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBudget {
    /// The budget, in bytes.
    pub bytes: u64,
    /// Metric points LogStream batches may hold between being read and committed.
    pub ingest_points: usize,
    /// HTTP/2 receive window of one stream, in bytes.
    pub stream_window: u32,
    /// HTTP/2 receive window of one connection, in bytes.
    pub connection_window: u32,
}

impl MemoryBudget {
    /// The sizes for a budget of `mb` MiB (at least 8 MiB).
    pub fn from_mb(mb: u64) -> MemoryBudget {
        let bytes = mb.max(8) << 20;
        let stream_window = (bytes / 512).clamp(64 << 10, 4 << 20);
        MemoryBudget {
            bytes,
            ingest_points: (bytes / 8 / BYTES_PER_POINT_IN_FLIGHT) as usize,
            stream_window: stream_window as u32,
            connection_window: (stream_window * 4) as u32,
        }
    }
}

impl Default for MemoryBudget {
    fn default() -> Self {
        Self::from_mb(DEFAULT_MEMORY_BUDGET_MB)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_budget_keeps_the_ingest_budget_and_narrows_the_windows() {
        let b = MemoryBudget::default();
        assert_eq!(b.ingest_points, 1 << 17);
        assert_eq!(b.stream_window, 128 << 10);
        assert_eq!(b.connection_window, 512 << 10);
        let small = MemoryBudget::from_mb(1);
        assert_eq!(small.bytes, 8 << 20, "at least 8 MiB");
        assert_eq!(
            small.stream_window,
            64 << 10,
            "HTTP/2's own default at least"
        );
        let big = MemoryBudget::from_mb(4096);
        assert_eq!(big.stream_window, 4 << 20);
        assert_eq!(big.ingest_points, 8 << 20);
    }
}
