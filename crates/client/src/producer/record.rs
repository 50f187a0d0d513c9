//! A user record on its way: what `put` accepted, and what its caller gets back.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::{oneshot, OwnedSemaphorePermit};

use crate::error::Error;

/// Where a record was put.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acked {
    pub shard_id: String,
    pub sequence_number: String,
    /// The record's position inside the aggregated record that carried it; `None` if it was sent
    /// as a Kinesis record of its own (aggregation off, or it travelled alone).
    pub sub_sequence_number: Option<u64>,
    /// PutRecords requests that carried it, this one included.
    pub attempts: u32,
}

/// The outcome of one `put`: resolves once the record is in the stream, or failed.
#[must_use = "a Delivery says whether the record was put"]
#[derive(Debug)]
pub struct Delivery(pub(super) oneshot::Receiver<Result<Acked, Error>>);

impl Future for Delivery {
    type Output = Result<Acked, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|answer| answer.unwrap_or(Err(Error::Stopped)))
    }
}

/// An accepted user record, held by the worker until it is put or fails.
#[derive(Debug)]
pub(super) struct Pending {
    /// Assigned by the worker in arrival order; `flush` waits for every id below its mark.
    pub id: u64,
    pub partition_key: String,
    pub explicit_hash_key: Option<String>,
    pub hash_key: u128,
    pub data: Bytes,
    pub accepted: Instant,
    pub attempts: u32,
    pub last_failure: Option<String>,
    pub reply: oneshot::Sender<Result<Acked, Error>>,
    /// The record's share of the buffer, given back when it is dropped.
    pub _buffer_space: OwnedSemaphorePermit,
}

impl Pending {
    /// What Kinesis counts towards record and request sizes: the partition key and the data.
    pub fn size(&self) -> usize {
        self.partition_key.len() + self.data.len()
    }
}
