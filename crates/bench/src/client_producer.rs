//! Workload `producer` (issue 16): records/s through kinesin-client's producer, aggregated and
//! not, with the records of the `put-records` workload (same sizes, random partition keys), so
//! that its rows read against raw PutRecords in the same run.
//!
//! A closed loop per request, as `put-records` runs, would wait out the producer's linger at the
//! end of every batch and measure the linger; here `in_flight` feeders hand records to the
//! producer as fast as its bounded buffer takes them (its back-pressure sets the pace), and the
//! acknowledgements that arrive inside the window are counted: a KPL user's sustained rate.

use std::time::{Duration, Instant};

use kinesin_client::{Delivery, Producer};
use tokio::sync::mpsc;

use super::calls::{count_error, CallError, Entry};
use super::client::Client;
use super::load::{server_cpu_between, LoopResult};
use super::Settings;

/// Deliveries a feeder may have waiting to be counted (the producer's buffer bounds them too).
const DELIVERIES_QUEUED: usize = 100_000;

pub async fn run(
    client: &Client,
    settings: &Settings,
    stream: &str,
    record_bytes: usize,
    aggregate: bool,
    pid: Option<u32>,
) -> LoopResult {
    let producer = match Producer::builder(client.sdk.clone(), stream).aggregation(aggregate).build().await {
        Ok(producer) => producer,
        Err(err) => return failed(&call_error(&err)),
    };
    let start = Instant::now();
    let window_start = start + Duration::from_secs_f64(settings.warmup);
    let window_end = window_start + Duration::from_secs_f64(settings.seconds);
    let cpu = server_cpu_between(pid, window_start, window_end);
    let mut counters = Vec::new();
    for _ in 0..settings.in_flight {
        let entries = super::random_entries(settings.batch * 2, record_bytes);
        let (deliveries, queued) = mpsc::channel(DELIVERIES_QUEUED);
        tokio::spawn(feed(producer.clone(), entries, deliveries, window_end));
        counters.push(tokio::spawn(count(queued, window_start, window_end)));
    }
    let mut total =
        LoopResult { seconds: window_end.duration_since(window_start).as_secs_f64(), ..Default::default() };
    for counter in counters {
        let r = counter.await.expect("a delivery counter panicked");
        total.records += r.records;
        for (code, n) in r.errors {
            *total.errors.entry(code).or_default() += n;
        }
    }
    total.bytes = total.records * record_bytes as u64;
    total.server_cpu_s = cpu.await.ok().flatten();
    // What is still buffered is settled before the next measurement starts.
    let _ = tokio::time::timeout(Duration::from_secs(30), producer.close()).await;
    total
}

/// Puts the entries round and round until `end`, handing each record's delivery to the counter.
async fn feed(producer: Producer, entries: Vec<Entry>, deliveries: mpsc::Sender<Delivery>, end: Instant) {
    for entry in entries.iter().cycle() {
        if Instant::now() >= end {
            return;
        }
        let Ok(delivery) = producer.put(entry.key.clone(), entry.data.clone()).await else { return };
        if deliveries.send(delivery).await.is_err() {
            return;
        }
    }
}

/// Counts the records acknowledged within [`start`, `end`]. Not the records *accepted* in the
/// window: behind the producer's buffer (64 MiB by default, over half a million records of
/// 100 B) a record accepted now is put seconds later, beyond a short window.
async fn count(mut queued: mpsc::Receiver<Delivery>, start: Instant, end: Instant) -> LoopResult {
    let mut result = LoopResult::default();
    while let Some(delivery) = queued.recv().await {
        let outcome = tokio::time::timeout_at(end.into(), delivery).await;
        if Instant::now() < start {
            continue;
        }
        match outcome {
            Ok(Ok(_)) => result.records += 1,
            Ok(Err(err)) => count_error(&mut result.errors, &call_error(&err)),
            // Not acknowledged within the window: neither counted nor an error.
            Err(_) => {}
        }
    }
    result
}

/// The error code Kinesis gave, or what the producer says went wrong.
fn call_error(err: &kinesin_client::Error) -> CallError {
    match err {
        kinesin_client::Error::Rejected { code, message } => CallError::new(code.clone(), message.clone()),
        kinesin_client::Error::Expired { .. } => CallError::new("expired", err.to_string()),
        _ => CallError::new("producer", err.to_string()),
    }
}

fn failed(err: &CallError) -> LoopResult {
    let mut result = LoopResult::default();
    count_error(&mut result.errors, err);
    result
}
