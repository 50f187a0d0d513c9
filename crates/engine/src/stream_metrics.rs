//! What each stream (and, with enhanced monitoring, each shard) took in and gave out: the
//! figures behind CloudWatch's `AWS/Kinesis` metrics and their Prometheus form
//! (`docs/metrics.md`). Recording is a few relaxed atomic additions per request; a shard's own
//! figures are kept only for streams with shard-level metrics enabled.
//!
//! Counters only grow; readers (a scrape, the once-a-minute CloudWatch publisher) take
//! differences. Only the least and greatest value of a [`Distribution`] are reset, by the one
//! reader that publishes them per period.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A value's running figures: how many, their sum, the latest, and the least and greatest since
/// [`Distribution::take_extremes`] last ran.
#[derive(Debug)]
pub struct Distribution {
    count: AtomicU64,
    sum: AtomicU64,
    latest: AtomicU64,
    least: AtomicU64,
    greatest: AtomicU64,
}

impl Default for Distribution {
    fn default() -> Distribution {
        Distribution {
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
            latest: AtomicU64::new(0),
            least: AtomicU64::new(u64::MAX),
            greatest: AtomicU64::new(0),
        }
    }
}

impl Distribution {
    pub fn record(&self, value: u64) {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(value, Ordering::Relaxed);
        self.latest.store(value, Ordering::Relaxed);
        self.least.fetch_min(value, Ordering::Relaxed);
        self.greatest.fetch_max(value, Ordering::Relaxed);
    }

    /// How many values, and their sum, since start-up.
    pub fn totals(&self) -> (u64, u64) {
        (self.count.load(Ordering::Relaxed), self.sum.load(Ordering::Relaxed))
    }

    /// The most recent value (0 before any).
    pub fn latest(&self) -> u64 {
        self.latest.load(Ordering::Relaxed)
    }

    /// The least and greatest value since the last call, and starts over; `None` if there was
    /// none.
    pub fn take_extremes(&self) -> Option<(u64, u64)> {
        let least = self.least.swap(u64::MAX, Ordering::Relaxed);
        let greatest = self.greatest.swap(0, Ordering::Relaxed);
        (least != u64::MAX).then_some((least, greatest))
    }
}

/// One data-plane operation on a stream: its calls, how many succeeded, the records and bytes
/// they carried, and their latency in milliseconds.
#[derive(Debug, Default)]
pub struct CallFigures {
    pub successes: AtomicU64,
    pub records: AtomicU64,
    pub bytes: AtomicU64,
    /// Every call's latency; its count is the number of calls.
    pub latency_ms: Distribution,
}

impl CallFigures {
    /// One call: `Some((records, bytes))` when it succeeded.
    pub fn record(&self, outcome: Option<(u64, u64)>, elapsed: Duration) {
        if let Some((records, bytes)) = outcome {
            self.successes.fetch_add(1, Ordering::Relaxed);
            self.records.fetch_add(records, Ordering::Relaxed);
            self.bytes.fetch_add(bytes, Ordering::Relaxed);
        }
        self.latency_ms.record(elapsed.as_millis() as u64);
    }

    pub fn calls(&self) -> u64 {
        self.latency_ms.totals().0
    }
}

/// The shard-level figures of enhanced monitoring.
#[derive(Debug, Default)]
pub struct ShardFigures {
    pub incoming_records: AtomicU64,
    pub incoming_bytes: AtomicU64,
    pub outgoing_records: AtomicU64,
    pub outgoing_bytes: AtomicU64,
    pub iterator_age_ms: Distribution,
    pub read_throttled: AtomicU64,
    pub write_throttled: AtomicU64,
}

/// A stream's figures since start-up. Shared by every version of the stream's metadata.
#[derive(Debug, Default)]
pub struct StreamMetrics {
    /// Records and bytes (partition keys and data) written, by either put operation.
    pub incoming_records: AtomicU64,
    pub incoming_bytes: AtomicU64,
    pub put_record: CallFigures,
    /// `records` counts the records written; the rest of each request is below.
    pub put_records: CallFigures,
    pub put_records_total_records: AtomicU64,
    pub put_records_failed_records: AtomicU64,
    pub put_records_throttled_records: AtomicU64,
    pub get_records: CallFigures,
    /// The age of the last record each GetRecords call returned (how far behind its reader is).
    pub iterator_age_ms: Distribution,
    /// GetRecords calls refused for the shard's read limits.
    pub read_throttled: AtomicU64,
    /// Records refused for the shard's write limits.
    pub write_throttled: AtomicU64,
    /// SubscribeToShard calls refused because the consumer subscribed to the shard too recently.
    pub subscribe_rate_exceeded: AtomicU64,
    /// Events pushed to fan-out subscribers (`records`, `bytes`; `successes` counts events).
    pub subscribe_events: CallFigures,
    pub subscribe_millis_behind: Distribution,
    shards: Mutex<BTreeMap<u32, Arc<ShardFigures>>>,
}

/// Figures are not settings: two versions of a stream's metadata are equal whatever was
/// recorded in between.
impl PartialEq for StreamMetrics {
    fn eq(&self, _: &StreamMetrics) -> bool {
        true
    }
}

impl StreamMetrics {
    /// The figures of a shard, made on first use. Callers ask only when the stream has
    /// shard-level metrics enabled.
    pub fn shard(&self, index: u32) -> Arc<ShardFigures> {
        let mut shards = self.shards.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        Arc::clone(shards.entry(index).or_default())
    }

    /// Every shard with figures, by index.
    pub fn shards(&self) -> Vec<(u32, Arc<ShardFigures>)> {
        let shards = self.shards.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        shards.iter().map(|(index, figures)| (*index, Arc::clone(figures))).collect()
    }

    pub(crate) fn add(counter: &AtomicU64, amount: u64) {
        counter.fetch_add(amount, Ordering::Relaxed);
    }
}

/// Reads a counter.
pub fn value(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distributions_keep_totals_and_reset_only_their_extremes() {
        let latency = Distribution::default();
        assert_eq!(latency.take_extremes(), None);
        for value in [5, 2, 9] {
            latency.record(value);
        }
        assert_eq!(latency.totals(), (3, 16));
        assert_eq!(latency.latest(), 9);
        assert_eq!(latency.take_extremes(), Some((2, 9)));
        assert_eq!(latency.take_extremes(), None, "extremes start over");
        latency.record(4);
        assert_eq!(latency.take_extremes(), Some((4, 4)));
        assert_eq!(latency.totals(), (4, 20), "totals never reset");
    }

    #[test]
    fn calls_count_failures_but_carry_only_successes() {
        let figures = CallFigures::default();
        figures.record(Some((3, 300)), Duration::from_millis(7));
        figures.record(None, Duration::from_millis(1));
        assert_eq!(figures.calls(), 2);
        assert_eq!(value(&figures.successes), 1);
        assert_eq!((value(&figures.records), value(&figures.bytes)), (3, 300));
    }
}
