//! Searching runs as MLflow's `search_runs` does: experiments, a filter, an order, a view
//! (active, deleted, all), pages — as one page, every match, or a stream of them.

use futures::stream::{self, BoxStream, StreamExt};
use trackd_proto::v1 as pb;

use crate::Client;
use crate::error::Result;
use crate::types::Run;

/// Which runs a search sees, by lifecycle (MLflow's `run_view_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunView {
    /// Runs not deleted (the default).
    #[default]
    ActiveOnly,
    /// Deleted runs only.
    DeletedOnly,
    /// Both.
    All,
}

impl RunView {
    pub(crate) fn wire(self) -> i32 {
        match self {
            RunView::ActiveOnly => pb::ViewType::ActiveOnly as i32,
            RunView::DeletedOnly => pb::ViewType::DeletedOnly as i32,
            RunView::All => pb::ViewType::All as i32,
        }
    }
}

/// One page of runs and the token of the next (empty on the last page).
#[derive(Debug, Clone)]
pub struct RunsPage {
    /// The runs of this page, in the search's order.
    pub runs: Vec<Run>,
    /// Pass to [`SearchRuns::page_token`] for the next page; empty when there is none.
    pub next_page_token: String,
}

/// A run search, built by [`Client::search_runs`].
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
/// use futures::TryStreamExt;
/// let experiment = client.create_experiment("sweep").await?;
/// for lr in [0.1, 0.01, 0.001] {
///     let run = client.start_run().experiment_id(&experiment).start().await?;
///     run.log_param("lr", lr).await?;
///     run.log_metric("acc", 1.0 - lr, 0).await?;
///     run.finish().await?;
/// }
/// let best = client
///     .search_runs()
///     .experiments([&experiment])
///     .filter("metrics.acc > 0.95")
///     .order_by(["metrics.acc DESC"])
///     .all()
///     .await?;
/// assert_eq!(best.len(), 2);
/// assert_eq!(best[0].data.params["lr"], "0.001");
/// // Page by page, or as a stream of every match.
/// let first = client.search_runs().experiments([&experiment]).max_results(2).page().await?;
/// assert_eq!(first.runs.len(), 2);
/// assert!(!first.next_page_token.is_empty());
/// let all: Vec<_> = client.search_runs().experiments([&experiment]).max_results(1).stream().try_collect().await?;
/// assert_eq!(all.len(), 3);
/// # Ok(()) }
/// ```
#[must_use = "a search runs only when .page(), .all() or .stream() is called"]
#[derive(Debug, Clone)]
pub struct SearchRuns {
    client: Client,
    request: pb::SearchRunsRequest,
}

impl Client {
    /// Starts a run search (MLflow's `search_runs`): see [`SearchRuns`].
    pub fn search_runs(&self) -> SearchRuns {
        SearchRuns {
            client: self.clone(),
            request: pb::SearchRunsRequest::default(),
        }
    }
}

impl SearchRuns {
    /// The experiments to search (ids).
    pub fn experiments<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.request.experiment_ids = ids.into_iter().map(|s| s.as_ref().to_owned()).collect();
        self
    }

    /// A filter in MLflow's language (plus OR and parentheses), e.g.
    /// `"metrics.acc > 0.9 AND params.model = 'cnn'"`.
    pub fn filter(mut self, filter: impl Into<String>) -> Self {
        self.request.filter = filter.into();
        self
    }

    /// Orderings, e.g. `["metrics.acc DESC", "attributes.start_time"]` (default: newest first).
    pub fn order_by<I, S>(mut self, clauses: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.request.order_by = clauses.into_iter().map(|s| s.as_ref().to_owned()).collect();
        self
    }

    /// Active (default), deleted or all runs.
    pub fn view(mut self, view: RunView) -> Self {
        self.request.run_view_type = view.wire();
        self
    }

    /// Runs per page (1 to 50,000; default 1,000).
    pub fn max_results(mut self, n: i32) -> Self {
        self.request.max_results = n;
        self
    }

    /// Continue from a previous page's `next_page_token`.
    pub fn page_token(mut self, token: impl Into<String>) -> Self {
        self.request.page_token = token.into();
        self
    }

    /// One page.
    pub async fn page(self) -> Result<RunsPage> {
        let r = self
            .client
            .backend()
            .tracking
            .clone()
            .search_runs(self.request)
            .await?
            .into_inner();
        Ok(RunsPage {
            runs: r.runs.into_iter().map(Run::from).collect(),
            next_page_token: r.next_page_token,
        })
    }

    /// Every matching run, all pages, in the search's order.
    pub async fn all(self) -> Result<Vec<Run>> {
        use futures::TryStreamExt;
        self.stream().try_collect().await
    }

    /// Every matching run as a stream, a page fetched at a time (memory holds one page).
    pub fn stream(self) -> BoxStream<'static, Result<Run>> {
        let pages = stream::try_unfold(Some(self), |state| async move {
            let Some(search) = state else {
                return Ok(None);
            };
            let next = search.clone();
            let page = search.page().await?;
            let rest = (!page.next_page_token.is_empty())
                .then(|| next.page_token(page.next_page_token.clone()));
            Ok(Some((page.runs, rest)))
        });
        pages
            .map(|page: Result<Vec<Run>>| match page {
                Ok(runs) => stream::iter(runs.into_iter().map(Ok)).left_stream(),
                Err(e) => stream::once(async move { Err(e) }).right_stream(),
            })
            .flatten()
            .boxed()
    }
}
