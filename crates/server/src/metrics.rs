//! The front door's own figures, for Prometheus: requests by operation and outcome, their
//! durations as a histogram, and the connections open. Recording is a handful of relaxed atomic
//! additions on counters laid out per operation in advance: no lock, no allocation, no map
//! lookup.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kinesin_engine::histogram::Histogram;
use kinesin_wire::Operation;

/// Upper bounds of the duration buckets, in microseconds (Prometheus' `le`, in seconds).
const BUCKETS: [u64; 14] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
    5_000_000, 10_000_000,
];

/// The outcomes counted apart: success, then the error types kinesin answers with (those of the
/// API model and of the protocol). Any other is counted as `Other`.
const CODES: [&str; 26] = [
    "OK",
    "AccessDeniedException",
    "DryRunOperationException",
    "ExpiredIteratorException",
    "ExpiredNextTokenException",
    "IncompleteSignatureException",
    "InternalFailure",
    "InternalFailureException",
    "InvalidArgumentException",
    "InvalidSignatureException",
    "KMSAccessDeniedException",
    "KMSDisabledException",
    "KMSInvalidStateException",
    "KMSNotFoundException",
    "KMSOptInRequired",
    "KMSThrottlingException",
    "LimitExceededException",
    "MissingAuthenticationTokenException",
    "ProvisionedThroughputExceededException",
    "ResourceInUseException",
    "ResourceNotFoundException",
    "SerializationException",
    "ThrottlingException",
    "UnknownOperationException",
    "UnrecognizedClientException",
    "ValidationException",
];
const OTHER: usize = CODES.len();

struct OperationFigures {
    /// By [`CODES`] index, then `Other`.
    outcomes: [AtomicU64; CODES.len() + 1],
    durations: Histogram,
}

impl Default for OperationFigures {
    fn default() -> OperationFigures {
        OperationFigures {
            outcomes: Default::default(),
            durations: Histogram::new(&BUCKETS, Histogram::SECONDS),
        }
    }
}

/// Requests answered by the front door, by operation, and the connections it has open.
pub struct RequestMetrics {
    /// In the order of [`Operation::ALL`].
    operations: Vec<OperationFigures>,
    /// API connections (HTTP and HTTPS) accepted and not yet closed.
    open_connections: AtomicU64,
}

impl Default for RequestMetrics {
    fn default() -> RequestMetrics {
        RequestMetrics {
            operations: Operation::ALL.iter().map(|_| OperationFigures::default()).collect(),
            open_connections: AtomicU64::new(0),
        }
    }
}

/// One open connection, counted in [`RequestMetrics`] from its accept until this is dropped
/// (with the connection's task).
pub(crate) struct OpenConnection(Arc<RequestMetrics>);

impl OpenConnection {
    pub(crate) fn new(metrics: &Arc<RequestMetrics>) -> OpenConnection {
        metrics.open_connections.fetch_add(1, Ordering::Relaxed);
        OpenConnection(Arc::clone(metrics))
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.open_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for RequestMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestMetrics").finish_non_exhaustive()
    }
}

impl RequestMetrics {
    /// Counts one answered request: `code` is `None` for success, else its error type.
    pub(crate) fn record(&self, op: Operation, code: Option<&str>, elapsed: Duration) {
        let figures = &self.operations[op as usize];
        let outcome = match code {
            None => 0,
            Some(code) => CODES.iter().position(|c| *c == code).unwrap_or(OTHER),
        };
        figures.outcomes[outcome].fetch_add(1, Ordering::Relaxed);
        figures.durations.observe_duration(elapsed);
    }

    /// Appends `kinesin_requests_total` and `kinesin_request_duration_seconds` in the
    /// Prometheus text format, for the operations called at least once, and
    /// `kinesin_open_connections`.
    pub fn render(&self, out: &mut String) {
        let called = || Operation::ALL.iter().zip(&self.operations).filter(|(_, f)| f.durations.count() > 0);
        out.push_str("# HELP kinesin_requests_total Requests answered, by operation and outcome (OK or the error type).\n");
        out.push_str("# TYPE kinesin_requests_total counter\n");
        for (op, figures) in called() {
            for (i, count) in figures.outcomes.iter().enumerate() {
                let count = count.load(Ordering::Relaxed);
                if count > 0 {
                    let code = CODES.get(i).copied().unwrap_or("Other");
                    let _ = writeln!(
                        out,
                        "kinesin_requests_total{{operation=\"{}\",code=\"{code}\"}} {count}",
                        op.name()
                    );
                }
            }
        }
        out.push_str("# HELP kinesin_request_duration_seconds Time from a request's last byte to its answer (the head of an event stream), by operation.\n");
        out.push_str("# TYPE kinesin_request_duration_seconds histogram\n");
        for (op, figures) in called() {
            figures.durations.render(
                out,
                "kinesin_request_duration_seconds",
                &format!("operation=\"{}\"", op.name()),
            );
        }
        out.push_str("# HELP kinesin_open_connections API connections (HTTP and HTTPS) open now.\n");
        out.push_str("# TYPE kinesin_open_connections gauge\n");
        let _ = writeln!(out, "kinesin_open_connections {}", self.open_connections.load(Ordering::Relaxed));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_outcomes_and_durations_per_operation() {
        let metrics = RequestMetrics::default();
        metrics.record(Operation::PutRecord, None, Duration::from_micros(300));
        metrics.record(Operation::PutRecord, None, Duration::from_millis(3));
        metrics.record(Operation::PutRecord, Some("ResourceNotFoundException"), Duration::from_secs(20));
        metrics.record(Operation::ListStreams, Some("SomethingNew"), Duration::from_millis(1));
        let mut text = String::new();
        metrics.render(&mut text);
        for line in [
            r#"kinesin_requests_total{operation="PutRecord",code="OK"} 2"#,
            r#"kinesin_requests_total{operation="PutRecord",code="ResourceNotFoundException"} 1"#,
            r#"kinesin_requests_total{operation="ListStreams",code="Other"} 1"#,
            r#"kinesin_request_duration_seconds_bucket{operation="PutRecord",le="0.0005"} 1"#,
            r#"kinesin_request_duration_seconds_bucket{operation="PutRecord",le="0.005"} 2"#,
            r#"kinesin_request_duration_seconds_bucket{operation="PutRecord",le="10"} 2"#,
            r#"kinesin_request_duration_seconds_bucket{operation="PutRecord",le="+Inf"} 3"#,
            r#"kinesin_request_duration_seconds_sum{operation="PutRecord"} 20.0033"#,
            r#"kinesin_request_duration_seconds_count{operation="PutRecord"} 3"#,
            "kinesin_open_connections 0",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line} in\n{text}");
        }
        assert!(!text.contains("GetRecords"), "operations never called are left out");
    }

    #[test]
    fn counts_connections_while_open() {
        let metrics = Arc::new(RequestMetrics::default());
        let open = |metrics: &RequestMetrics| metrics.open_connections.load(Ordering::Relaxed);
        let first = OpenConnection::new(&metrics);
        let second = OpenConnection::new(&metrics);
        assert_eq!(open(&metrics), 2);
        drop(first);
        assert_eq!(open(&metrics), 1);
        drop(second);
        assert_eq!(open(&metrics), 0);
    }

    #[test]
    fn operations_index_their_figures() {
        // `op as usize` indexes `operations`: ALL must list the variants in declaration order.
        for (i, op) in Operation::ALL.iter().enumerate() {
            assert_eq!(*op as usize, i, "{op:?}");
        }
    }
}
