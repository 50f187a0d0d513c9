//! The front door's own figures, for Prometheus: requests by operation and outcome, and their
//! durations as a histogram. Recording is a handful of relaxed atomic additions on counters
//! laid out per operation in advance: no lock, no allocation, no map lookup.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use kinesin_wire::Operation;

/// Upper bounds of the duration buckets, in seconds (Prometheus' `le`).
const BUCKETS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

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

#[derive(Default)]
struct OperationFigures {
    /// By [`CODES`] index, then `Other`.
    outcomes: [AtomicU64; CODES.len() + 1],
    /// Requests at most each bucket's bound, not cumulative (the exposition sums them).
    buckets: [AtomicU64; BUCKETS.len() + 1],
    count: AtomicU64,
    total_micros: AtomicU64,
}

/// Requests answered by the front door, by operation.
pub struct RequestMetrics {
    /// In the order of [`Operation::ALL`].
    operations: Vec<OperationFigures>,
}

impl Default for RequestMetrics {
    fn default() -> RequestMetrics {
        RequestMetrics { operations: Operation::ALL.iter().map(|_| OperationFigures::default()).collect() }
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
        let seconds = elapsed.as_secs_f64();
        let bucket = BUCKETS.iter().position(|bound| seconds <= *bound).unwrap_or(BUCKETS.len());
        figures.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        figures.count.fetch_add(1, Ordering::Relaxed);
        figures.total_micros.fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }

    /// Appends `kinesin_requests_total` and `kinesin_request_duration_seconds` in the
    /// Prometheus text format, for the operations called at least once.
    pub fn render(&self, out: &mut String) {
        let called = || {
            Operation::ALL.iter().zip(&self.operations).filter(|(_, f)| f.count.load(Ordering::Relaxed) > 0)
        };
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
            let name = op.name();
            let mut cumulative = 0;
            for (i, bucket) in figures.buckets.iter().enumerate() {
                cumulative += bucket.load(Ordering::Relaxed);
                let bound = BUCKETS.get(i).map_or("+Inf".to_owned(), f64::to_string);
                let _ = writeln!(
                    out,
                    "kinesin_request_duration_seconds_bucket{{operation=\"{name}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let seconds = figures.total_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(out, "kinesin_request_duration_seconds_sum{{operation=\"{name}\"}} {seconds}");
            // The buckets' total rather than `count`, read a moment apart: the exposition must
            // agree with itself.
            let _ =
                writeln!(out, "kinesin_request_duration_seconds_count{{operation=\"{name}\"}} {cumulative}");
        }
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
        ] {
            assert!(text.lines().any(|l| l == line), "no {line} in\n{text}");
        }
        assert!(!text.contains("GetRecords"), "operations never called are left out");
    }

    #[test]
    fn operations_index_their_figures() {
        // `op as usize` indexes `operations`: ALL must list the variants in declaration order.
        for (i, op) in Operation::ALL.iter().enumerate() {
            assert_eq!(*op as usize, i, "{op:?}");
        }
    }
}
