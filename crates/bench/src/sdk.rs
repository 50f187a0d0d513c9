//! The `sdk` client mode: the official aws-sdk-kinesis client, configured as a user would for a
//! local endpoint, with retries off so that every throttle or error is counted, not hidden.

use std::time::Duration;

use aws_sdk_kinesis::config::retry::RetryConfig;
use aws_sdk_kinesis::config::timeout::TimeoutConfig;
use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;

use super::calls::{stamp_of, CallError, Entry, Page, PutOutcome};

pub fn client(endpoint: &str, region: &str) -> aws_sdk_kinesis::Client {
    // Plain HTTP only: the harness is built without a TLS stack.
    let http = aws_smithy_http_client::Builder::new().build_http();
    let config = aws_sdk_kinesis::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "kinesin-bench"))
        .http_client(http)
        .retry_config(RetryConfig::disabled())
        // A stuck endpoint must not stall the run (a subscription is read for seconds only).
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_timeout(Duration::from_secs(30))
                .build(),
        )
        .build();
    aws_sdk_kinesis::Client::from_conf(config)
}

pub fn entries(entries: &[Entry]) -> Vec<PutRecordsRequestEntry> {
    entries
        .iter()
        .map(|e| {
            PutRecordsRequestEntry::builder()
                .partition_key(&e.key)
                .data(Blob::new(e.data.to_vec()))
                .build()
                .expect("partition key and data are set")
        })
        .collect()
}

pub async fn put_records(
    client: &aws_sdk_kinesis::Client,
    stream: &str,
    entries: Vec<PutRecordsRequestEntry>,
    want_shards: bool,
) -> Result<PutOutcome, CallError> {
    let n = entries.len() as u64;
    let out = client
        .put_records()
        .stream_name(stream)
        .set_records(Some(entries))
        .send()
        .await
        .map_err(|e| CallError::from_sdk(&e))?;
    let failed = out.failed_record_count().unwrap_or(0).max(0) as u64;
    let shards = if want_shards {
        out.records().iter().filter_map(|r| r.shard_id().map(str::to_owned)).collect()
    } else {
        Vec::new()
    };
    Ok(PutOutcome { ok: n - failed.min(n), failed, shards })
}

pub async fn put_record(
    client: &aws_sdk_kinesis::Client,
    stream: &str,
    entry: &Entry,
) -> Result<(), CallError> {
    client
        .put_record()
        .stream_name(stream)
        .partition_key(&entry.key)
        .data(Blob::new(entry.data.to_vec()))
        .send()
        .await
        .map_err(|e| CallError::from_sdk(&e))?;
    Ok(())
}

pub async fn get_records(
    client: &aws_sdk_kinesis::Client,
    iterator: &str,
    limit: i32,
    want_stamps: bool,
) -> Result<Page, CallError> {
    let out = client
        .get_records()
        .shard_iterator(iterator)
        .limit(limit)
        .send()
        .await
        .map_err(|e| CallError::from_sdk(&e))?;
    let mut page = Page {
        next_iterator: out.next_shard_iterator().map(str::to_owned),
        millis_behind: out.millis_behind_latest().unwrap_or(0),
        ..Page::default()
    };
    for record in out.records() {
        let data = record.data().as_ref();
        page.records += 1;
        page.bytes += data.len() as u64;
        if want_stamps {
            page.stamps.push(stamp_of(data));
        }
    }
    Ok(page)
}
