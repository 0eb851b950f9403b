//! Where tracking data is stored: implementations of the [`crate::backend::TrackingBackend`]
//! seam. [`sled`] is the embedded default (`./mlruns`); a PostgreSQL backend
//! goes next to it. The rest of the server names what it needs through the re-exports
//! below, so a second backend adds a folder here, not edits elsewhere.

pub mod postgres;
pub mod series;
pub mod sled;

pub use self::sled::{
    chunk, default_artifact_location, default_experiment, keys, new_experiment, Catalog,
    CommitStats, HistoryReader, PendingWrite, Store, StoreConfig, StoreError,
    DEFAULT_MIN_FREE_BYTES, DEFAULT_STREAM_RETENTION, HISTORY_BLOCK_POINTS,
};
pub use crate::domain::{Durability, Outcome, WriteOp};
