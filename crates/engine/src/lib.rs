//! Kinesis semantics in one place: streams, shards, hash-key routing, sequence numbers,
//! iterators, retention and every operation, written against the [`storage::ShardLog`] and
//! [`storage::Catalog`] traits so that it does no I/O of its own.

mod autoscale;
mod engine;
mod errors;
pub mod hashing;
mod lookup;
pub mod model;
mod operations;
mod pagination;
mod registry;
mod render;
mod resharding;
mod routing;
pub mod storage;
mod throttle;

use std::future::Future;
use std::pin::Pin;

use kinesin_wire::{ApiError, Operation, Value};

pub use engine::{Engine, EngineConfig};

/// Who is calling and where: every stream lives in one account and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    pub account: String,
    pub region: String,
}

/// A boxed future, so that [`Api`] can be used as a trait object by the server.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The whole Kinesis API behind one call. `input` has already passed the model's type checks
/// and constraint validation. A successful answer of `Value::Null` means "HTTP 200 with an
/// empty body" (operations with no modeled output).
pub trait Api: Send + Sync + 'static {
    fn handle<'a>(
        &'a self,
        ctx: &'a RequestContext,
        op: Operation,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, ApiError>>;
}
