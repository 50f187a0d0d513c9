//! Workload 4: put-to-get latency. One polling consumer per shard reads from LATEST with
//! GetRecords, polling again at once after a non-empty answer and after `poll_ms` after an empty
//! one, while the producer puts at a fixed rate.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_kinesis::types::ShardIteratorType;

use super::calls::{count_error, Errors};
use super::client::Client;
use super::latency::{settle, Collector, LatencyResult};
use super::producer::produce;
use super::Settings;

/// Sleeps `wait` as a thread does (about 1.05 ms for 1 ms here). tokio's timers have a 1 ms
/// resolution and round up, so `tokio::time::sleep(1 ms)` takes close to 2 ms, which would make
/// the poll interval the harness reports half of the one it runs.
async fn sleep_exactly(wait: Duration) {
    let _ = tokio::task::spawn_blocking(move || std::thread::sleep(wait)).await;
}

pub async fn run(
    client: &Client,
    settings: &Settings,
    stream: &str,
    shards: &[String],
    rate: u64,
    epoch: Instant,
) -> LatencyResult {
    let collector = Collector::new(epoch);
    let stop = Arc::new(AtomicBool::new(false));
    let mut consumers = Vec::new();
    let mut errors = Errors::new();
    for shard in shards {
        let iterator = match client.shard_iterator(stream, shard, ShardIteratorType::Latest).await {
            Ok(it) => it,
            Err(err) => {
                count_error(&mut errors, &err);
                continue;
            }
        };
        let (client, collector, stop) = (client.clone(), collector.clone(), stop.clone());
        let poll = Duration::from_millis(settings.poll_ms);
        consumers.push(tokio::spawn(async move {
            let mut errors = Errors::new();
            let mut iterator = iterator;
            while !stop.load(Ordering::Relaxed) {
                match client.get_records(&iterator, 10_000, true).await {
                    Ok(page) => {
                        collector.arrived(&page.stamps);
                        let Some(next) = page.next_iterator else { break };
                        iterator = next;
                        if page.records == 0 {
                            sleep_exactly(poll).await;
                        }
                    }
                    Err(err) => {
                        count_error(&mut errors, &err);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
            errors
        }));
    }
    let (sent, put_errors) =
        produce(client, stream, rate, settings.latency_seconds, settings.record_bytes, epoch).await;
    settle(&collector, sent, Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    for consumer in consumers {
        if let Ok(e) = consumer.await {
            for (code, n) in e {
                *errors.entry(code).or_default() += n;
            }
        }
    }
    for (code, n) in put_errors {
        *errors.entry(code).or_default() += n;
    }
    let latencies_us = collector.take();
    LatencyResult { sent, received: latencies_us.len() as u64, errors, latencies_us }
}
