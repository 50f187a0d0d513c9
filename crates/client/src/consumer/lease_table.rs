//! The lease table's operations, as the KCL 2.x makes them (docs/client.md#the-lease-table).
//! A trait so that the lease logic can be unit-tested against an in-memory table; the real one
//! is [`DynamoDbLeaseTable`](super::dynamodb_table::DynamoDbLeaseTable).
//!
//! Every conditional write names the lease as the caller last saw it and answers whether the
//! condition held; on `true` the caller updates its copy the same way (the counter moves up by
//! one with every write but `create`).

use std::future::Future;
use std::pin::Pin;

use super::lease::Lease;

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A lease-table call that failed for another reason than a condition (the table is missing,
/// throttled, unreachable). Callers retry later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TableError(pub String);

pub(crate) type TableResult<T> = Result<T, TableError>;

pub(crate) trait LeaseTable: Send + Sync {
    /// Creates the table if it is missing and waits until it is usable.
    fn ensure_exists(&self) -> BoxFuture<'_, TableResult<()>>;

    /// Every lease (a full Scan).
    fn list(&self) -> BoxFuture<'_, TableResult<Vec<Lease>>>;

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, TableResult<Option<Lease>>>;

    /// Writes `lease` if no lease has its key.
    fn create<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, TableResult<bool>>;

    /// If the counter is still `lease.counter`: counter + 1.
    fn renew<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, TableResult<bool>>;

    /// If the counter is still `lease.counter`: counter + 1, owner `new_owner`, and one more
    /// owner switch since the checkpoint if the owner changes.
    fn take<'a>(&'a self, lease: &'a Lease, new_owner: &'a str) -> BoxFuture<'a, TableResult<bool>>;

    /// If the owner is still `lease.owner`: no owner, counter + 1. Frees the lease for any worker
    /// at once.
    fn evict<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, TableResult<bool>>;

    /// If the counter is still `lease.counter`: counter + 1, and the checkpoint, the owner
    /// switches, the child shards and the hash range as `lease` has them.
    fn update<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, TableResult<bool>>;
}
