//! The load generator's view of an endpoint: the data-plane calls the workloads make, in either
//! client mode. `sdk` goes through the official `aws-sdk-kinesis` client — what users run; `raw`
//! sends pre-built, pre-signed requests over a pooled hyper client and reads answers with a
//! minimal parser, so that the load generator costs as little CPU as possible. Control-plane
//! calls (create, describe, list shards, iterators) always use the SDK.

use std::fmt;
use std::time::{Duration, Instant};

use aws_sdk_kinesis::types::{ShardIteratorType, StreamStatus};
use serde::Serialize;

use super::calls::{CallError, Entry, Page, PutOutcome};
use super::raw::RawClient;
use super::sdk;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The official aws-sdk-kinesis client.
    Sdk,
    /// Pre-built signed requests over a pooled hyper client.
    Raw,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Sdk => "sdk",
            Mode::Raw => "raw",
        })
    }
}

/// A PutRecords request prepared once and sent many times.
pub struct PreparedBatch {
    pub records: usize,
    sdk: Vec<aws_sdk_kinesis::types::PutRecordsRequestEntry>,
    raw: Option<super::raw::Prepared>,
}

/// A PutRecord request prepared once and sent many times.
pub struct PreparedRecord {
    entry: Entry,
    raw: Option<super::raw::Prepared>,
}

#[derive(Clone)]
pub struct Client {
    pub mode: Mode,
    pub sdk: aws_sdk_kinesis::Client,
    raw: RawClient,
    endpoint: String,
    region: String,
}

impl Client {
    pub fn new(mode: Mode, endpoint: &str, region: &str) -> Result<Client, String> {
        Ok(Client {
            mode,
            sdk: sdk::client(endpoint, region),
            raw: RawClient::new(endpoint, region)?,
            endpoint: endpoint.to_owned(),
            region: region.to_owned(),
        })
    }

    /// A client of the same endpoint and mode with connections of its own (clones share
    /// theirs), for a caller on another runtime.
    pub fn apart(&self) -> Result<Client, String> {
        Client::new(self.mode, &self.endpoint, &self.region)
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn with_mode(&self, mode: Mode) -> Client {
        Client { mode, ..self.clone() }
    }

    // ---- control plane (always the SDK) ----

    /// Waits until the endpoint answers ListStreams (any answer that is not a connection error).
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.sdk.list_streams().send().await {
                Ok(_) => return Ok(()),
                Err(err) if Instant::now() > deadline => {
                    return Err(format!(
                        "the endpoint did not answer ListStreams: {}",
                        CallError::from_sdk(&err)
                    ))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    }

    /// Creates the stream (or reuses one already there) and waits until it is ACTIVE; returns
    /// its shard ids.
    pub async fn ensure_stream(&self, name: &str, shards: i32) -> Result<Vec<String>, String> {
        let exists = self.sdk.describe_stream_summary().stream_name(name).send().await.is_ok();
        if !exists {
            self.sdk
                .create_stream()
                .stream_name(name)
                .shard_count(shards)
                .send()
                .await
                .map_err(|e| format!("CreateStream {name}: {}", CallError::from_sdk(&e)))?;
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let summary = self
                .sdk
                .describe_stream_summary()
                .stream_name(name)
                .send()
                .await
                .map_err(|e| format!("DescribeStreamSummary {name}: {}", CallError::from_sdk(&e)))?;
            let status = summary.stream_description_summary().map(|s| s.stream_status().clone());
            if status == Some(StreamStatus::Active) {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("stream {name} did not become ACTIVE within 60 s"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(self.list_shards(name).await?.iter().map(|s| s.shard_id().to_owned()).collect())
    }

    /// Every shard of the stream (all pages: a stream of thousands of shards takes several).
    pub async fn list_shards(&self, name: &str) -> Result<Vec<aws_sdk_kinesis::types::Shard>, String> {
        let mut shards = Vec::new();
        let mut next_token: Option<String> = None;
        loop {
            let request = match &next_token {
                Some(token) => self.sdk.list_shards().next_token(token),
                None => self.sdk.list_shards().stream_name(name),
            };
            let listed = request
                .send()
                .await
                .map_err(|e| format!("ListShards {name}: {}", CallError::from_sdk(&e)))?;
            shards.extend(listed.shards().iter().cloned());
            next_token = listed.next_token().map(str::to_owned);
            if next_token.is_none() {
                return Ok(shards);
            }
        }
    }

    pub async fn shard_iterator(
        &self,
        stream: &str,
        shard: &str,
        kind: ShardIteratorType,
    ) -> Result<String, CallError> {
        let out = self
            .sdk
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(shard)
            .shard_iterator_type(kind)
            .send()
            .await
            .map_err(|e| CallError::from_sdk(&e))?;
        out.shard_iterator()
            .map(str::to_owned)
            .ok_or_else(|| CallError::new("no-iterator", "no ShardIterator"))
    }

    // ---- data plane ----

    pub fn prepare_batch(&self, stream: &str, entries: &[Entry]) -> PreparedBatch {
        match self.mode {
            Mode::Sdk => PreparedBatch { records: entries.len(), sdk: sdk::entries(entries), raw: None },
            Mode::Raw => PreparedBatch {
                records: entries.len(),
                sdk: Vec::new(),
                raw: Some(self.raw.prepare_put_records(stream, entries)),
            },
        }
    }

    pub fn prepare_record(&self, stream: &str, entry: Entry) -> PreparedRecord {
        let raw = match self.mode {
            Mode::Sdk => None,
            Mode::Raw => Some(self.raw.prepare_put_record(stream, &entry)),
        };
        PreparedRecord { entry, raw }
    }

    /// Sends a prepared PutRecords request.
    pub async fn put_batch(
        &self,
        stream: &str,
        batch: &PreparedBatch,
        want_shards: bool,
    ) -> Result<PutOutcome, CallError> {
        match &batch.raw {
            Some(prepared) => self.raw.put_records(prepared, batch.records as u64, want_shards).await,
            None => sdk::put_records(&self.sdk, stream, batch.sdk.clone(), want_shards).await,
        }
    }

    /// Sends a prepared PutRecord request.
    pub async fn put_prepared(&self, stream: &str, record: &PreparedRecord) -> Result<(), CallError> {
        match &record.raw {
            Some(prepared) => self.raw.put_record(prepared).await,
            None => sdk::put_record(&self.sdk, stream, &record.entry).await,
        }
    }

    /// Builds, signs and sends one PutRecord (for records whose data changes every time).
    pub async fn put_record(&self, stream: &str, entry: &Entry) -> Result<(), CallError> {
        match self.mode {
            Mode::Raw => self.raw.put_record(&self.raw.prepare_put_record(stream, entry)).await,
            Mode::Sdk => sdk::put_record(&self.sdk, stream, entry).await,
        }
    }

    pub async fn get_records(
        &self,
        iterator: &str,
        limit: i32,
        want_stamps: bool,
    ) -> Result<Page, CallError> {
        match self.mode {
            Mode::Raw => self.raw.get_records(iterator, limit, want_stamps).await,
            Mode::Sdk => sdk::get_records(&self.sdk, iterator, limit, want_stamps).await,
        }
    }
}
