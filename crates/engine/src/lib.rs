//! Kinesis semantics in one place: streams, shards, hash-key routing, sequence numbers,
//! iterators, retention and every operation, written against the [`storage::ShardLog`] and
//! [`storage::Catalog`] traits so that it does no I/O of its own.

mod autoscale;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod consumers;
mod engine;
mod errors;
pub mod exhaustion;
mod fanout;
pub mod hashing;
pub mod histogram;
pub mod log_limit;
mod lookup;
#[cfg(any(test, feature = "memory"))]
pub mod memory;
pub mod model;
mod operations;
mod pagination;
mod registry;
mod render;
mod resharding;
mod resource;
mod routing;
mod shard_reader;
mod starting_position;
pub mod storage;
pub mod stream_metrics;
mod subscription;
mod tails;
mod throttle;
mod view;

use std::future::Future;
use std::pin::Pin;

use kinesin_wire::put_records_answer::PutRecordsAnswer;
use kinesin_wire::{ApiError, Input, Operation, Value};

pub use engine::{Engine, EngineConfig, StreamFigures};

/// Who is calling and where: every stream lives in one account and region (the same context
/// every service on the endpoint gets).
pub use kinesin_service::RequestContext;

/// A boxed future, so that [`Api`] can be used as a trait object by the server.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What an operation answers.
#[derive(Debug)]
pub enum Reply {
    /// One response body. `Value::Null` means "HTTP 200 with an empty body" (operations with
    /// no modeled output).
    Value(Value),
    /// PutRecords' answer, which the server encodes without building it as a [`Value`] (its
    /// `to_value` gives the same body as a tree).
    PutRecords(PutRecordsAnswer),
    /// An event stream (SubscribeToShard). The server answers 200 at once, sends the
    /// `initial-response` event, then each [`Event`] as it arrives, and ends the response when
    /// the sender is dropped. Dropping the receiver (the client went away) tells the producer
    /// to stop.
    Events(tokio::sync::mpsc::Receiver<Event>),
}

/// One message of an event stream, named after its `:message-type`.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A modeled event: its `:event-type` (e.g. `SubscribeToShardEvent`) and payload.
    Event { event_type: &'static str, payload: Value },
    /// A modeled error (e.g. `ResourceInUseException`); always the last message.
    Exception(ApiError),
}

/// The whole Kinesis API behind one call. `input` has already passed the model's type checks
/// and constraint validation.
pub trait Api: Send + Sync + 'static {
    fn handle<'a>(
        &'a self,
        ctx: &'a RequestContext,
        op: Operation,
        input: Input,
    ) -> BoxFuture<'a, Result<Reply, ApiError>>;
}
