//! LogStream: reads batches, queues them for the committer strictly in arrival order, lets
//! up to `stream_in_flight` of them commit at once, and answers each with an
//! acknowledgement, in order.
//!
//! - A batch the Tracker refuses gets an answer with `error` set; the stream goes on.
//! - A request that cannot be read (undecodable bytes, over the message limit) leaves the
//!   stream's framing unusable: the batches read before it are answered, then the stream
//!   ends with INVALID_ARGUMENT naming the reason and the last sequence number read.
//! - A stream silent for `stream_idle_timeout` (with nothing in flight) is closed with
//!   DEADLINE_EXCEEDED. This is per stream: the server-wide request timeout would cut long
//!   healthy streams.
//! - On shutdown, batches already read are committed and acknowledged, then the stream
//!   ends with UNAVAILABLE so the client reconnects later.
//! - Backpressure: while the ingest budget or the commit queue is full the handler stops
//!   reading, and HTTP/2 flow control slows the sender. Memory stays bounded.

use std::pin::Pin;

use futures::future::BoxFuture;
use futures::stream::FuturesOrdered;
use futures::{FutureExt, Stream, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, Streaming};
use trackd_proto::v1 as pb;

use super::{convert, GrpcOptions};
use crate::domain::Caller;
use crate::tracker::{IngestPermit, Tracker};

/// The response stream of LogStream.
pub type AckStream =
    Pin<Box<dyn Stream<Item = Result<pb::LogStreamResponse, Status>> + Send + 'static>>;

pub(super) fn serve(
    tracker: Tracker,
    caller: Caller,
    inbound: Streaming<pb::LogStreamRequest>,
    options: GrpcOptions,
    shutdown: watch::Receiver<bool>,
) -> AckStream {
    let (tx, rx) = mpsc::channel(options.stream_in_flight.max(1) * 2);
    tokio::spawn(pump(tracker, caller, inbound, options, shutdown, tx));
    Box::pin(ReceiverStream::new(rx))
}

type Ack = Result<pb::LogStreamResponse, Status>;
/// The acknowledgement of a queued batch, once the committer has answered.
pub type PendingAck = BoxFuture<'static, pb::LogStreamResponse>;

async fn pump(
    tracker: Tracker,
    caller: Caller,
    mut inbound: Streaming<pb::LogStreamRequest>,
    options: GrpcOptions,
    mut shutdown: watch::Receiver<bool>,
    tx: mpsc::Sender<Ack>,
) {
    let mut pending: FuturesOrdered<PendingAck> = FuturesOrdered::new();
    // At most one batch is being queued at a time, so batches enter the committer in order.
    let mut enqueuing: Option<BoxFuture<'static, PendingAck>> = None;
    let in_flight = options.stream_in_flight.max(1);
    let idle = tokio::time::sleep(options.stream_idle_timeout);
    tokio::pin!(idle);
    let mut reading = true;
    let mut broken: Option<Status> = None;
    let mut last_read: Option<u64> = None;
    // Room in the ingest budget for the next batch, taken before it is read (see
    // `Reservation`).
    let mut reservation = Reservation::default();
    let grace = tokio::time::sleep(RESERVATION_GRACE);
    tokio::pin!(grace);
    let closing = loop {
        if !reading && pending.is_empty() && enqueuing.is_none() {
            break None;
        }
        let may_read = reading && enqueuing.is_none() && pending.len() < in_flight;
        if may_read && reservation.wanted() {
            reservation.start(&tracker);
        }
        tokio::select! {
            biased;
            Some(ack) = pending.next(), if !pending.is_empty() => {
                if tx.send(Ok(ack)).await.is_err() {
                    return; // the client went away
                }
            }
            queued = finish_enqueue(&mut enqueuing), if enqueuing.is_some() => {
                enqueuing = None;
                pending.push_back(queued);
            }
            changed = shutdown.changed(), if reading => {
                if changed.is_err() || *shutdown.borrow() {
                    reading = false;
                }
            }
            reserved = reservation.finish(), if reservation.waiting() => {
                if reserved {
                    grace.as_mut().reset(tokio::time::Instant::now() + RESERVATION_GRACE);
                }
            }
            () = &mut grace, if reservation.held() => reservation.give_back(),
            message = inbound.message(), if may_read && !reservation.waiting() => {
                match message {
                    Ok(Some(batch)) => {
                        last_read = Some(batch.seq);
                        idle.as_mut().reset(tokio::time::Instant::now() + options.stream_idle_timeout);
                        let reserved = reservation.take_for(convert::batch_points(&batch));
                        enqueuing = Some(enqueue_batch(tracker.clone(), caller.clone(), batch, reserved).boxed());
                    }
                    Ok(None) => reading = false,
                    Err(status) => {
                        tracing::debug!(%status, "log stream broke");
                        broken = Some(unreadable(&status, last_read));
                        reading = false;
                    }
                }
            }
            // Not while waiting for room: that wait is the server's, not the writer's.
            () = &mut idle, if reading && pending.is_empty() && enqueuing.is_none() && !reservation.waiting() => {
                break Some(Status::deadline_exceeded(format!(
                    "log stream idle for {:?}; reconnect to continue", options.stream_idle_timeout
                )));
            }
        }
    };
    let closing = closing.or(broken).or_else(|| {
        (*shutdown.borrow())
            .then(|| Status::unavailable("server shutting down; acknowledged batches are stored"))
    });
    if let Some(status) = closing {
        let _ = tx.send(Err(status)).await;
    }
}

/// The status that ends a stream whose next request could not be read. If the client went
/// away it never sees it; if it is still there, it learns why its stream ended.
fn unreadable(status: &Status, last_read: Option<u64>) -> Status {
    let after = match last_read {
        Some(seq) => format!("after seq {seq}"),
        None => "first".to_owned(),
    };
    let answered = match last_read {
        Some(seq) => format!("batches up to seq {seq} are answered"),
        None => "no batch was read".to_owned(),
    };
    Status::invalid_argument(format!(
        "LogStream closed: the {after} request could not be read ({}: {}); {answered}, nothing \
         after was stored",
        status.code(),
        status.message()
    ))
}

/// How long a stream keeps room in the ingest budget for a message that has not arrived.
const RESERVATION_GRACE: std::time::Duration = std::time::Duration::from_millis(10);
/// What a stream reserves before its first batch (the Rust client's default batch).
const FIRST_RESERVATION_POINTS: usize = 16_384;

/// A stream's room in the ingest budget for its next batch, taken *before* the batch is
/// read: a saturating stream that waits for room then waits unread — holding neither the
/// decoded message nor its points, only what HTTP/2 flow control lets its sender buffer —
/// and its next message, already buffered, is read at once when room is there. A stream
/// whose message does not arrive within [`RESERVATION_GRACE`] gives the room back (an idle
/// writer must not hold the budget others wait for), and reserves again only after its next
/// message came; that one takes its room after being read. Sized from the previous batch.
struct Reservation {
    state: ReservationState,
    /// Points the next batch is expected to carry.
    expected: usize,
}

enum ReservationState {
    /// Nothing held; reserve before the next read.
    Idle,
    /// Waiting for room.
    Waiting(BoxFuture<'static, crate::error::Result<IngestPermit>>),
    /// Room held for the next message.
    Held(IngestPermit),
    /// Gave the room back: read the next message without it.
    GaveBack,
}

impl Default for Reservation {
    fn default() -> Self {
        Reservation {
            state: ReservationState::Idle,
            expected: FIRST_RESERVATION_POINTS,
        }
    }
}

impl Reservation {
    fn wanted(&self) -> bool {
        matches!(self.state, ReservationState::Idle)
    }

    fn waiting(&self) -> bool {
        matches!(self.state, ReservationState::Waiting(_))
    }

    fn held(&self) -> bool {
        matches!(self.state, ReservationState::Held(_))
    }

    fn start(&mut self, tracker: &Tracker) {
        let tracker = tracker.clone();
        let points = self.expected;
        self.state =
            ReservationState::Waiting(async move { tracker.reserve_ingest(points).await }.boxed());
    }

    /// Completes the wait for room; `true` if room is now held.
    async fn finish(&mut self) -> bool {
        let ReservationState::Waiting(wait) = &mut self.state else {
            return std::future::pending().await;
        };
        match wait.await {
            Ok(permit) => {
                self.state = ReservationState::Held(permit);
                true
            }
            // The server is shutting down: read on without room (the batch is refused).
            Err(_) => {
                self.state = ReservationState::GaveBack;
                false
            }
        }
    }

    fn give_back(&mut self) {
        self.state = ReservationState::GaveBack;
    }

    /// The room held for a message just read of `points` points, if any; the next batch is
    /// expected to be alike.
    fn take_for(&mut self, points: usize) -> Option<IngestPermit> {
        self.expected = points.max(1);
        match std::mem::replace(&mut self.state, ReservationState::Idle) {
            ReservationState::Held(permit) => Some(permit),
            _ => None,
        }
    }
}

/// Completes the batch being queued, yielding the future of its acknowledgement.
async fn finish_enqueue(slot: &mut Option<BoxFuture<'static, PendingAck>>) -> PendingAck {
    match slot.as_mut() {
        Some(enqueuing) => enqueuing.await,
        None => std::future::pending().await,
    }
}

/// Validates and queues one batch (in the room `reserved` for it, or room taken now);
/// resolves (once queued) to the future of its answer (an acknowledgement, or the batch's
/// error). Batches of one stream must be queued one after
/// another. Shared with in-process streams (the client's embedded mode), so both answer
/// alike.
pub async fn enqueue_batch(
    tracker: Tracker,
    caller: Caller,
    batch: pb::LogStreamRequest,
    reserved: Option<IngestPermit>,
) -> PendingAck {
    let seq = batch.seq;
    let read_at = std::time::Instant::now();
    let latency = tracker.clone();
    // Room in the ingest budget first: a batch waiting for it holds only its message, not
    // the points decoded from it as well.
    let reserved = match reserved {
        Some(permit) => permit,
        None => match tracker.reserve_ingest(convert::batch_points(&batch)).await {
            Ok(permit) => permit,
            Err(err) => return futures::future::ready(convert::stream_error(seq, &err)).boxed(),
        },
    };
    let queued = match convert::stream_writes(batch.runs) {
        Ok(runs) => {
            tracker
                .enqueue_stream_batch(&caller, &batch.stream_id, seq, runs, Some(reserved))
                .await
        }
        Err(e) => {
            tracker
                .refuse_stream_batch(&caller, &batch.stream_id, seq, e)
                .await
        }
    };
    match queued {
        Ok(answer) => async move {
            let answer = answer.await;
            latency.stream_ack_latency().record(read_at.elapsed());
            match answer {
                Ok(ack) => convert::stream_ack(ack),
                Err(err) => convert::stream_error(seq, &err),
            }
        }
        .boxed(),
        Err(err) => futures::future::ready(convert::stream_error(seq, &err)).boxed(),
    }
}
