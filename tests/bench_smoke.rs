//! Smoke test of `kinesin bench`: every workload, both client modes, against a kinesin and the
//! baseline that the harness starts itself, with tiny sizes. It checks that the run completes and
//! that the table and the JSON report have what they should; it asserts nothing about speed.

use std::path::Path;
use std::process::Command;

/// Runs `kinesin bench` (`command`, with its workload flags) in `work`, writing its JSON report
/// to `json`; asserts that it succeeded and returns its standard output (the table).
fn bench(command: &mut Command, work: &Path, json: &Path) -> String {
    let output =
        command.arg("--work-dir").arg(work).arg("--json-file").arg(json).output().expect("run kinesin bench");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "kinesin bench failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    stdout
}

#[test]
fn bench_runs_every_workload_and_reports_table_and_json() {
    let work = tempfile::tempdir().expect("temp dir");
    let json_path = work.path().join("report.json");
    let stdout = bench(
        Command::new(env!("CARGO_BIN_EXE_kinesin"))
            .args(["bench", "--rounds", "1", "--seconds", "0.3", "--warmup", "0.1", "--shards", "2"])
            .args([
                "--put-records-sizes",
                "100",
                "--batch",
                "20",
                "--in-flight",
                "2",
                "--put-record-clients",
                "2",
            ])
            .args([
                "--drain-records",
                "1000",
                "--latency-rates",
                "50",
                "--latency-seconds",
                "0.3",
                "--settle-seconds",
                "0",
            ]),
        work.path(),
        &json_path,
    );

    // The table names the client modes and has a row per workload and target.
    assert!(stdout.contains("client modes run: raw, sdk"), "{stdout}");
    for needle in
        ["put-records", "put-record ", "get-records", "put-to-get", "put-to-push", "baseline", "start-up ms"]
    {
        assert!(stdout.contains(needle), "the table lacks '{needle}':\n{stdout}");
    }

    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json_path).expect("the JSON report was written"))
            .expect("valid JSON");
    let rows = report["throughput"].as_array().expect("throughput rows");
    for workload in ["put-records", "put-record", "get-records"] {
        for mode in ["raw", "sdk"] {
            for target in ["kinesin", "baseline"] {
                let row = rows
                    .iter()
                    .find(|r| r["workload"] == workload && r["mode"] == mode && r["target"] == target)
                    .unwrap_or_else(|| panic!("no {workload}/{mode}/{target} row in {report}"));
                // A rate is there (how high is not this test's business: under load a tiny
                // window can even see no request finish).
                assert!(row["records_per_s"].as_f64().is_some(), "{row}");
                assert_eq!(row["errors"], serde_json::json!({}), "{row}");
            }
        }
    }
    // The drain read back every record the fill put (1,000, rounded up to whole batches of 500).
    let drained = report["samples"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["workload"] == "get-records" && s["target"] == "kinesin")
        .expect("a drain sample");
    assert_eq!(drained["records"], 1000, "{drained}");

    let latency = report["latency"].as_array().expect("latency rows");
    let get = latency
        .iter()
        .find(|r| r["workload"] == "put-to-get" && r["target"] == "kinesin")
        .expect("put-to-get row");
    assert_eq!(get["status"], "ok", "{get}");
    assert!(get["received"].as_u64().unwrap() > 0, "{get}");
    let push = latency
        .iter()
        .find(|r| r["workload"] == "put-to-push" && r["target"] == "kinesin")
        .expect("put-to-push row");
    // Either measured, or (before fan-out exists) reported as unsupported.
    let status = push["status"].as_str().unwrap();
    assert!(status == "ok" || status == "not supported by the endpoint", "{push}");

    let servers = report["servers"].as_array().expect("server rows");
    let kinesin = servers.iter().find(|s| s["target"] == "kinesin").expect("kinesin server row");
    for field in ["startup_ms", "idle_rss_mib", "peak_rss_mib", "after_rss_mib", "restart_ms"] {
        assert!(kinesin[field].as_f64().is_some(), "no {field} in {kinesin}");
    }
    assert!(report["machine"]["cores"].as_u64().unwrap() >= 1);
}

/// A peer that dies at start-up is reported with what it printed: its log goes away with the
/// run's directory, so pointing at the file would help no one.
#[test]
fn a_peer_that_fails_to_start_is_reported_with_its_output() {
    let work = tempfile::tempdir().expect("temp dir");
    let output = Command::new(env!("CARGO_BIN_EXE_kinesin"))
        .args(["bench", "--kinesin", "none", "--no-baseline", "--rounds", "1", "--workloads", "put-record"])
        .args(["--peer", "broken=sh -c 'echo cannot bind port {port} >&2; exit 3'"])
        .arg("--work-dir")
        .arg(work.path())
        .output()
        .expect("run kinesin bench");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("broken exited (exit status: 3) before answering"), "{stderr}");
    assert!(stderr.contains("cannot bind port"), "{stderr}");
}

/// The shard dimension, kinesin-client's producer and consumer, and start-up at scale, with tiny
/// sizes: a row per shard count (with its ratio to the first), producer rows aggregated and not,
/// a consumer row that read every record the fill put, and a start-up row per way of stopping.
#[test]
fn bench_runs_shard_counts_client_workloads_and_startup() {
    let work = tempfile::tempdir().expect("temp dir");
    let json_path = work.path().join("report.json");
    let stdout = bench(
        Command::new(env!("CARGO_BIN_EXE_kinesin"))
            .args(["bench", "--rounds", "1", "--seconds", "0.5", "--warmup", "0.1", "--no-baseline"])
            .args(["--shards", "2,3", "--client", "raw", "--put-records-sizes", "100", "--batch", "20"])
            .args(["--in-flight", "2", "--drain-records", "1000", "--settle-seconds", "0"])
            .args([
                "--workloads",
                "put-records,producer,get-records,consumer,startup",
                "--startup-shards",
                "30",
            ]),
        work.path(),
        &json_path,
    );
    for needle in ["vs 2 shards", "kinesin-client", "Start-up at scale", "kill -9", "clean stop"] {
        assert!(stdout.contains(needle), "the table lacks '{needle}':\n{stdout}");
    }

    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json_path).expect("the JSON report was written"))
            .expect("valid JSON");
    let rows = report["throughput"].as_array().expect("throughput rows");
    let row = |workload: &str, shards: i64, variant_has: &str| {
        rows.iter()
            .find(|r| {
                r["workload"] == workload
                    && r["shards"] == shards
                    && r["variant"].as_str().unwrap().contains(variant_has)
            })
            .unwrap_or_else(|| panic!("no {workload} row at {shards} shards ({variant_has}) in {report}"))
    };
    for shards in [2, 3] {
        let put = row("put-records", shards, "B");
        assert_eq!(put["errors"], serde_json::json!({}), "{put}");
        assert!(put["first_shards_ratio"].as_f64().is_some() || put["records_per_s"] == 0.0, "{put}");
        for variant in ["feeders", "aggregated"] {
            let producer = row("producer", shards, variant);
            assert_eq!(producer["mode"], "kinesin-client", "{producer}");
            assert_eq!(producer["errors"], serde_json::json!({}), "{producer}");
        }
        let consumer = row("consumer", shards, "TRIM_HORIZON");
        assert_eq!(consumer["errors"], serde_json::json!({}), "{consumer}");
    }
    assert_eq!(row("put-records", 2, "B")["first_shards_ratio"], 1.0);
    // The consumer handed every record of the drain stream to its processors.
    let consumed = report["samples"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["workload"] == "consumer" && s["shards"] == 3)
        .expect("a consumer sample");
    assert_eq!(consumed["records"], 1000, "{consumed}");

    let startup = report["startup"].as_array().expect("start-up rows");
    assert_eq!(startup.len(), 2, "{startup:?}");
    for (row, after) in startup.iter().zip(["clean", "kill9"]) {
        assert_eq!(row["after"], after, "{row}");
        assert_eq!(row["shards"], 30, "{row}");
        assert!(row["get_records_ms"].as_f64().unwrap() >= row["list_streams_ms"].as_f64().unwrap(), "{row}");
        assert!(row["descriptors"].as_f64().unwrap() >= 3.0, "{row}");
        assert!(row["rss_mib"].as_f64().unwrap() > 0.0, "{row}");
    }
}
