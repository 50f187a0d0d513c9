//! Workload 3: drain a stream of N records from TRIM_HORIZON, one reader per shard, GetRecords
//! with the largest limit (10,000). The stream is filled once per target (raw PutRecords); every
//! round and client mode drains it again from the start. The drain rate is also reported as a
//! fraction of what one core of this machine can serialise into GetRecords answers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_kinesis::types::ShardIteratorType;

use super::calls::count_error;
use super::client::{Client, Mode};
use super::load::LoopResult;
use super::procfs;

/// Records per shard after a fill.
pub type ShardCounts = HashMap<String, u64>;

/// Puts `total` records of `record_bytes` into `stream` with 8 PutRecords of 500 in flight, or
/// as many as the endpoint takes before `deadline` (the counts say how many landed where).
pub async fn fill(
    client: &Client,
    stream: &str,
    total: u64,
    record_bytes: usize,
    deadline: Instant,
) -> Result<ShardCounts, String> {
    let client = Arc::new(client.with_mode(Mode::Raw));
    let batches: Arc<Vec<_>> = Arc::new(
        (0..16).map(|_| client.prepare_batch(stream, &super::random_entries(500, record_bytes))).collect(),
    );
    let remaining = Arc::new(std::sync::atomic::AtomicI64::new(total as i64));
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let (client, batches, remaining, stream) =
            (client.clone(), batches.clone(), remaining.clone(), stream.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut counts = ShardCounts::new();
            let mut failures = 0u32;
            let mut n = worker;
            // Batches are re-signed now and then: a fill of a slow peer can outlast a signature.
            let mut signed_at = Instant::now();
            let mut batches = batches;
            while Instant::now() < deadline
                && remaining.fetch_sub(500, std::sync::atomic::Ordering::Relaxed) > 0
            {
                if signed_at.elapsed() > Duration::from_secs(120) {
                    batches = Arc::new(
                        (0..4)
                            .map(|_| client.prepare_batch(&stream, &super::random_entries(500, record_bytes)))
                            .collect(),
                    );
                    signed_at = Instant::now();
                }
                let batch = &batches[n % batches.len()];
                n += 8;
                match client.put_batch(&stream, batch, true).await {
                    Ok(out) => {
                        for shard in out.shards {
                            *counts.entry(shard).or_default() += 1;
                        }
                        if out.failed > 0 {
                            remaining.fetch_add(out.failed as i64, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                    Err(err) => {
                        remaining.fetch_add(500, std::sync::atomic::Ordering::Relaxed);
                        failures += 1;
                        if failures > 1000 {
                            return Err(format!("filling {stream}: too many errors, last {err}"));
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
            Ok(counts)
        }));
    }
    let mut counts = ShardCounts::new();
    for task in tasks {
        for (shard, n) in task.await.map_err(|e| e.to_string())?? {
            *counts.entry(shard).or_default() += n;
        }
    }
    Ok(counts)
}

/// Reads every shard from TRIM_HORIZON until it has the records the fill put there (or the
/// endpoint says it is caught up).
pub async fn drain(client: &Client, stream: &str, counts: &ShardCounts, pid: Option<u32>) -> LoopResult {
    let cpu_before = pid.and_then(procfs::cpu_seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (shard, &expected) in counts {
        let (client, stream, shard) = (client.clone(), stream.to_owned(), shard.clone());
        tasks.push(tokio::spawn(async move {
            let mut result = LoopResult::default();
            let mut iterator =
                match client.shard_iterator(&stream, &shard, ShardIteratorType::TrimHorizon).await {
                    Ok(it) => it,
                    Err(err) => {
                        count_error(&mut result.errors, &err);
                        return result;
                    }
                };
            let mut failures = 0;
            while result.records < expected {
                let sent = Instant::now();
                match client.get_records(&iterator, 10_000, false).await {
                    Ok(page) => {
                        result.latencies_us.push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
                        result.requests += 1;
                        result.records += page.records;
                        result.bytes += page.bytes;
                        let caught_up = page.records == 0 && page.millis_behind == 0;
                        match page.next_iterator {
                            Some(next) if !caught_up => iterator = next,
                            _ => break,
                        }
                    }
                    Err(err) => {
                        count_error(&mut result.errors, &err);
                        failures += 1;
                        if failures > 100 {
                            break;
                        }
                        // Throttled (peers enforce 5 reads/s per shard) or failing: back off.
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
            result
        }));
    }
    let mut total = LoopResult::default();
    for task in tasks {
        let r = task.await.expect("a drain reader panicked");
        total.records += r.records;
        total.bytes += r.bytes;
        total.requests += r.requests;
        total.latencies_us.extend(r.latencies_us);
        for (code, n) in r.errors {
            *total.errors.entry(code).or_default() += n;
        }
    }
    total.seconds = started.elapsed().as_secs_f64();
    total.server_cpu_s = match (cpu_before, pid.and_then(procfs::cpu_seconds)) {
        (Some(before), Some(after)) => Some(after - before),
        _ => None,
    };
    total
}

/// Records per second that one core serialises into GetRecords answers (10,000 records of
/// `record_bytes` per answer, the baseline's encoder), measured for about `seconds`.
pub fn serialise_ceiling(record_bytes: usize, seconds: f64) -> f64 {
    let started = Instant::now();
    let mut records = 0u64;
    let mut sink = 0usize;
    while started.elapsed().as_secs_f64() < seconds || records == 0 {
        let body = super::baseline::get_records_body("bench-drain", 0, records, 10_000, record_bytes);
        sink = sink.wrapping_add(body.len());
        records += 10_000;
    }
    std::hint::black_box(sink);
    records as f64 / started.elapsed().as_secs_f64()
}
