//! History reads on PostgreSQL: the spans of the chunks a step range touches come in one
//! query (by the chunk's min/max step); the shared [`HistoryReader`] then fetches the chunks
//! it needs one at a time, so memory stays bounded whatever the series length.

use std::path::PathBuf;

use futures::FutureExt;

use super::PgStore;
use crate::domain::RunId;
use crate::error::{Result, TrackingError};
use crate::store::series::{Chosen, ChunkFetch, HistoryReader, Span};

/// Fetches one series' chunks by number.
struct PgChunks {
    store: PgStore,
    run: RunId,
    key: String,
}

impl ChunkFetch for PgChunks {
    fn fetch(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let no = i32::from_be_bytes(
            key.try_into()
                .map_err(|_| TrackingError::Corrupted("chunk key".into()))?,
        );
        let (run, series) = (self.run, self.key.clone());
        self.store.read(move |c| {
            async move {
                let row = c
                    .query_opt(
                        "SELECT points FROM trackd_metric_chunks \
                         WHERE run_id = $1 AND key = $2 AND no = $3",
                        &[&&run.0[..], &series, &no],
                    )
                    .await?;
                Ok(row.map(|r| r.get::<_, Vec<u8>>(0)))
            }
            .boxed()
        })
    }

    fn spill_dir(&self) -> PathBuf {
        self.store.inner.spill_dir.clone()
    }
}

/// A reader of one series within `start..=end` (each bound optional).
pub(super) fn reader(
    store: &PgStore,
    run: RunId,
    key: &str,
    start: Option<i64>,
    end: Option<i64>,
) -> Result<HistoryReader> {
    let (start, end) = (start.unwrap_or(i64::MIN), end.unwrap_or(i64::MAX));
    let series = key.to_owned();
    let chunks = store.read(move |c| {
        async move {
            let rows = c
                .query(
                    "SELECT no, span FROM trackd_metric_chunks \
                     WHERE run_id = $1 AND key = $2 AND max_step >= $3 AND min_step <= $4 \
                     ORDER BY no",
                    &[&&run.0[..], &series, &start, &end],
                )
                .await?;
            rows.iter()
                .map(|row| {
                    let no: i32 = row.get(0);
                    let span = Span::decode(row.get(1)).ok_or_else(|| {
                        TrackingError::Corrupted(format!("run {run} metric '{series}': span"))
                    })?;
                    Ok(Chosen {
                        key: no.to_be_bytes().to_vec(),
                        span,
                    })
                })
                .collect::<Result<Vec<_>>>()
        }
        .boxed()
    })?;
    Ok(HistoryReader::new(
        Box::new(PgChunks {
            store: store.clone(),
            run,
            key: key.to_owned(),
        }),
        run,
        key,
        (start, end),
        chunks,
    ))
}
