//! One SubscribeToShard subscription: a task that pushes a shard's records into the consumer's
//! event stream as soon as they are committed.
//!
//! The task never polls. It sleeps on the log's `ShardLog::wait_for`, which wakes it once a
//! record past what it read is committed (by whichever node appended it), on its shard's
//! signal ([`crate::fanout`]), which a metadata change raises for the whole stream, and on a
//! heartbeat timer that sends an event without records while the shard is idle (the
//! first event is sent at once, so a subscriber learns its continuation point immediately).
//!
//! It ends cleanly after the subscription lifetime, after the event that reports the end of a
//! closed shard, or when the client goes away; and with an exception event when another
//! subscription takes its lease over, when the consumer or the stream is being deleted, or when
//! the log fails.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use kinesin_wire::{ApiError, Value};
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};

use crate::consumers::consumer_not_found;
use crate::errors;
use crate::fanout::{Fanout, Lease, ShardSignal};
use crate::lookup::shard_id;
use crate::model::{ConsumerMeta, ConsumerStatus, ShardMeta, StreamMeta, StreamStatus};
use crate::registry::Registry;
use crate::render::{self, sequence_number};
use crate::shard_reader::{read_shard, ShardRead};
use crate::starting_position::position_marker;
use crate::storage::{Catalog, Clock, Position, ShardLog, StoreError};
use crate::stream_metrics::StreamMetrics;
use crate::{Engine, Event};

/// How long a subscription lasts before the server ends it, as on AWS (5 minutes);
/// `EngineConfig::subscription_ms` overrides it.
pub const SUBSCRIPTION_MS: i64 = 300_000;
/// An idle subscription gets an event without records this often, well within the KCL's
/// no-response check.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// Caps on one event. A reader that is behind catches up in events of this size.
const MAX_EVENT_RECORDS: usize = 10_000;
const MAX_EVENT_BYTES: usize = 2 * 1024 * 1024;
/// Events produced but not yet taken by the server; a slow client holds the task back here.
const EVENT_BUFFER: usize = 4;

const EVENT_TYPE: &str = "SubscribeToShardEvent";
/// With `--enforce-limits`, a consumer reads each shard at AWS's 2 MiB/s.
const ENHANCED_FAN_OUT_BYTES_PER_SEC: f64 = 2.0 * 1024.0 * 1024.0;

/// What a subscription reads, for whom, and from where.
pub(crate) struct Target {
    /// The (consumer, shard) lease this subscription holds.
    pub lease: Lease,
    pub consumer_name: String,
    /// The consumer's registration time: a consumer registered again under the same name is
    /// another consumer.
    pub consumer_created_ms: i64,
    pub from: Position,
}

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    /// Starts the subscription task and returns the event stream it feeds.
    pub(crate) fn start_subscription(&self, target: Target) -> mpsc::Receiver<Event> {
        let (events, receiver) = mpsc::channel(EVENT_BUFFER);
        let lifetime = Duration::from_millis(self.config.subscription_ms.max(0) as u64);
        let feed = Feed {
            log: self.log.clone(),
            registry: self.view.registry.clone(),
            clock: self.clock.clone(),
            signal: self.view.fanout.watch(target.lease.key.shard),
            fanout: self.view.fanout.clone(),
            position: target.from,
            target,
            events,
            ends_at: Instant::now() + lifetime,
            paced: self.config.enforce_limits,
        };
        tokio::spawn(feed.run());
        receiver
    }
}

/// A failed read of the log ends the subscription with this exception.
fn read_failed(error: StoreError) -> ApiError {
    tracing::error!(%error, "subscription read failed");
    ApiError::new("InternalFailureException", "Internal service failure.")
}

/// The running subscription.
struct Feed<L> {
    log: Arc<L>,
    registry: Arc<RwLock<Registry>>,
    clock: Arc<dyn Clock>,
    fanout: Arc<Fanout>,
    signal: ShardSignal,
    target: Target,
    /// The next record to send.
    position: Position,
    events: mpsc::Sender<Event>,
    ends_at: Instant,
    /// Hold delivery to [`ENHANCED_FAN_OUT_BYTES_PER_SEC`].
    paced: bool,
}

impl<L: ShardLog> Feed<L> {
    async fn run(mut self) {
        if let Err(error) = self.pump().await {
            self.deliver(Event::Exception(error)).await;
        }
        self.fanout.release(&self.target.lease);
    }

    /// Sends events until the subscription ends; `Err` is the exception that ends it.
    async fn pump(&mut self) -> Result<(), ApiError> {
        let mut last_event: Option<Instant> = None;
        loop {
            if Instant::now() >= self.ends_at {
                return Ok(());
            }
            self.signal.mark_seen();
            let (stream, shard) = self.current()?;
            let read = read_shard(
                &*self.log,
                &stream,
                &shard,
                self.position,
                MAX_EVENT_RECORDS,
                MAX_EVENT_BYTES,
                self.clock.now_ms(),
            )
            .await
            .map_err(read_failed)?;
            let shard_ended = read.records.is_empty() && read.at_shard_end;
            let heartbeat_due = last_event.is_none_or(|at| at.elapsed() >= HEARTBEAT);
            if !read.records.is_empty() || shard_ended || heartbeat_due {
                self.position = read.next;
                let more = !read.records.is_empty();
                if !self.deliver(event(&stream, &shard, &read)).await {
                    return Ok(());
                }
                count_event(&stream, &shard, &read);
                if shard_ended {
                    return Ok(());
                }
                last_event = Some(Instant::now());
                if self.paced {
                    let bytes = read.bytes();
                    let pause = Duration::from_secs_f64(bytes as f64 / ENHANCED_FAN_OUT_BYTES_PER_SEC);
                    tokio::select! {
                        () = tokio::time::sleep(pause) => {}
                        () = sleep_until(self.ends_at) => return Ok(()),
                    }
                }
                if more {
                    continue;
                }
            }
            let heartbeat = last_event.map_or_else(Instant::now, |at| at + HEARTBEAT);
            tokio::select! {
                waited = self.log.wait_for(self.target.lease.key.shard, read.next.seq_ix) => {
                    waited.map_err(read_failed)?;
                }
                () = self.signal.changed() => {}
                () = sleep_until(heartbeat) => {}
                () = sleep_until(self.ends_at) => return Ok(()),
            }
        }
    }

    /// The stream and shard as they are now, if this subscription may still read them.
    fn current(&self) -> Result<(Arc<StreamMeta>, ShardMeta), ApiError> {
        let lease = &self.target.lease;
        if !self.fanout.holds(lease) {
            return Err(ApiError::resource_in_use(format!(
                "Another SubscribeToShard for consumer {} and shard {} took over this subscription.",
                lease.key.consumer_arn,
                shard_id(lease.key.shard.shard_index)
            )));
        }
        let stream =
            self.registry.read().unwrap_or_else(|e| e.into_inner()).by_id(lease.key.shard.stream_id).cloned();
        let stream = match stream {
            Some(stream) if stream.status != StreamStatus::Deleting => stream,
            Some(stream) => return Err(errors::stream_not_found(&stream.name, &stream.account)),
            None => {
                return Err(ApiError::resource_not_found("The stream of this subscription no longer exists."))
            }
        };
        let active = |c: &ConsumerMeta| {
            c.name == self.target.consumer_name
                && c.created_ms == self.target.consumer_created_ms
                && c.status == ConsumerStatus::Active
        };
        if !stream.consumers.iter().any(active) {
            return Err(consumer_not_found(&lease.key.consumer_arn, &stream.account));
        }
        let index = lease.key.shard.shard_index;
        let shard = stream.shard(index).cloned();
        let shard = shard.ok_or_else(|| errors::shard_not_found(index, &stream.name, &stream.account))?;
        Ok((stream, shard))
    }

    /// Hands an event to the server; false once the subscription is over (the client went away
    /// or time ran out while it was not reading).
    async fn deliver(&self, event: Event) -> bool {
        tokio::select! {
            sent = self.events.send(event) => sent.is_ok(),
            () = sleep_until(self.ends_at) => false,
        }
    }
}

/// The `SubscribeToShardEvent` for one read. Its ContinuationSequenceNumber is the last record's
/// Counts a delivered event in the stream's (and, with enhanced monitoring, the shard's) figures.
fn count_event(stream: &StreamMeta, shard: &ShardMeta, read: &ShardRead) {
    let (records, bytes) = (read.records.len() as u64, read.bytes() as u64);
    let figures = &stream.metrics;
    StreamMetrics::add(&figures.subscribe_events.successes, 1);
    StreamMetrics::add(&figures.subscribe_events.records, records);
    StreamMetrics::add(&figures.subscribe_events.bytes, bytes);
    figures.subscribe_millis_behind.record(read.millis_behind.max(0) as u64);
    if stream.shard_level() {
        let shard = figures.shard(shard.index);
        StreamMetrics::add(&shard.outgoing_records, records);
        StreamMetrics::add(&shard.outgoing_bytes, bytes);
    }
}

/// sequence number, or without records the position marker of the next record, so that
/// AFTER_SEQUENCE_NUMBER resumes without loss; at the end of a closed shard it has none, and
/// names the child shards instead (the pairing the KCL checks).
fn event(stream: &StreamMeta, shard: &ShardMeta, read: &ShardRead) -> Event {
    let records: Vec<Value> = read.records.iter().map(|r| render::record(shard, r)).collect();
    let mut payload = Value::object().with("Records", records);
    if read.records.is_empty() && read.at_shard_end {
        payload.set("MillisBehindLatest", 0i64);
        payload.set("ChildShards", render::child_shards(stream, shard));
    } else {
        let continuation = match read.records.last() {
            Some(last) => sequence_number(shard, last.seq_ix, last.arrival_ms),
            None => position_marker(shard, read.next.seq_ix),
        };
        payload.set("ContinuationSequenceNumber", continuation);
        payload.set("MillisBehindLatest", read.millis_behind);
    }
    Event::Event { event_type: EVENT_TYPE, payload }
}
