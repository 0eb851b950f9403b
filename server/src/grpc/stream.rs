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
use crate::tracker::Tracker;

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
    let closing = loop {
        if !reading && pending.is_empty() && enqueuing.is_none() {
            break None;
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
            message = inbound.message(), if reading && enqueuing.is_none() && pending.len() < in_flight => {
                match message {
                    Ok(Some(batch)) => {
                        last_read = Some(batch.seq);
                        idle.as_mut().reset(tokio::time::Instant::now() + options.stream_idle_timeout);
                        enqueuing = Some(enqueue_batch(tracker.clone(), caller.clone(), batch).boxed());
                    }
                    Ok(None) => reading = false,
                    Err(status) => {
                        tracing::debug!(%status, "log stream broke");
                        broken = Some(unreadable(&status, last_read));
                        reading = false;
                    }
                }
            }
            () = &mut idle, if reading && pending.is_empty() && enqueuing.is_none() => {
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

/// Completes the batch being queued, yielding the future of its acknowledgement.
async fn finish_enqueue(slot: &mut Option<BoxFuture<'static, PendingAck>>) -> PendingAck {
    match slot.as_mut() {
        Some(enqueuing) => enqueuing.await,
        None => std::future::pending().await,
    }
}

/// Validates and queues one batch; resolves (once queued) to the future of its answer (an
/// acknowledgement, or the batch's error). Batches of one stream must be queued one after
/// another. Shared with in-process streams (the client's embedded mode), so both answer
/// alike.
pub async fn enqueue_batch(
    tracker: Tracker,
    caller: Caller,
    batch: pb::LogStreamRequest,
) -> PendingAck {
    let seq = batch.seq;
    let read_at = std::time::Instant::now();
    let latency = tracker.clone();
    // Room in the ingest budget first: a batch waiting for it holds only its message, not
    // the points decoded from it as well.
    let reserved = match tracker.reserve_ingest(convert::batch_points(&batch)).await {
        Ok(permit) => permit,
        Err(err) => return futures::future::ready(convert::stream_error(seq, &err)).boxed(),
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
