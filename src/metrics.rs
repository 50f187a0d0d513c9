//! `GET /metrics` on the admin port: the server's figures in the Prometheus text format.
//! Requests by operation come from the front door ([`RequestMetrics`]), what each stream took
//! in from the engine ([`TrafficReport`]); both are read only when scraped.

use std::fmt::Write;
use std::sync::{Arc, OnceLock};

use kinesin_engine::TrafficReport;
use kinesin_server::RequestMetrics;

type StreamTraffic = Box<dyn Fn() -> Vec<TrafficReport> + Send + Sync>;

/// A per-stream counter: its name, its help text, and its value in a report.
type StreamSeries = (&'static str, &'static str, fn(&TrafficReport) -> u64);

const STREAM_SERIES: [StreamSeries; 2] = [
    ("kinesin_incoming_records_total", "Records written to the stream since start-up.", |t| {
        t.incoming_records
    }),
    (
        "kinesin_incoming_bytes_total",
        "Bytes (partition keys and data) written to the stream since start-up.",
        |t| t.incoming_bytes,
    ),
];

pub struct Metrics {
    requests: Arc<RequestMetrics>,
    /// Set once the engine runs.
    streams: OnceLock<StreamTraffic>,
}

impl Metrics {
    pub fn new(requests: Arc<RequestMetrics>) -> Metrics {
        Metrics { requests, streams: OnceLock::new() }
    }

    pub fn watch_streams(&self, traffic: impl Fn() -> Vec<TrafficReport> + Send + Sync + 'static) {
        let _ = self.streams.set(Box::new(traffic));
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        self.requests.render(&mut out);
        let mut streams = self.streams.get().map(|traffic| traffic()).unwrap_or_default();
        streams.sort_by(|a, b| (&a.account, &a.region, &a.stream).cmp(&(&b.account, &b.region, &b.stream)));
        for (name, help, value) in STREAM_SERIES {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for stream in &streams {
                let _ = writeln!(
                    out,
                    "{name}{{account=\"{}\",region=\"{}\",stream=\"{}\"}} {}",
                    escape(&stream.account),
                    escape(&stream.region),
                    escape(&stream.stream),
                    value(stream)
                );
            }
        }
        out
    }
}

/// A label value as the text format wants it.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_labelled_by_account_region_and_name() {
        let metrics = Metrics::new(Arc::default());
        assert!(
            !metrics.render().contains("kinesin_incoming_records_total{"),
            "no streams before the engine runs"
        );
        metrics.watch_streams(|| {
            vec![TrafficReport {
                account: "111111111111".into(),
                region: "eu-west-1".into(),
                stream: "orders".into(),
                incoming_records: 3,
                incoming_bytes: 42,
            }]
        });
        let text = metrics.render();
        assert!(text.contains("# TYPE kinesin_incoming_bytes_total counter\n"), "{text}");
        assert!(
            text.contains(r#"kinesin_incoming_records_total{account="111111111111",region="eu-west-1",stream="orders"} 3"#),
            "{text}"
        );
        assert!(text.contains(
            r#"kinesin_incoming_bytes_total{account="111111111111",region="eu-west-1",stream="orders"} 42"#
        ));
        assert_eq!(escape("a\"b\\c"), r#"a\"b\\c"#);
    }
}
