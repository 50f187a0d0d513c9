//! What the workloads send and get back, the same in either client mode: records to put, the
//! answers of PutRecords and GetRecords, and failed calls counted by error code.

use std::collections::BTreeMap;
use std::fmt;

use aws_sdk_kinesis::error::ProvideErrorMetadata;
use bytes::Bytes;

/// A failed call, by error code (`ProvisionedThroughputExceededException`, `timeout`, `http`, …).
#[derive(Debug, Clone)]
pub struct CallError {
    pub code: String,
    pub message: String,
}

impl CallError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> CallError {
        CallError { code: code.into(), message: message.into() }
    }
    pub fn from_sdk<E: ProvideErrorMetadata + fmt::Debug, R: fmt::Debug>(
        err: &aws_sdk_kinesis::error::SdkError<E, R>,
    ) -> CallError {
        use aws_sdk_kinesis::error::SdkError;
        match err {
            SdkError::ServiceError(service) => CallError::new(
                service.err().code().unwrap_or("ServiceError"),
                service.err().message().unwrap_or_default(),
            ),
            SdkError::TimeoutError(_) => CallError::new("timeout", format!("{err:?}")),
            SdkError::DispatchFailure(d) => CallError::new("connection", format!("{d:?}")),
            SdkError::ResponseError(_) => CallError::new("bad-response", format!("{err:?}")),
            _ => CallError::new("client", format!("{err:?}")),
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// Error counts by code.
pub type Errors = BTreeMap<String, u64>;

pub fn count_error(errors: &mut Errors, err: &CallError) {
    *errors.entry(err.code.clone()).or_default() += 1;
}

/// One record to put.
#[derive(Clone)]
pub struct Entry {
    pub key: String,
    pub data: Bytes,
}

/// What PutRecords answered: records accepted and failed, and the shard of each accepted record
/// when asked for.
#[derive(Default)]
pub struct PutOutcome {
    pub ok: u64,
    pub failed: u64,
    pub shards: Vec<String>,
}

/// One GetRecords page.
#[derive(Default)]
pub struct Page {
    pub records: u64,
    pub bytes: u64,
    /// The first 8 bytes of each record's data, little-endian, when asked for (latency stamps).
    pub stamps: Vec<u64>,
    pub next_iterator: Option<String>,
    pub millis_behind: i64,
}

/// The first 8 bytes of `data` as a little-endian u64 (0 when shorter).
pub fn stamp_of(data: &[u8]) -> u64 {
    data.get(..8).map(|b| u64::from_le_bytes(b.try_into().unwrap())).unwrap_or(0)
}
