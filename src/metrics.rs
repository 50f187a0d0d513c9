//! `GET /metrics` on the admin port: the server's figures in the Prometheus text format
//! (`docs/metrics.md`). Requests by operation and open connections come from the front door
//! ([`RequestMetrics`]); each stream's figures (CloudWatch's `AWS/Kinesis` metrics, named
//! `kinesin_` + the CloudWatch name in snake case, and its subscriptions) from the engine
//! ([`StreamFigures`]); group commits and syncs from the store ([`CommitMetrics`]). All are
//! read only when scraped, as are each stream's bytes on disk and the process's memory.

use std::collections::HashMap;
use std::fmt::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};

use kinesin_engine::stream_metrics::{value, CallFigures, Distribution, ShardFigures, StreamMetrics};
use kinesin_engine::StreamFigures;
use kinesin_server::RequestMetrics;
use kinesin_store_local::{stream_disk_bytes, CommitMetrics};

type FiguresSource = Box<dyn Fn() -> Vec<StreamFigures> + Send + Sync>;

/// How a series reads its figures.
enum Reading<T> {
    /// A counter (`_total`).
    Counter(fn(&T) -> &AtomicU64),
    /// A summary's `_sum` and `_count` (milliseconds).
    Summary(fn(&T) -> &Distribution),
    /// A gauge: the latest value.
    Latest(fn(&T) -> &Distribution),
}

/// A series: its name, its help text, and how to read it.
type Series<T> = (&'static str, &'static str, Reading<T>);

fn calls(figures: &CallFigures) -> &Distribution {
    &figures.latency_ms
}

const STREAM_SERIES: &[Series<StreamMetrics>] = &[
    ("kinesin_incoming_records_total", "Records written to the stream (IncomingRecords).", Reading::Counter(|m| &m.incoming_records)),
    ("kinesin_incoming_bytes_total", "Bytes (partition keys and data) written to the stream (IncomingBytes).", Reading::Counter(|m| &m.incoming_bytes)),
    ("kinesin_put_record_bytes_total", "Bytes written by PutRecord (PutRecord.Bytes).", Reading::Counter(|m| &m.put_record.bytes)),
    ("kinesin_put_record_success_total", "PutRecord calls that succeeded (PutRecord.Success).", Reading::Counter(|m| &m.put_record.successes)),
    ("kinesin_put_record_latency_milliseconds", "PutRecord latency (PutRecord.Latency); _count is every call.", Reading::Summary(|m| calls(&m.put_record))),
    ("kinesin_put_records_bytes_total", "Bytes written by PutRecords (PutRecords.Bytes).", Reading::Counter(|m| &m.put_records.bytes)),
    ("kinesin_put_records_success_total", "PutRecords calls that were accepted (PutRecords.Success).", Reading::Counter(|m| &m.put_records.successes)),
    ("kinesin_put_records_latency_milliseconds", "PutRecords latency (PutRecords.Latency); _count is every call.", Reading::Summary(|m| calls(&m.put_records))),
    ("kinesin_put_records_records_total", "Records PutRecords wrote (PutRecords.Records).", Reading::Counter(|m| &m.put_records.records)),
    ("kinesin_put_records_total_records_total", "Records PutRecords was sent (PutRecords.TotalRecords).", Reading::Counter(|m| &m.put_records_total_records)),
    ("kinesin_put_records_throttled_records_total", "Records PutRecords refused for the shard's limits (PutRecords.ThrottledRecords).", Reading::Counter(|m| &m.put_records_throttled_records)),
    ("kinesin_put_records_failed_records_total", "Records PutRecords failed inside (PutRecords.FailedRecords).", Reading::Counter(|m| &m.put_records_failed_records)),
    ("kinesin_get_records_bytes_total", "Bytes GetRecords returned (GetRecords.Bytes).", Reading::Counter(|m| &m.get_records.bytes)),
    ("kinesin_get_records_records_total", "Records GetRecords returned (GetRecords.Records).", Reading::Counter(|m| &m.get_records.records)),
    ("kinesin_get_records_success_total", "GetRecords calls that succeeded (GetRecords.Success).", Reading::Counter(|m| &m.get_records.successes)),
    ("kinesin_get_records_latency_milliseconds", "GetRecords latency (GetRecords.Latency); _count is every call.", Reading::Summary(|m| calls(&m.get_records))),
    ("kinesin_iterator_age_milliseconds", "Age of the last record the latest GetRecords call returned (GetRecords.IteratorAgeMilliseconds).", Reading::Latest(|m| &m.iterator_age_ms)),
    ("kinesin_read_provisioned_throughput_exceeded_total", "GetRecords calls refused for the shard's read limits (ReadProvisionedThroughputExceeded).", Reading::Counter(|m| &m.read_throttled)),
    ("kinesin_write_provisioned_throughput_exceeded_total", "Records refused for the shard's write limits (WriteProvisionedThroughputExceeded).", Reading::Counter(|m| &m.write_throttled)),
    ("kinesin_subscribe_to_shard_rate_exceeded_total", "SubscribeToShard calls refused: the consumer subscribed to the shard too recently (SubscribeToShard.RateExceeded).", Reading::Counter(|m| &m.subscribe_rate_exceeded)),
    ("kinesin_subscribe_to_shard_event_success_total", "Events pushed to fan-out subscribers (SubscribeToShardEvent.Success).", Reading::Counter(|m| &m.subscribe_events.successes)),
    ("kinesin_subscribe_to_shard_event_records_total", "Records pushed to fan-out subscribers (SubscribeToShardEvent.Records).", Reading::Counter(|m| &m.subscribe_events.records)),
    ("kinesin_subscribe_to_shard_event_bytes_total", "Bytes pushed to fan-out subscribers (SubscribeToShardEvent.Bytes).", Reading::Counter(|m| &m.subscribe_events.bytes)),
    ("kinesin_subscribe_to_shard_event_millis_behind_latest", "MillisBehindLatest of the latest event pushed (SubscribeToShardEvent.MillisBehindLatest).", Reading::Latest(|m| &m.subscribe_millis_behind)),
];

/// Shard-level series, for streams with enhanced monitoring; named apart (`kinesin_shard_…`)
/// so that summing a stream-level series never counts a record twice.
const SHARD_SERIES: &[Series<ShardFigures>] = &[
    (
        "kinesin_shard_incoming_records_total",
        "Records written to the shard (IncomingRecords, shard level).",
        Reading::Counter(|s| &s.incoming_records),
    ),
    (
        "kinesin_shard_incoming_bytes_total",
        "Bytes written to the shard (IncomingBytes, shard level).",
        Reading::Counter(|s| &s.incoming_bytes),
    ),
    (
        "kinesin_shard_outgoing_records_total",
        "Records read from the shard, by GetRecords and fan-out (OutgoingRecords).",
        Reading::Counter(|s| &s.outgoing_records),
    ),
    (
        "kinesin_shard_outgoing_bytes_total",
        "Bytes read from the shard, by GetRecords and fan-out (OutgoingBytes).",
        Reading::Counter(|s| &s.outgoing_bytes),
    ),
    (
        "kinesin_shard_iterator_age_milliseconds",
        "Age of the last record the latest GetRecords call on the shard returned (IteratorAgeMilliseconds).",
        Reading::Latest(|s| &s.iterator_age_ms),
    ),
    (
        "kinesin_shard_read_provisioned_throughput_exceeded_total",
        "GetRecords calls refused for the shard's read limits.",
        Reading::Counter(|s| &s.read_throttled),
    ),
    (
        "kinesin_shard_write_provisioned_throughput_exceeded_total",
        "Records refused for the shard's write limits.",
        Reading::Counter(|s| &s.write_throttled),
    ),
];

pub struct Metrics {
    requests: Arc<RequestMetrics>,
    /// Set once the engine runs.
    streams: OnceLock<FiguresSource>,
    /// Where each stream's files are measured: the embedded store's data directory; none in
    /// cluster mode, where the records are in the bucket (docs/cluster.md).
    stream_files: Option<PathBuf>,
}

impl Metrics {
    pub fn new(requests: Arc<RequestMetrics>, stream_files: Option<PathBuf>) -> Metrics {
        Metrics { requests, streams: OnceLock::new(), stream_files }
    }

    pub fn watch_streams(&self, figures: impl Fn() -> Vec<StreamFigures> + Send + Sync + 'static) {
        let _ = self.streams.set(Box::new(figures));
    }

    /// The exposition; it reads the data directory, so it belongs off the async workers.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.requests.render(&mut out);
        CommitMetrics::global().render(&mut out);
        let rss = kinesin_bench::procfs::rss_kib(std::process::id()).map(|kib| kib * 1024);
        gauge(
            &mut out,
            "process_resident_memory_bytes",
            "Resident memory of the kinesin process, in bytes.",
            rss.map(|bytes| (String::new(), bytes)),
        );
        let mut streams = self.streams.get().map(|figures| figures()).unwrap_or_default();
        streams.sort_by(|a, b| (&a.account, &a.region, &a.stream).cmp(&(&b.account, &b.region, &b.stream)));
        let labelled: Vec<(String, &StreamMetrics)> =
            streams.iter().map(|s| (stream_labels(s), &*s.metrics)).collect();
        for series in STREAM_SERIES {
            render_series(&mut out, series, &labelled);
        }
        if let Some(data_dir) = &self.stream_files {
            let disk = if streams.is_empty() { HashMap::new() } else { stream_disk_bytes(data_dir) };
            gauge(
                &mut out,
                "kinesin_stream_disk_bytes",
                "Bytes of the stream's files (segments and indexes) in the data directory.",
                streams
                    .iter()
                    .zip(&labelled)
                    .map(|(s, (labels, _))| (labels.clone(), disk.get(&s.stream_id).copied().unwrap_or(0))),
            );
        }
        gauge(
            &mut out,
            "kinesin_fan_out_subscriptions",
            "SubscribeToShard subscriptions running now.",
            streams.iter().zip(&labelled).map(|(s, (labels, _))| (labels.clone(), s.subscriptions)),
        );
        let shards: Vec<(String, Arc<ShardFigures>)> = streams
            .iter()
            .filter(|s| !s.shard_level_metrics.is_empty())
            .flat_map(|s| {
                let labels = stream_labels(s);
                s.metrics
                    .shards()
                    .into_iter()
                    .map(move |(index, figures)| (format!("{labels},shard=\"shardId-{index:012}\""), figures))
            })
            .collect();
        let shards: Vec<(String, &ShardFigures)> = shards.iter().map(|(l, f)| (l.clone(), &**f)).collect();
        for series in SHARD_SERIES {
            render_series(&mut out, series, &shards);
        }
        out
    }
}

fn stream_labels(stream: &StreamFigures) -> String {
    format!(
        "account=\"{}\",region=\"{}\",stream=\"{}\"",
        escape(&stream.account),
        escape(&stream.region),
        escape(&stream.stream)
    )
}

/// One series for every labelled subject; the header even when there is none.
fn render_series<T>(out: &mut String, (name, help, reading): &Series<T>, subjects: &[(String, &T)]) {
    let kind = match reading {
        Reading::Counter(_) => "counter",
        Reading::Summary(_) => "summary",
        Reading::Latest(_) => "gauge",
    };
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (labels, subject) in subjects {
        let _ = match reading {
            Reading::Counter(read) => writeln!(out, "{name}{{{labels}}} {}", value(read(subject))),
            Reading::Latest(read) => writeln!(out, "{name}{{{labels}}} {}", read(subject).latest()),
            Reading::Summary(read) => {
                let (count, sum) = read(subject).totals();
                writeln!(out, "{name}_sum{{{labels}}} {sum}\n{name}_count{{{labels}}} {count}")
            }
        };
    }
}

/// A gauge's header and a sample for each labelled value (labels may be empty).
fn gauge(out: &mut String, name: &str, help: &str, samples: impl IntoIterator<Item = (String, u64)>) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (labels, value) in samples {
        let _ = if labels.is_empty() {
            writeln!(out, "{name} {value}")
        } else {
            writeln!(out, "{name}{{{labels}}} {value}")
        };
    }
}

/// A label value as the text format wants it.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn figures(shard_level: bool) -> StreamFigures {
        let metrics = Arc::new(StreamMetrics::default());
        metrics.incoming_records.fetch_add(3, std::sync::atomic::Ordering::Relaxed);
        metrics.put_records.record(Some((3, 42)), Duration::from_millis(5));
        metrics.put_records.record(None, Duration::from_millis(1));
        metrics.iterator_age_ms.record(1500);
        if shard_level {
            metrics.shard(2).incoming_bytes.fetch_add(42, std::sync::atomic::Ordering::Relaxed);
        }
        StreamFigures {
            stream_id: if shard_level { 1 } else { 2 },
            account: "111111111111".into(),
            region: "eu-west-1".into(),
            stream: if shard_level { "orders" } else { "plain" }.into(),
            shard_level_metrics: if shard_level { vec!["IncomingBytes".into()] } else { vec![] },
            metrics,
            subscriptions: if shard_level { 2 } else { 0 },
        }
    }

    #[test]
    fn streams_are_labelled_and_read_by_kind() {
        let data_dir = tempfile::tempdir().unwrap();
        let shard_dir = data_dir.path().join("streams/1/0");
        std::fs::create_dir_all(&shard_dir).unwrap();
        std::fs::write(shard_dir.join("00000000000000000000.log"), [0; 321]).unwrap();
        let metrics = Metrics::new(Arc::default(), Some(data_dir.path().to_owned()));
        assert!(
            !metrics.render().contains("kinesin_incoming_records_total{"),
            "no streams before the engine runs"
        );
        metrics.watch_streams(|| vec![figures(true), figures(false)]);
        let text = metrics.render();
        let orders = r#"{account="111111111111",region="eu-west-1",stream="orders"}"#;
        assert!(text.contains("# TYPE kinesin_incoming_bytes_total counter\n"), "{text}");
        assert!(text.contains(&format!("kinesin_incoming_records_total{orders} 3\n")), "{text}");
        assert!(text.contains("# TYPE kinesin_put_records_latency_milliseconds summary\n"), "{text}");
        assert!(
            text.contains(&format!("kinesin_put_records_latency_milliseconds_sum{orders} 6\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("kinesin_put_records_latency_milliseconds_count{orders} 2\n")),
            "{text}"
        );
        assert!(text.contains(&format!("kinesin_put_records_success_total{orders} 1\n")), "{text}");
        assert!(text.contains(&format!("kinesin_iterator_age_milliseconds{orders} 1500\n")), "{text}");
        assert!(text.contains(&format!("kinesin_stream_disk_bytes{orders} 321\n")), "{text}");
        assert!(text.contains(&format!("kinesin_fan_out_subscriptions{orders} 2\n")), "{text}");
        let plain = r#"{account="111111111111",region="eu-west-1",stream="plain"}"#;
        assert!(text.contains(&format!("kinesin_stream_disk_bytes{plain} 0\n")), "{text}");
        assert!(text.contains("# TYPE kinesin_fsync_duration_seconds histogram\n"), "{text}");
        let rss = text.lines().find_map(|l| l.strip_prefix("process_resident_memory_bytes "));
        assert!(rss.and_then(|v| v.parse::<u64>().ok()).is_some_and(|bytes| bytes > 0), "{text}");
        let shard =
            r#"{account="111111111111",region="eu-west-1",stream="orders",shard="shardId-000000000002"}"#;
        assert!(text.contains(&format!("kinesin_shard_incoming_bytes_total{shard} 42\n")), "{text}");
        assert!(
            !text.contains(r#"stream="plain",shard="#),
            "shard series only with enhanced monitoring: {text}"
        );
        assert_eq!(escape("a\"b\\c"), r#"a\"b\\c"#);
    }
}
