//! A Prometheus histogram kept in atomics: observing a value is a short scan of a few bucket
//! bounds and two relaxed atomic additions — no lock, no allocation — so that it can sit on a
//! hot path (the request path, the store's group commits; `docs/metrics.md`). It is read only
//! when scraped.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The most bucket bounds a histogram has (the `+Inf` bucket comes on top).
pub const MAX_BOUNDS: usize = 24;

/// Observations counted into fixed buckets, with their sum.
///
/// Values are whole numbers of a small unit — microseconds, records, bytes — and the exposition
/// divides them by `scale` to the unit the series is named in (1,000,000 for microseconds shown
/// as `_seconds`, 1 for counts).
#[derive(Debug)]
pub struct Histogram {
    /// Upper bounds of the buckets (Prometheus' `le`), ascending, in the observed unit.
    bounds: &'static [u64],
    scale: u64,
    /// Observations at most each bound and above the one before, not cumulative (the
    /// exposition sums them); index `bounds.len()` counts those above every bound.
    counts: [AtomicU64; MAX_BOUNDS + 1],
    sum: AtomicU64,
}

impl Histogram {
    /// The scale of a histogram observed in microseconds and exposed in seconds.
    pub const SECONDS: u64 = 1_000_000;

    /// A histogram with these bucket bounds (ascending, at most [`MAX_BOUNDS`]); `const`, so
    /// that a process-wide one can be a `static`.
    pub const fn new(bounds: &'static [u64], scale: u64) -> Histogram {
        assert!(bounds.len() <= MAX_BOUNDS, "too many bucket bounds");
        assert!(scale > 0, "a scale of at least 1");
        Histogram {
            bounds,
            scale,
            counts: [const { AtomicU64::new(0) }; MAX_BOUNDS + 1],
            sum: AtomicU64::new(0),
        }
    }

    /// One observation.
    pub fn observe(&self, value: u64) {
        let bucket = self.bounds.iter().position(|bound| value <= *bound).unwrap_or(self.bounds.len());
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(value, Ordering::Relaxed);
    }

    /// One duration, in microseconds (for a histogram made with [`Histogram::SECONDS`]).
    pub fn observe_duration(&self, elapsed: Duration) {
        self.observe(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
    }

    /// How many observations so far.
    pub fn count(&self) -> u64 {
        self.counts[..=self.bounds.len()].iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// Appends the `_bucket`, `_sum` and `_count` samples of series `name` in the Prometheus
    /// text format; `labels` are the series' own (`a="x",b="y"`, or empty).
    pub fn render(&self, out: &mut String, name: &str, labels: &str) {
        let separator = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (i, count) in self.counts[..=self.bounds.len()].iter().enumerate() {
            cumulative += count.load(Ordering::Relaxed);
            let bound = match self.bounds.get(i) {
                Some(bound) => self.scaled(*bound).to_string(),
                None => "+Inf".to_owned(),
            };
            let _ = writeln!(out, "{name}_bucket{{{labels}{separator}le=\"{bound}\"}} {cumulative}");
        }
        let braced = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let sum = self.scaled(self.sum.load(Ordering::Relaxed));
        let _ = writeln!(out, "{name}_sum{braced} {sum}");
        // The buckets' total rather than a count of its own, read a moment apart: the
        // exposition must agree with itself.
        let _ = writeln!(out, "{name}_count{braced} {cumulative}");
    }

    /// The sum of the observations, in the observed unit.
    pub fn sum(&self) -> u64 {
        self.sum.load(Ordering::Relaxed)
    }

    fn scaled(&self, value: u64) -> f64 {
        value as f64 / self.scale as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_scaled() {
        static BOUNDS: [u64; 3] = [500, 1_000, 5_000];
        let histogram = Histogram::new(&BOUNDS, Histogram::SECONDS);
        histogram.observe_duration(Duration::from_micros(300));
        histogram.observe_duration(Duration::from_micros(1_000));
        histogram.observe_duration(Duration::from_secs(2));
        assert_eq!(histogram.count(), 3);
        let mut text = String::new();
        histogram.render(&mut text, "x_seconds", r#"op="a""#);
        assert_eq!(
            text,
            concat!(
                "x_seconds_bucket{op=\"a\",le=\"0.0005\"} 1\n",
                "x_seconds_bucket{op=\"a\",le=\"0.001\"} 2\n",
                "x_seconds_bucket{op=\"a\",le=\"0.005\"} 2\n",
                "x_seconds_bucket{op=\"a\",le=\"+Inf\"} 3\n",
                "x_seconds_sum{op=\"a\"} 2.0013\n",
                "x_seconds_count{op=\"a\"} 3\n",
            )
        );
    }

    #[test]
    fn without_labels() {
        static BOUNDS: [u64; 2] = [1, 10];
        let histogram = Histogram::new(&BOUNDS, 1);
        histogram.observe(7);
        let mut text = String::new();
        histogram.render(&mut text, "records", "");
        assert_eq!(
            text,
            "records_bucket{le=\"1\"} 0\nrecords_bucket{le=\"10\"} 1\nrecords_bucket{le=\"+Inf\"} 1\nrecords_sum 7\nrecords_count 1\n"
        );
    }
}
