//! The consumer side of the latency workloads: what a measurement saw, and the latencies the
//! consumers collect (the producer is in `producer`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::calls::Errors;

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

/// Waits until the consumer has seen `sent` records, or `grace` has passed.
pub async fn settle(collector: &Collector, sent: u64, grace: Duration) {
    let deadline = Instant::now() + grace;
    while collector.received.load(Ordering::Relaxed) < sent && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
