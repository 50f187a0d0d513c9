//! The baseline: a minimal Kinesis endpoint that parses the same requests (JSON, base64 data,
//! MD5 routing of partition keys) and answers them without storing anything. It counts records
//! per shard so that GetRecords can serve a drain of synthetic records of the same sizes; it is
//! the practical limit of the machine, and kinesin is reported as a fraction of it.
//!
//! It runs in its own process (`kinesin bench --serve-baseline`), like any server under test.

use std::borrow::Cow;
use std::collections::HashMap;
use std::convert::Infallible;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use md5::{Digest, Md5};
use serde::Deserialize;
use serde_json::json;

#[derive(Default)]
struct Stream {
    /// Per shard: records and data bytes "stored".
    shards: Vec<(u64, u64)>,
    created: f64,
}

#[derive(Default)]
struct State {
    streams: HashMap<String, Stream>,
    sequence: u64,
}

type Shared = Arc<Mutex<State>>;

/// Serves on 127.0.0.1:`port` until killed; prints `baseline listening on http://ADDR`.
pub fn run(port: u16) -> Result<(), String> {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| format!("cannot listen: {e}"))?;
        let bound = listener.local_addr().map_err(|e| e.to_string())?;
        let mut stdout = std::io::stdout();
        let _ = writeln!(stdout, "baseline listening on http://{bound}");
        let _ = stdout.flush();
        let state: Shared = Arc::default();
        let builder = auto::Builder::new(TokioExecutor::new());
        loop {
            let Ok((socket, _)) = listener.accept().await else { continue };
            let _ = socket.set_nodelay(true);
            let state = state.clone();
            let builder = builder.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    let state = state.clone();
                    async move {
                        let target = request
                            .headers()
                            .get("x-amz-target")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|t| t.strip_prefix("Kinesis_20131202."))
                            .unwrap_or("")
                            .to_owned();
                        let body = match request.into_body().collect().await {
                            Ok(body) => body.to_bytes(),
                            Err(_) => Bytes::new(),
                        };
                        let (status, answer) = match handle(&state, &target, &body) {
                            Ok(answer) => (200, answer),
                            Err((code, message)) => (
                                400,
                                serde_json::to_vec(&json!({"__type": code, "message": message})).unwrap(),
                            ),
                        };
                        Ok::<_, Infallible>(
                            hyper::Response::builder()
                                .status(status)
                                .header("content-type", "application/x-amz-json-1.1")
                                .body(Full::new(Bytes::from(answer)))
                                .unwrap(),
                        )
                    }
                });
                let _ = builder.serve_connection(TokioIo::new(socket), service).await;
            });
        }
    })
}

type Answer = Result<Vec<u8>, (&'static str, String)>;

fn invalid(message: impl Into<String>) -> (&'static str, String) {
    ("InvalidArgumentException", message.into())
}

fn not_found(stream: &str) -> (&'static str, String) {
    ("ResourceNotFoundException", format!("Stream {stream} under account 000000000000 not found."))
}

#[derive(Deserialize)]
struct InRecord<'a> {
    #[serde(rename = "Data", borrow)]
    data: Cow<'a, str>,
    #[serde(rename = "PartitionKey", borrow)]
    key: Cow<'a, str>,
    #[serde(rename = "ExplicitHashKey", borrow, default)]
    hash_key: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct InPutRecords<'a> {
    #[serde(rename = "StreamName", borrow, default)]
    stream: Option<Cow<'a, str>>,
    #[serde(rename = "Records", borrow)]
    records: Vec<InRecord<'a>>,
}

#[derive(Deserialize)]
struct InPutRecord<'a> {
    #[serde(rename = "StreamName", borrow, default)]
    stream: Option<Cow<'a, str>>,
    #[serde(flatten, borrow)]
    record: InRecord<'a>,
}

#[derive(Deserialize)]
struct InStream {
    #[serde(rename = "StreamName", default)]
    stream: Option<String>,
    #[serde(rename = "ShardCount", default)]
    shard_count: Option<usize>,
}

#[derive(Deserialize)]
struct InIterator {
    #[serde(rename = "StreamName", default)]
    stream: Option<String>,
    #[serde(rename = "ShardId")]
    shard: String,
    #[serde(rename = "ShardIteratorType")]
    kind: String,
}

#[derive(Deserialize)]
struct InGetRecords {
    #[serde(rename = "ShardIterator")]
    iterator: String,
    #[serde(rename = "Limit", default)]
    limit: Option<u64>,
}

fn handle(state: &Shared, target: &str, body: &[u8]) -> Answer {
    match target {
        "PutRecords" => {
            let input: InPutRecords = serde_json::from_slice(body).map_err(|e| invalid(e.to_string()))?;
            let stream = input.stream.ok_or_else(|| invalid("StreamName is required"))?;
            // Decode and route outside the lock, as a real server would.
            let mut routed = Vec::with_capacity(input.records.len());
            for record in &input.records {
                let data = decode(&record.data)?;
                routed.push((route(&record.key, record.hash_key.as_deref()), data.len() as u64));
            }
            let mut out = Vec::with_capacity(64 + routed.len() * 100);
            out.extend_from_slice(b"{\"FailedRecordCount\":0,\"Records\":[");
            let mut state = state.lock().unwrap();
            let State { streams, sequence } = &mut *state;
            let s = streams.get_mut(stream.as_ref()).ok_or_else(|| not_found(&stream))?;
            for (i, (hash, len)) in routed.into_iter().enumerate() {
                let shard = shard_of(hash, s.shards.len());
                s.shards[shard].0 += 1;
                s.shards[shard].1 += len;
                *sequence += 1;
                if i > 0 {
                    out.push(b',');
                }
                write!(
                    out,
                    "{{\"SequenceNumber\":\"{:056}\",\"ShardId\":\"shardId-{shard:012}\"}}",
                    *sequence
                )
                .unwrap();
            }
            out.extend_from_slice(b"]}");
            Ok(out)
        }
        "PutRecord" => {
            let input: InPutRecord = serde_json::from_slice(body).map_err(|e| invalid(e.to_string()))?;
            let stream = input.stream.ok_or_else(|| invalid("StreamName is required"))?;
            let len = decode(&input.record.data)?.len() as u64;
            let hash = route(&input.record.key, input.record.hash_key.as_deref());
            let mut state = state.lock().unwrap();
            let State { streams, sequence } = &mut *state;
            let s = streams.get_mut(stream.as_ref()).ok_or_else(|| not_found(&stream))?;
            let shard = shard_of(hash, s.shards.len());
            s.shards[shard].0 += 1;
            s.shards[shard].1 += len;
            *sequence += 1;
            Ok(format!("{{\"SequenceNumber\":\"{:056}\",\"ShardId\":\"shardId-{shard:012}\"}}", *sequence)
                .into_bytes())
        }
        "GetRecords" => {
            let input: InGetRecords = serde_json::from_slice(body).map_err(|e| invalid(e.to_string()))?;
            let mut parts = input.iterator.rsplitn(3, '|');
            let (position, shard, stream) = match (parts.next(), parts.next(), parts.next()) {
                (Some(p), Some(s), Some(n)) => (p.parse::<u64>().ok(), s.parse::<usize>().ok(), n),
                _ => (None, None, ""),
            };
            let (Some(position), Some(shard)) = (position, shard) else {
                return Err(invalid("Invalid ShardIterator."));
            };
            let (count, bytes) = {
                let state = state.lock().unwrap();
                let s = state.streams.get(stream).ok_or_else(|| not_found(stream))?;
                *s.shards.get(shard).ok_or_else(|| invalid("no such shard"))?
            };
            let size = bytes.checked_div(count).map_or(100, |size| size as usize);
            let limit = input.limit.unwrap_or(10_000).min(10_000);
            let by_bytes = (10 * 1024 * 1024 / size.max(1)) as u64;
            let n = count.saturating_sub(position).min(limit).min(by_bytes.max(1));
            Ok(get_records_body(stream, shard, position, n, size))
        }
        "GetShardIterator" => {
            let input: InIterator = serde_json::from_slice(body).map_err(|e| invalid(e.to_string()))?;
            let stream = input.stream.ok_or_else(|| invalid("StreamName is required"))?;
            let shard: usize = input
                .shard
                .rsplit('-')
                .next()
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| invalid("bad ShardId"))?;
            let state = state.lock().unwrap();
            let s = state.streams.get(&stream).ok_or_else(|| not_found(&stream))?;
            let count = s.shards.get(shard).ok_or_else(|| invalid("no such shard"))?.0;
            let position = if input.kind == "LATEST" { count } else { 0 };
            Ok(serde_json::to_vec(&json!({"ShardIterator": format!("{stream}|{shard}|{position}")})).unwrap())
        }
        "CreateStream" => {
            let input: InStream = serde_json::from_slice(body).map_err(|e| invalid(e.to_string()))?;
            let stream = input.stream.ok_or_else(|| invalid("StreamName is required"))?;
            let shards = input.shard_count.unwrap_or(4).max(1);
            let mut state = state.lock().unwrap();
            if state.streams.contains_key(&stream) {
                return Err(("ResourceInUseException", format!("Stream {stream} already exists.")));
            }
            state.streams.insert(stream, Stream { shards: vec![(0, 0); shards], created: now_seconds() });
            Ok(b"{}".to_vec())
        }
        "DeleteStream" => {
            let input: InStream = serde_json::from_slice(body).map_err(|e| invalid(e.to_string()))?;
            let stream = input.stream.ok_or_else(|| invalid("StreamName is required"))?;
            state.lock().unwrap().streams.remove(&stream).ok_or_else(|| not_found(&stream))?;
            Ok(b"{}".to_vec())
        }
        "DescribeStreamSummary" => {
            let input: InStream = serde_json::from_slice(body).map_err(|e| invalid(e.to_string()))?;
            let stream = input.stream.ok_or_else(|| invalid("StreamName is required"))?;
            let state = state.lock().unwrap();
            let s = state.streams.get(&stream).ok_or_else(|| not_found(&stream))?;
            Ok(serde_json::to_vec(&json!({"StreamDescriptionSummary": {
                "StreamName": stream,
                "StreamARN": format!("arn:aws:kinesis:us-east-1:000000000000:stream/{stream}"),
                "StreamStatus": "ACTIVE",
                "StreamModeDetails": {"StreamMode": "PROVISIONED"},
                "RetentionPeriodHours": 24,
                "StreamCreationTimestamp": s.created,
                "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
                "EncryptionType": "NONE",
                "OpenShardCount": s.shards.len(),
                "ConsumerCount": 0,
            }}))
            .unwrap())
        }
        "ListShards" => {
            let input: InStream = serde_json::from_slice(body).map_err(|e| invalid(e.to_string()))?;
            let stream = input.stream.ok_or_else(|| invalid("StreamName is required"))?;
            let state = state.lock().unwrap();
            let s = state.streams.get(&stream).ok_or_else(|| not_found(&stream))?;
            let n = s.shards.len() as u128;
            let width = u128::MAX / n;
            let shards: Vec<_> = (0..n)
                .map(|i| {
                    let end = if i + 1 == n { u128::MAX } else { (i + 1) * width - 1 };
                    json!({
                        "ShardId": format!("shardId-{i:012}"),
                        "HashKeyRange": {"StartingHashKey": (i * width).to_string(), "EndingHashKey": end.to_string()},
                        "SequenceNumberRange": {"StartingSequenceNumber": format!("{:056}", 0)},
                    })
                })
                .collect();
            Ok(serde_json::to_vec(&json!({"Shards": shards})).unwrap())
        }
        "ListStreams" => {
            let state = state.lock().unwrap();
            let names: Vec<&String> = state.streams.keys().collect();
            Ok(serde_json::to_vec(&json!({"StreamNames": names, "HasMoreStreams": false})).unwrap())
        }
        _ => Err(("UnknownOperationException", String::new())),
    }
}

/// A GetRecords answer with `n` synthetic records of `size` bytes from `position`; each record's
/// data is encoded on its own, as a server reading from storage must. Written by hand (no
/// formatting machinery) so that it is a fair ceiling for a serialiser on this machine.
pub fn get_records_body(stream: &str, shard: usize, position: u64, n: u64, size: usize) -> Vec<u8> {
    let data = vec![b'x'; size];
    let now = format!("{:.3}", now_seconds());
    let mut out = Vec::with_capacity(64 + n as usize * (size * 4 / 3 + 150));
    out.extend_from_slice(b"{\"Records\":[");
    let mut digits = [b'0'; 56];
    for i in 0..n {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"SequenceNumber\":\"");
        out.extend_from_slice(zero_padded(&mut digits, position + i));
        out.extend_from_slice(b"\",\"ApproximateArrivalTimestamp\":");
        out.extend_from_slice(now.as_bytes());
        out.extend_from_slice(b",\"PartitionKey\":\"k");
        let key = zero_padded(&mut digits, position + i);
        let first = key.iter().position(|&d| d != b'0').unwrap_or(key.len() - 1);
        out.extend_from_slice(&key[first..]);
        out.extend_from_slice(b"\",\"Data\":\"");
        base64_simd::STANDARD.encode_append(&data, &mut out);
        out.extend_from_slice(b"\"}");
    }
    write!(out, "],\"NextShardIterator\":\"{stream}|{shard}|{}\",\"MillisBehindLatest\":0}}", position + n)
        .unwrap();
    out
}

/// `value` as decimal digits, zero-padded to the buffer's width.
fn zero_padded(buffer: &mut [u8; 56], mut value: u64) -> &[u8] {
    buffer.fill(b'0');
    for slot in buffer.iter_mut().rev() {
        if value == 0 {
            break;
        }
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
    &buffer[..]
}

fn decode(data: &str) -> Result<Vec<u8>, (&'static str, String)> {
    base64_simd::STANDARD
        .decode_to_vec(data.as_bytes())
        .map_err(|_| ("SerializationException", "Data is not valid base64".to_owned()))
}

fn route(key: &str, explicit: Option<&str>) -> u128 {
    match explicit.and_then(|h| h.parse::<u128>().ok()) {
        Some(hash) => hash,
        None => u128::from_be_bytes(Md5::digest(key.as_bytes()).into()),
    }
}

fn shard_of(hash: u128, shards: usize) -> usize {
    ((hash / (u128::MAX / shards as u128)) as usize).min(shards - 1)
}

fn now_seconds() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}
