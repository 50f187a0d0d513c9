//! kinesin's own `AWS/Kinesis` metrics in its CloudWatch store (`docs/metrics.md`, "In
//! CloudWatch"): every `--metrics-publish-seconds` (a minute by default), each stream's figures
//! since the last time become datapoints under the stream's account and region, so that
//! `aws cloudwatch get-metric-statistics --namespace AWS/Kinesis` and Grafana's CloudWatch data
//! source read them from kinesin as from AWS.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use kinesin_cloudwatch::{Dimension, MetricDatum, MetricId, MetricStore, Sample, Unit};
use kinesin_engine::stream_metrics::{value, CallFigures, Distribution, ShardFigures, StreamMetrics};
use kinesin_engine::StreamFigures;

const NAMESPACE: &str = "AWS/Kinesis";

/// Which total of a metric a remembered value is.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Part {
    /// A counter's value.
    Total,
    /// A distribution's count and sum.
    Count,
    Sum,
}

/// What was last published of one stream or shard: each metric's totals.
type Published = HashMap<(&'static str, Part), u64>;

/// The totals last published, per stream and shard, so that each period publishes differences.
#[derive(Default)]
pub struct Publisher {
    last: HashMap<(String, String, String, Option<u32>), Published>,
}

/// One period's datums of one stream or shard, built from the growth of its totals.
struct Period<'a> {
    last: &'a mut Published,
    dimensions: Vec<Dimension>,
    timestamp: i64,
    resolution: u32,
    data: Vec<MetricDatum>,
}

impl Period<'_> {
    /// How much a total grew since the last period.
    fn growth(&mut self, name: &'static str, part: Part, total: u64) -> u64 {
        let before = self.last.insert((name, part), total).unwrap_or(0);
        total.saturating_sub(before)
    }

    fn counter_growth(&mut self, name: &'static str, counter: &AtomicU64) -> u64 {
        self.growth(name, Part::Total, value(counter))
    }

    fn push(&mut self, name: &str, unit: Unit, sample: Sample) {
        self.data.push(MetricDatum {
            metric: MetricId::new(NAMESPACE, name, self.dimensions.clone()),
            timestamp: Some(self.timestamp),
            sample,
            unit,
            storage_resolution: self.resolution,
        });
    }

    /// A sum over the period (bytes, records, throttles), published when `active`.
    fn sum(&mut self, name: &'static str, unit: Unit, counter: &AtomicU64, active: bool) {
        let growth = self.counter_growth(name, counter);
        if active || growth > 0 {
            self.push(name, unit, Sample::Value(growth as f64));
        }
    }

    /// A distribution's period: count, sum, least and greatest. Returns the count.
    fn distribution(&mut self, name: &'static str, unit: Unit, figures: &Distribution) -> u64 {
        let (count, sum) = figures.totals();
        let calls = self.growth(name, Part::Count, count);
        let sum_growth = self.growth(name, Part::Sum, sum);
        // Taken whatever the count, so that a period's extremes never leak into the next.
        let extremes = figures.take_extremes();
        if let (true, Some((least, greatest))) = (calls > 0, extremes) {
            let sample = Sample::Statistics {
                sample_count: calls as f64,
                sum: sum_growth as f64,
                minimum: least as f64,
                maximum: greatest as f64,
            };
            self.push(name, unit, sample);
        }
        calls
    }

    /// An operation's Success: the share of its calls that succeeded, as a statistic set of 1s
    /// and 0s.
    fn success(&mut self, name: &'static str, calls: u64, successes: &AtomicU64) {
        let succeeded = self.counter_growth(name, successes);
        if calls > 0 {
            let sample = Sample::Statistics {
                sample_count: calls as f64,
                sum: succeeded as f64,
                minimum: if succeeded < calls { 0.0 } else { 1.0 },
                maximum: if succeeded > 0 { 1.0 } else { 0.0 },
            };
            self.push(name, Unit::COUNT, sample);
        }
    }

    /// PutRecord, GetRecords, ...: Latency (every call), Success, Bytes and Records.
    fn call(&mut self, prefix: Prefix, figures: &CallFigures, records: Option<&'static str>) -> bool {
        let calls = self.distribution(prefix.latency, Unit::MILLISECONDS, &figures.latency_ms);
        self.success(prefix.success, calls, &figures.successes);
        self.sum(prefix.bytes, Unit::BYTES, &figures.bytes, calls > 0);
        if let Some(records) = records {
            self.sum(records, Unit::COUNT, &figures.records, calls > 0);
        }
        calls > 0
    }
}

#[derive(Clone, Copy)]
struct Prefix {
    latency: &'static str,
    success: &'static str,
    bytes: &'static str,
}

impl Publisher {
    /// The datums of the period ending now, per (account, region).
    pub fn collect(
        &mut self,
        streams: &[StreamFigures],
        timestamp: i64,
        resolution: u32,
    ) -> Vec<((String, String), Vec<MetricDatum>)> {
        let mut out = Vec::new();
        for stream in streams {
            let scope = (stream.account.clone(), stream.region.clone());
            let key = (stream.account.clone(), stream.region.clone(), stream.stream.clone(), None);
            let mut period = Period {
                last: self.last.entry(key).or_default(),
                dimensions: vec![Dimension { name: "StreamName".into(), value: stream.stream.clone() }],
                timestamp,
                resolution,
                data: Vec::new(),
            };
            stream_period(&mut period, &stream.metrics);
            let mut data = period.data;
            if !stream.shard_level_metrics.is_empty() {
                for (index, figures) in stream.metrics.shards() {
                    let key =
                        (stream.account.clone(), stream.region.clone(), stream.stream.clone(), Some(index));
                    let mut period = Period {
                        last: self.last.entry(key).or_default(),
                        dimensions: vec![
                            Dimension { name: "StreamName".into(), value: stream.stream.clone() },
                            Dimension { name: "ShardId".into(), value: format!("shardId-{index:012}") },
                        ],
                        timestamp,
                        resolution,
                        data: Vec::new(),
                    };
                    shard_period(&mut period, &figures);
                    let enabled = &stream.shard_level_metrics;
                    let all = enabled.iter().any(|name| name == "ALL");
                    data.extend(
                        period.data.into_iter().filter(|d| all || enabled.contains(&d.metric.metric_name)),
                    );
                }
            }
            if !data.is_empty() {
                out.push((scope, data));
            }
        }
        out
    }
}

fn stream_period(period: &mut Period, metrics: &StreamMetrics) {
    let put_record =
        Prefix { latency: "PutRecord.Latency", success: "PutRecord.Success", bytes: "PutRecord.Bytes" };
    let put_records =
        Prefix { latency: "PutRecords.Latency", success: "PutRecords.Success", bytes: "PutRecords.Bytes" };
    let get_records =
        Prefix { latency: "GetRecords.Latency", success: "GetRecords.Success", bytes: "GetRecords.Bytes" };
    let wrote_one = period.call(put_record, &metrics.put_record, None);
    let wrote_many = period.call(put_records, &metrics.put_records, Some("PutRecords.Records"));
    let wrote = wrote_one || wrote_many;
    period.sum("PutRecords.TotalRecords", Unit::COUNT, &metrics.put_records_total_records, wrote_many);
    period.sum(
        "PutRecords.ThrottledRecords",
        Unit::COUNT,
        &metrics.put_records_throttled_records,
        wrote_many,
    );
    period.sum("PutRecords.FailedRecords", Unit::COUNT, &metrics.put_records_failed_records, wrote_many);
    period.sum("IncomingBytes", Unit::BYTES, &metrics.incoming_bytes, wrote);
    period.sum("IncomingRecords", Unit::COUNT, &metrics.incoming_records, wrote);
    period.sum("WriteProvisionedThroughputExceeded", Unit::COUNT, &metrics.write_throttled, wrote);
    let read = period.call(get_records, &metrics.get_records, Some("GetRecords.Records"));
    period.distribution("GetRecords.IteratorAgeMilliseconds", Unit::MILLISECONDS, &metrics.iterator_age_ms);
    period.sum("ReadProvisionedThroughputExceeded", Unit::COUNT, &metrics.read_throttled, read);
    period.sum("SubscribeToShard.RateExceeded", Unit::COUNT, &metrics.subscribe_rate_exceeded, false);
    let events = period.counter_growth("SubscribeToShardEvent.Success", &metrics.subscribe_events.successes);
    if events > 0 {
        let all_succeeded = Sample::Statistics {
            sample_count: events as f64,
            sum: events as f64,
            minimum: 1.0,
            maximum: 1.0,
        };
        period.push("SubscribeToShardEvent.Success", Unit::COUNT, all_succeeded);
    }
    let pushed = events > 0;
    period.sum("SubscribeToShardEvent.Records", Unit::COUNT, &metrics.subscribe_events.records, pushed);
    period.sum("SubscribeToShardEvent.Bytes", Unit::BYTES, &metrics.subscribe_events.bytes, pushed);
    period.distribution(
        "SubscribeToShardEvent.MillisBehindLatest",
        Unit::MILLISECONDS,
        &metrics.subscribe_millis_behind,
    );
}

fn shard_period(period: &mut Period, figures: &ShardFigures) {
    period.sum("IncomingBytes", Unit::BYTES, &figures.incoming_bytes, false);
    period.sum("IncomingRecords", Unit::COUNT, &figures.incoming_records, false);
    period.sum("OutgoingBytes", Unit::BYTES, &figures.outgoing_bytes, false);
    period.sum("OutgoingRecords", Unit::COUNT, &figures.outgoing_records, false);
    period.distribution("IteratorAgeMilliseconds", Unit::MILLISECONDS, &figures.iterator_age_ms);
    period.sum("ReadProvisionedThroughputExceeded", Unit::COUNT, &figures.read_throttled, false);
    period.sum("WriteProvisionedThroughputExceeded", Unit::COUNT, &figures.write_throttled, false);
}

/// Publishes every `interval` until the process ends. `figures` reads the engine's streams.
pub async fn run(
    store: Arc<MetricStore>,
    interval: Duration,
    figures: impl Fn() -> Vec<StreamFigures> + Send + 'static,
) {
    let mut publisher = Publisher::default();
    let resolution = if interval < Duration::from_secs(60) { 1 } else { 60 };
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let now = now_ms();
        // The period ends now: its datapoint is stamped at its start.
        let timestamp = now - interval.as_millis() as i64;
        for ((account, region), data) in publisher.collect(&figures(), timestamp, resolution) {
            if let Err(full) = store.put(&account, &region, &data, now) {
                tracing::warn!(
                    ?full,
                    "the CloudWatch store is full: kinesin's own AWS/Kinesis metrics were dropped"
                );
            }
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;

    fn stream(shard_level: &[&str]) -> StreamFigures {
        StreamFigures {
            stream_id: 1,
            account: "111111111111".into(),
            region: "eu-west-1".into(),
            stream: "orders".into(),
            shard_level_metrics: shard_level.iter().map(|s| s.to_string()).collect(),
            metrics: Arc::default(),
            subscriptions: 0,
        }
    }

    fn find<'a>(data: &'a [MetricDatum], name: &str) -> Option<&'a MetricDatum> {
        data.iter().find(|d| d.metric.metric_name == name && d.metric.dimensions.len() == 1)
    }

    #[test]
    fn each_period_publishes_what_grew_in_it() {
        let figures = stream(&[]);
        let metrics = &figures.metrics;
        metrics.put_records.record(Some((3, 30)), Duration::from_millis(4));
        metrics.put_records.record(None, Duration::from_millis(2));
        metrics.incoming_records.fetch_add(3, Ordering::Relaxed);
        let mut publisher = Publisher::default();
        let published = publisher.collect(std::slice::from_ref(&figures), 1_000, 60);
        let ((account, region), data) = &published[0];
        assert_eq!((account.as_str(), region.as_str()), ("111111111111", "eu-west-1"));
        assert_eq!(find(data, "IncomingRecords").unwrap().sample, Sample::Value(3.0));
        assert_eq!(
            find(data, "PutRecords.Latency").unwrap().sample,
            Sample::Statistics { sample_count: 2.0, sum: 6.0, minimum: 2.0, maximum: 4.0 }
        );
        assert_eq!(
            find(data, "PutRecords.Success").unwrap().sample,
            Sample::Statistics { sample_count: 2.0, sum: 1.0, minimum: 0.0, maximum: 1.0 }
        );
        let datum = find(data, "PutRecords.Bytes").unwrap();
        assert_eq!((datum.timestamp, datum.storage_resolution, datum.unit), (Some(1_000), 60, Unit::BYTES));
        assert_eq!(datum.metric.dimensions[0].value, "orders");
        assert!(find(data, "GetRecords.Latency").is_none(), "no reads, no read metrics");

        // A quiet period publishes nothing; the next busy one only its own growth.
        assert!(publisher.collect(std::slice::from_ref(&figures), 2_000, 60).is_empty());
        metrics.put_records.record(Some((1, 5)), Duration::from_millis(9));
        metrics.incoming_records.fetch_add(1, Ordering::Relaxed);
        let published = publisher.collect(std::slice::from_ref(&figures), 3_000, 60);
        let data = &published[0].1;
        assert_eq!(find(data, "IncomingRecords").unwrap().sample, Sample::Value(1.0));
        assert_eq!(
            find(data, "PutRecords.Latency").unwrap().sample,
            Sample::Statistics { sample_count: 1.0, sum: 9.0, minimum: 9.0, maximum: 9.0 }
        );
    }

    #[test]
    fn shards_publish_only_the_metrics_enhanced_monitoring_asked_for() {
        let figures = stream(&["IncomingBytes"]);
        figures.metrics.shard(3).incoming_bytes.fetch_add(7, Ordering::Relaxed);
        figures.metrics.shard(3).outgoing_bytes.fetch_add(7, Ordering::Relaxed);
        let published = Publisher::default().collect(std::slice::from_ref(&figures), 0, 60);
        let shard_data: Vec<_> = published[0].1.iter().filter(|d| d.metric.dimensions.len() == 2).collect();
        assert_eq!(shard_data.len(), 1, "{shard_data:?}");
        assert_eq!(shard_data[0].metric.metric_name, "IncomingBytes");
        assert_eq!(shard_data[0].metric.dimensions[0].value, "shardId-000000000003");
        assert_eq!(shard_data[0].sample, Sample::Value(7.0));
    }
}
