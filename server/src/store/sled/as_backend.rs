//! The sled store as the Tracker's [`TrackingBackend`].

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::FutureExt;

use super::{HistoryReader, Store};
use crate::backend::{BackendMetric, HistorySource, MetricKind, PendingWrite, TrackingBackend};
use crate::domain::{
    Durability, Experiment, ExperimentId, Point, Run, RunId, RunInfo, ViewType, WriteOp,
};
use crate::error::{Result, TrackingError};
use crate::query::filter::Expr;

impl TrackingBackend for Store {
    fn purge_run(&self, id: RunId) -> Result<bool> {
        Ok(Store::purge_run(self, id)?.is_some())
    }

    fn purge_experiment(&self, id: ExperimentId) -> Result<bool> {
        Ok(Store::purge_experiment(self, id)?)
    }

    fn reclaim_space(&self) -> Result<u64> {
        Ok(Store::reclaim_chunk_log(self)?)
    }

    fn backup<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<crate::backend::BackupReport>> {
        Store::backup(self, name).boxed()
    }

    fn durability(&self) -> Durability {
        Store::durability(self)
    }

    fn location(&self) -> String {
        format!("sled store at {}", self.dir().display())
    }

    fn metrics(&self) -> Vec<BackendMetric> {
        let s = self.commit_stats();
        let figure = BackendMetric::read;
        vec![
            figure(
                "trackd_points_ingested_total",
                "Metric points stored.",
                MetricKind::Counter,
                &s.points,
            ),
            figure(
                "trackd_commit_groups_total",
                "Write groups committed.",
                MetricKind::Counter,
                &s.groups,
            ),
            figure(
                "trackd_commit_ops_total",
                "Write operations applied.",
                MetricKind::Counter,
                &s.ops,
            ),
            figure(
                "trackd_flushes_total",
                "sled flush() calls.",
                MetricKind::Counter,
                &s.flushes,
            ),
            figure(
                "trackd_flush_microseconds_total",
                "Time spent in flush(), in microseconds (divide by flushes for the mean).",
                MetricKind::Counter,
                &s.flush_micros,
            ),
            figure(
                "trackd_stream_records_pruned_total",
                "LogStream sequence records removed after their retention.",
                MetricKind::Counter,
                &s.stream_records_pruned,
            ),
            figure(
                "trackd_write_queue_depth",
                "Writes waiting for the committer.",
                MetricKind::Gauge,
                &s.queue_depth,
            ),
        ]
    }

    fn enqueue(&self, op: WriteOp) -> BoxFuture<'_, Result<PendingWrite>> {
        async move {
            let pending = Store::enqueue(self, op).await?;
            Ok(pending.boxed())
        }
        .boxed()
    }

    fn close(&self) -> BoxFuture<'_, Result<()>> {
        async move { Store::close(self).await.map_err(TrackingError::from) }.boxed()
    }

    fn experiment(&self, id: ExperimentId) -> Result<Experiment> {
        Store::experiment(self, id)
    }

    fn experiment_by_name(&self, name: &str) -> Result<Experiment> {
        Store::experiment_by_name(self, name)
    }

    fn experiments(&self) -> Result<Vec<Experiment>> {
        Store::experiments(self)
    }

    fn run_info(&self, id: RunId) -> Result<RunInfo> {
        Store::run_info(self, id)
    }

    fn logged_model(&self, id: crate::domain::ModelId) -> Result<crate::domain::LoggedModel> {
        Store::logged_model(self, id)
    }

    fn registered_model(&self, name: &str) -> Result<crate::domain::RegisteredModel> {
        Store::registered_model(self, name)
    }

    fn registered_models(&self) -> Result<Vec<Arc<crate::domain::RegisteredModel>>> {
        Store::registered_models(self)
    }

    fn logged_models(
        &self,
        experiments: &[ExperimentId],
    ) -> Result<Vec<Arc<crate::domain::LoggedModel>>> {
        Store::logged_models(self, experiments)
    }

    fn run(&self, id: RunId) -> Result<Run> {
        Store::run(self, id)
    }

    fn run_with_info(&self, info: RunInfo) -> Result<Run> {
        Store::run_with_info(self, info)
    }

    fn search_runs(
        &self,
        experiments: &[ExperimentId],
        view: ViewType,
        filter: Option<&Expr>,
    ) -> Result<Vec<Arc<Run>>> {
        Ok(self.catalog().search(experiments, view, filter))
    }

    fn history(
        &self,
        run: RunId,
        key: &str,
        start: Option<i64>,
        end: Option<i64>,
    ) -> Result<Box<dyn HistorySource>> {
        Ok(Box::new(self.history_reader(run, key, start, end)?))
    }
}

impl HistorySource for HistoryReader {
    fn points_hint(&self) -> u64 {
        HistoryReader::points_hint(self)
    }

    fn skip(&mut self, n: usize) -> Result<usize> {
        HistoryReader::skip(self, n)
    }

    fn next_block_max(&mut self, max: usize) -> Result<Option<Vec<Point>>> {
        HistoryReader::next_block_max(self, max)
    }
}
