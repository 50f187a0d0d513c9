//! The producer side of the latency workloads: PutRecord at a fixed rate (open loop: a slow
//! answer does not delay the next record), each record's data starting with the time it was
//! sent, so that a consumer can tell how long the record took to reach it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use serde::Serialize;
use tokio::sync::Semaphore;

use super::client::{count_error, Client, Entry, Errors};

/// What a latency measurement saw.
#[derive(Debug, Default, Clone, Serialize)]
pub struct LatencyResult {
    /// Records acknowledged by the endpoint.
    pub sent: u64,
    /// Of those, records the consumer saw.
    pub received: u64,
    pub errors: Errors,
    /// Put-to-consumer latencies, microseconds.
    #[serde(skip)]
    pub latencies_us: Vec<u32>,
}

/// Collects latencies from consumer tasks.
#[derive(Clone)]
pub struct Collector {
    epoch: Instant,
    latencies: Arc<Mutex<Vec<u32>>>,
    pub received: Arc<AtomicU64>,
}

impl Collector {
    pub fn new(epoch: Instant) -> Collector {
        Collector { epoch, latencies: Arc::default(), received: Arc::default() }
    }

    /// Records the arrival now of a record stamped `stamp` (nanoseconds since the epoch).
    pub fn arrived(&self, stamps: &[u64]) {
        let now = self.epoch.elapsed().as_nanos() as u64;
        let mut latencies = self.latencies.lock().unwrap();
        for &stamp in stamps {
            if stamp == 0 || stamp > now {
                continue; // not one of ours
            }
            latencies.push(((now - stamp) / 1000).min(u32::MAX as u64) as u32);
            self.received.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn take(&self) -> Vec<u32> {
        std::mem::take(&mut *self.latencies.lock().unwrap())
    }
}

/// Sends `rate` records per second for `seconds` (fewer if the endpoint cannot keep up); answers
/// records acknowledged and errors.
pub async fn produce(
    client: &Client,
    stream: &str,
    rate: u64,
    seconds: f64,
    record_bytes: usize,
    epoch: Instant,
) -> (u64, Errors) {
    let permits = Arc::new(Semaphore::new(512));
    let acked = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(Mutex::new(Errors::new()));
    let started = Instant::now();
    let total = (rate as f64 * seconds).round() as u64;
    // An endpoint slower than the rate gets fewer records, not a longer run.
    let deadline = started + Duration::from_secs_f64(seconds);
    let mut sent = 0u64;
    let mut ticks = tokio::time::interval(Duration::from_millis(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tasks = tokio::task::JoinSet::new();
    while sent < total && Instant::now() < deadline {
        ticks.tick().await;
        let due = ((started.elapsed().as_secs_f64() * rate as f64) as u64).min(total);
        while sent < due && Instant::now() < deadline {
            sent += 1;
            let Ok(Ok(permit)) =
                tokio::time::timeout_at(deadline.into(), permits.clone().acquire_owned()).await
            else {
                break;
            };
            let (client, stream, acked, errors) =
                (client.clone(), stream.to_owned(), acked.clone(), errors.clone());
            tasks.spawn(async move {
                let mut data = vec![0u8; record_bytes.max(8)];
                rand::thread_rng().fill(&mut data[8..]);
                let key = format!("{:016x}", rand::random::<u64>());
                let stamp = epoch.elapsed().as_nanos() as u64;
                data[..8].copy_from_slice(&stamp.to_le_bytes());
                match client.put_record(&stream, &Entry { key, data: data.into() }).await {
                    Ok(()) => {
                        acked.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(err) => count_error(&mut errors.lock().unwrap(), &err),
                }
                drop(permit);
            });
        }
        while tasks.try_join_next().is_some() {}
    }
    // Puts still in flight get 10 s more; then they are abandoned (and count as not acked).
    let _ =
        tokio::time::timeout(Duration::from_secs(10), async { while tasks.join_next().await.is_some() {} })
            .await;
    tasks.abort_all();
    let errors = std::mem::take(&mut *errors.lock().unwrap());
    (acked.load(Ordering::Relaxed), errors)
}

/// Waits until the consumer has seen `sent` records, or `grace` has passed.
pub async fn settle(collector: &Collector, sent: u64, grace: Duration) {
    let deadline = Instant::now() + grace;
    while collector.received.load(Ordering::Relaxed) < sent && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
