//! Results: per-measurement samples, their aggregation (medians over rounds, ratios to the
//! reference target) and the two outputs, a table for people and JSON for scripts.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::calls::Errors;
use super::load::{median, quantile};
use super::procfs::Machine;
use super::startup::{Filled, Restart, StartupRow};

/// One throughput measurement (one round of one workload variant on one target).
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub workload: String,
    pub variant: String,
    /// Shards of the stream it ran on.
    pub shards: i32,
    pub mode: String,
    pub target: String,
    pub round: usize,
    pub records: u64,
    pub bytes: u64,
    pub requests: u64,
    pub seconds: f64,
    pub records_per_s: f64,
    pub req_p50_ms: Option<f64>,
    pub req_p99_ms: Option<f64>,
    pub server_cpu_s: Option<f64>,
    pub errors: Errors,
}

#[derive(Debug, Clone, Serialize)]
pub struct ThroughputRow {
    pub workload: String,
    pub variant: String,
    pub shards: i32,
    pub mode: String,
    pub target: String,
    pub rounds: usize,
    /// Median over rounds.
    pub records_per_s: f64,
    pub mib_per_s: f64,
    pub min_records_per_s: f64,
    pub max_records_per_s: f64,
    pub req_p50_ms: Option<f64>,
    pub req_p99_ms: Option<f64>,
    /// Server CPU seconds per million records (median over rounds).
    pub server_cpu_s_per_m: Option<f64>,
    pub errors: Errors,
    /// The reference target's median ÷ this target's (1.0 for the reference itself).
    pub reference_ratio: Option<f64>,
    /// This median ÷ the same target's at the first shard count of `--shards` (1.0 there).
    pub first_shards_ratio: Option<f64>,
    /// For the drain: this rate ÷ what one core serialises into GetRecords answers.
    pub of_serialise_ceiling: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LatencyRow {
    pub workload: String,
    pub rate: u64,
    pub shards: i32,
    pub mode: String,
    pub target: String,
    /// "ok", or why it was not measured.
    pub status: String,
    pub sent: u64,
    pub received: u64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub p999_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub errors: Errors,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerRow {
    pub target: String,
    pub endpoint: String,
    pub startup_ms: Option<f64>,
    /// Start-up after kill -9 with the run's data in place (kinesin only).
    pub restart_ms: Option<f64>,
    pub idle_rss_mib: Option<f64>,
    pub peak_rss_mib: Option<f64>,
    pub after_rss_mib: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub kinesin_version: &'static str,
    pub command: String,
    pub machine: Machine,
    pub load_average_at_end: String,
    pub settings: super::Settings,
    pub reference: Option<String>,
    pub serialise_ceiling_records_per_s: Option<f64>,
    pub throughput: Vec<ThroughputRow>,
    pub latency: Vec<LatencyRow>,
    /// Start-up at scale: medians per (shards, how stopped), what filling took, each restart.
    pub startup: Vec<StartupRow>,
    pub startup_fills: Vec<Filled>,
    pub startup_restarts: Vec<Restart>,
    pub servers: Vec<ServerRow>,
    pub samples: Vec<Sample>,
    pub notes: Vec<String>,
}

pub fn sample(
    workload: &str,
    variant: &str,
    shards: i32,
    mode: &str,
    target: &str,
    round: usize,
    result: &mut super::load::LoopResult,
) -> Sample {
    result.latencies_us.sort_unstable();
    let ms = |q| quantile(&result.latencies_us, q).map(|us| us as f64 / 1000.0);
    Sample {
        workload: workload.into(),
        variant: variant.into(),
        shards,
        mode: mode.into(),
        target: target.into(),
        round,
        records: result.records,
        bytes: result.bytes,
        requests: result.requests,
        seconds: result.seconds,
        records_per_s: if result.seconds > 0.0 { result.records as f64 / result.seconds } else { 0.0 },
        req_p50_ms: ms(0.5),
        req_p99_ms: ms(0.99),
        server_cpu_s: result.server_cpu_s,
        errors: result.errors.clone(),
    }
}

/// Medians over rounds, in first-seen order of (workload, variant, shards, mode, target); ratios
/// to the `reference` target and to the `first_shards` count.
pub fn aggregate(
    samples: &[Sample],
    reference: Option<&str>,
    first_shards: i32,
    ceiling: Option<f64>,
) -> Vec<ThroughputRow> {
    type Key = (String, String, i32, String, String);
    let mut order: Vec<Key> = Vec::new();
    let mut groups: BTreeMap<Key, Vec<&Sample>> = BTreeMap::new();
    for s in samples {
        let key = (s.workload.clone(), s.variant.clone(), s.shards, s.mode.clone(), s.target.clone());
        if !groups.contains_key(&key) {
            order.push(key.clone());
        }
        groups.entry(key).or_default().push(s);
    }
    let mut rows: Vec<ThroughputRow> = order
        .iter()
        .map(|key| {
            let group = &groups[key];
            let mut rates: Vec<f64> = group.iter().map(|s| s.records_per_s).collect();
            let mut mibs: Vec<f64> = group
                .iter()
                .map(|s| if s.seconds > 0.0 { s.bytes as f64 / s.seconds / 1048576.0 } else { 0.0 })
                .collect();
            let mut p50: Vec<f64> = group.iter().filter_map(|s| s.req_p50_ms).collect();
            let mut p99: Vec<f64> = group.iter().filter_map(|s| s.req_p99_ms).collect();
            let mut cpu: Vec<f64> = group
                .iter()
                .filter(|s| s.records > 0)
                .filter_map(|s| s.server_cpu_s.map(|c| c / s.records as f64 * 1e6))
                .collect();
            let mut errors = Errors::new();
            for s in group {
                for (code, n) in &s.errors {
                    *errors.entry(code.clone()).or_default() += n;
                }
            }
            let records_per_s = median(&mut rates).unwrap_or(0.0);
            ThroughputRow {
                workload: key.0.clone(),
                variant: key.1.clone(),
                shards: key.2,
                mode: key.3.clone(),
                target: key.4.clone(),
                rounds: group.len(),
                records_per_s,
                mib_per_s: median(&mut mibs).unwrap_or(0.0),
                min_records_per_s: rates.iter().copied().fold(f64::INFINITY, f64::min),
                max_records_per_s: rates.iter().copied().fold(0.0, f64::max),
                req_p50_ms: median(&mut p50),
                req_p99_ms: median(&mut p99),
                server_cpu_s_per_m: median(&mut cpu),
                errors,
                reference_ratio: None,
                first_shards_ratio: None,
                of_serialise_ceiling: match (key.0.as_str(), ceiling) {
                    ("get-records", Some(c)) if c > 0.0 => Some(records_per_s / c),
                    _ => None,
                },
            }
        })
        .collect();
    if let Some(reference) = reference {
        let refs: BTreeMap<_, f64> = rows
            .iter()
            .filter(|r| r.target == reference)
            .map(|r| ((r.workload.clone(), r.variant.clone(), r.shards, r.mode.clone()), r.records_per_s))
            .collect();
        for row in &mut rows {
            let key = (row.workload.clone(), row.variant.clone(), row.shards, row.mode.clone());
            if let Some(&r) = refs.get(&key) {
                if row.records_per_s > 0.0 {
                    row.reference_ratio = Some(r / row.records_per_s);
                }
            }
        }
    }
    let firsts: BTreeMap<_, f64> = rows
        .iter()
        .filter(|r| r.shards == first_shards)
        .map(|r| ((r.workload.clone(), r.variant.clone(), r.mode.clone(), r.target.clone()), r.records_per_s))
        .collect();
    for row in &mut rows {
        let key = (row.workload.clone(), row.variant.clone(), row.mode.clone(), row.target.clone());
        if let Some(&first) = firsts.get(&key) {
            if first > 0.0 {
                row.first_shards_ratio = Some(row.records_per_s / first);
            }
        }
    }
    rows
}

pub fn latency_row(
    workload: &str,
    rate: u64,
    shards: i32,
    mode: &str,
    target: &str,
    results: &[super::latency::LatencyResult],
) -> LatencyRow {
    let mut all: Vec<u32> = results.iter().flat_map(|r| r.latencies_us.iter().copied()).collect();
    all.sort_unstable();
    let ms = |q| quantile(&all, q).map(|us| us as f64 / 1000.0);
    let mut errors = Errors::new();
    for r in results {
        for (code, n) in &r.errors {
            *errors.entry(code.clone()).or_default() += n;
        }
    }
    LatencyRow {
        workload: workload.into(),
        rate,
        shards,
        mode: mode.into(),
        target: target.into(),
        status: "ok".into(),
        sent: results.iter().map(|r| r.sent).sum(),
        received: results.iter().map(|r| r.received).sum(),
        p50_ms: ms(0.5),
        p99_ms: ms(0.99),
        p999_ms: ms(0.999),
        max_ms: all.last().map(|&us| us as f64 / 1000.0),
        errors,
    }
}

fn num(v: f64) -> String {
    // Thousands separators for large rates; two decimals for small figures.
    if v >= 1000.0 {
        let s = format!("{:.0}", v);
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn opt(v: Option<f64>) -> String {
    v.map(num).unwrap_or_else(|| "-".into())
}

fn errors_cell(errors: &Errors) -> String {
    if errors.is_empty() {
        return "0".into();
    }
    errors.iter().map(|(code, n)| format!("{n} {code}")).collect::<Vec<_>>().join(", ")
}

/// Left-aligns the first `left` columns, right-aligns the rest.
fn table(header: &[&str], rows: &[Vec<String>], left: usize) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<String>, out: &mut String| {
        let mut parts = Vec::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            if i < left || i + 1 == cells.len() {
                parts.push(format!("{cell}{}", " ".repeat(pad)));
            } else {
                parts.push(format!("{}{cell}", " ".repeat(pad)));
            }
        }
        let _ = writeln!(out, "  {}", parts.join("  ").trim_end());
    };
    line(header.iter().map(|s| s.to_string()).collect(), &mut out);
    line(widths.iter().map(|w| "-".repeat(*w)).collect(), &mut out);
    for row in rows {
        line(row.clone(), &mut out);
    }
    out
}

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let m = &report.machine;
    let modes: Vec<String> = report.settings.modes.iter().map(|m| m.to_string()).collect();
    let _ =
        writeln!(out, "kinesin bench {} — client modes run: {}", report.kinesin_version, modes.join(", "));
    let _ = writeln!(
        out,
        "machine: {} cores ({}), {} MiB, Linux {}; data on {}; load average {} at start, {} at end",
        m.cores,
        m.cpu_model,
        m.memory_mib,
        m.kernel,
        m.data_filesystem,
        m.load_average_at_start,
        report.load_average_at_end
    );
    let reference = report.reference.clone().unwrap_or_else(|| "-".into());
    let first_shards = report.settings.shards[0];
    let shard_counts = report.settings.shards.len();
    if !report.throughput.is_empty() {
        let _ = writeln!(
            out,
            "\nThroughput: median of {} rounds, targets alternated; ratio = {reference} ÷ target{}",
            report.settings.rounds,
            if shard_counts > 1 {
                format!("; vs {first_shards} shards = this ÷ the same target's at {first_shards} shards")
            } else {
                String::new()
            }
        );
        let rows: Vec<Vec<String>> = report
            .throughput
            .iter()
            .map(|r| {
                let mut ratio = r.reference_ratio.map(|x| format!("{x:.2}×")).unwrap_or_else(|| "-".into());
                if let Some(c) = r.of_serialise_ceiling {
                    ratio = format!("{ratio} ({:.0}% of 1-core serialise)", c * 100.0);
                }
                let mut row = vec![
                    r.workload.clone(),
                    r.variant.clone(),
                    r.shards.to_string(),
                    r.mode.clone(),
                    r.target.clone(),
                    num(r.records_per_s),
                    format!("{:.1}", r.mib_per_s),
                    format!("{}–{}", num(r.min_records_per_s), num(r.max_records_per_s)),
                    opt(r.req_p50_ms),
                    opt(r.req_p99_ms),
                    opt(r.server_cpu_s_per_m),
                    errors_cell(&r.errors),
                ];
                if shard_counts > 1 {
                    row.push(r.first_shards_ratio.map(|x| format!("{x:.2}×")).unwrap_or_else(|| "-".into()));
                }
                row.push(ratio);
                row
            })
            .collect();
        let vs_first = format!("vs {first_shards} shards");
        let mut header = vec![
            "workload",
            "variant",
            "shards",
            "client",
            "target",
            "records/s",
            "MiB/s",
            "range",
            "req p50 ms",
            "req p99 ms",
            "srv CPU s/M rec",
            "errors",
        ];
        if shard_counts > 1 {
            header.push(&vs_first);
        }
        header.push("ratio");
        out.push_str(&table(&header, &rows, 5));
        if let Some(c) = report.serialise_ceiling_records_per_s {
            let _ = writeln!(
                out,
                "  one core serialises {} records/s of {} B into GetRecords answers",
                num(c),
                report.settings.record_bytes
            );
        }
    }
    if !report.latency.is_empty() {
        let _ = writeln!(
            out,
            "\nLatency: put to consumer, all rounds pooled (put-to-get polls again {} ms after an empty answer)",
            report.settings.poll_ms
        );
        let rows: Vec<Vec<String>> = report
            .latency
            .iter()
            .map(|r| {
                vec![
                    r.workload.clone(),
                    format!("{} rec/s", r.rate),
                    r.shards.to_string(),
                    r.mode.clone(),
                    r.target.clone(),
                    r.sent.to_string(),
                    r.received.to_string(),
                    opt(r.p50_ms),
                    opt(r.p99_ms),
                    opt(r.p999_ms),
                    opt(r.max_ms),
                    errors_cell(&r.errors),
                    r.status.clone(),
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "workload", "rate", "shards", "client", "target", "acked", "received", "p50 ms", "p99 ms",
                "p99.9 ms", "max ms", "errors", "status",
            ],
            &rows,
            5,
        ));
    }
    if !report.startup.is_empty() {
        out.push_str(&render_startup(report));
    }
    if !report.servers.is_empty() {
        let _ = writeln!(out, "\nServers (from /proc; restart = start-up after kill -9 with the run's data)");
        let rows: Vec<Vec<String>> = report
            .servers
            .iter()
            .map(|s| {
                vec![
                    s.target.clone(),
                    s.endpoint.clone(),
                    opt(s.startup_ms),
                    opt(s.restart_ms),
                    opt(s.idle_rss_mib),
                    opt(s.peak_rss_mib),
                    opt(s.after_rss_mib),
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "target",
                "endpoint",
                "start-up ms",
                "restart ms",
                "idle RSS MiB",
                "peak RSS MiB",
                "after RSS MiB",
            ],
            &rows,
            2,
        ));
    }
    for note in &report.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}

/// The start-up table: a row per (shards, how stopped), then what filling each server took.
fn render_startup(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nStart-up at scale (kinesin; median of {} restarts; ready = spawn until ListStreams and a \
         GetRecords of a record written before the stop answer; descriptors and RSS then)",
        report.settings.rounds
    );
    let rows: Vec<Vec<String>> = report
        .startup
        .iter()
        .map(|r| {
            vec![
                num(r.shards as f64),
                r.streams.to_string(),
                r.after.label().to_owned(),
                opt(r.stop_ms),
                opt(r.list_streams_ms),
                opt(r.get_records_ms),
                format!("{}–{}", opt(r.min_get_records_ms), opt(r.max_get_records_ms)),
                opt(r.descriptors),
                opt(r.rss_mib),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "shards",
            "streams",
            "after",
            "stop ms",
            "ListStreams ms",
            "ready ms",
            "range",
            "descriptors",
            "RSS MiB",
        ],
        &rows,
        3,
    ));
    for f in &report.startup_fills {
        let _ = writeln!(
            out,
            "  {} shards: created in {} ms, a record put to each in {} ms; then {} descriptors, {} MiB RSS",
            num(f.shards as f64),
            num(f.create_ms),
            num(f.put_ms),
            f.descriptors.map_or("-".to_owned(), |d| d.to_string()),
            opt(f.rss_mib)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(shards: i32, target: &str, round: usize, records: u64) -> Sample {
        Sample {
            workload: "put-records".into(),
            variant: "500×100 B, 8 in flight".into(),
            shards,
            mode: "raw".into(),
            target: target.into(),
            round,
            records,
            bytes: records * 100,
            requests: records / 500,
            seconds: 1.0,
            records_per_s: records as f64,
            req_p50_ms: None,
            req_p99_ms: None,
            server_cpu_s: None,
            errors: Errors::new(),
        }
    }

    #[test]
    fn a_row_per_shard_count_with_ratios_to_the_first_count_and_the_reference() {
        let mut samples = Vec::new();
        for round in 0..3 {
            let r = round as u64;
            samples.push(sample(4, "kinesin", round, 800_000 + r));
            samples.push(sample(4, "peer", round, 100_000 + r));
            samples.push(sample(5000, "kinesin", round, 200_000 + r));
            samples.push(sample(5000, "peer", round, 50_000 + r));
        }
        let rows = aggregate(&samples, Some("kinesin"), 4, None);
        let row = |shards, target| rows.iter().find(|r| r.shards == shards && r.target == target).unwrap();
        assert_eq!(rows.len(), 4, "one row per (shards, target)");
        assert_eq!(row(4, "kinesin").records_per_s, 800_001.0, "the median of the rounds");
        assert_eq!(row(4, "kinesin").first_shards_ratio, Some(1.0));
        let ratio = row(5000, "kinesin").first_shards_ratio.unwrap();
        assert!((ratio - 200_001.0 / 800_001.0).abs() < 1e-12, "{ratio}");
        let ratio = row(5000, "peer").first_shards_ratio.unwrap();
        assert!((ratio - 50_001.0 / 100_001.0).abs() < 1e-12, "{ratio}");
        // The reference ratio compares targets at the same shard count only.
        let ratio = row(5000, "peer").reference_ratio.unwrap();
        assert!((ratio - 200_001.0 / 50_001.0).abs() < 1e-12, "{ratio}");
    }
}
