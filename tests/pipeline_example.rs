//! examples/pipeline.rs end to end: the example itself is built with the cargo running this
//! test and run against a real kinesin; known clicks are put into `clicks`, and the per-second
//! counts its second application prints must be exactly theirs.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_kinesis::primitives::Blob;
use common::{wait_active, TestServer};

/// Builds the example with this test's cargo; returns its executable. The variables cargo sets
/// for a test are removed: build scripts watch some (ring's, CARGO_MANIFEST_DIR), and would
/// otherwise rebuild dependencies for this build and again for the next `cargo test`.
fn build_example() -> PathBuf {
    let mut cargo = Command::new(env!("CARGO"));
    for (name, _) in std::env::vars() {
        let set_for_tests = [
            "CARGO_MANIFEST_",
            "CARGO_PKG_",
            "CARGO_CRATE_NAME",
            "CARGO_BIN_",
            "CARGO_TARGET_TMPDIR",
            "CARGO_PRIMARY_PACKAGE",
        ];
        if set_for_tests.iter().any(|prefix| name.starts_with(prefix)) {
            cargo.env_remove(name);
        }
    }
    let output = cargo
        .args(["build", "--example", "pipeline", "--message-format", "json"])
        .arg("--manifest-path")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(output.status.success(), "cargo build --example pipeline failed");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["target"]["name"] == "pipeline")
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .expect("cargo named no executable for the example")
}

/// The running example, killed when dropped.
struct Example(Child);

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_counts_clicks_per_page_and_second() {
    let server = TestServer::start();
    let kinesis = server.client();
    let executable = build_example();
    let mut example = Example(
        Command::new(executable)
            .args(["--endpoint-url", &server.endpoint()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let printed: Arc<Mutex<Vec<String>>> = Arc::default();
    {
        let (stdout, printed) = (example.0.stdout.take().unwrap(), Arc::clone(&printed));
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                printed.lock().unwrap().push(line);
            }
        });
    }
    // The example creates the streams.
    wait_active(&kinesis, "clicks").await;

    // (page, second, clicks); then a click far later, which closes every second before it.
    let base = 1_765_100_000u64;
    let expected = [("home", base, 3), ("cart", base, 1), ("home", base + 1, 2), ("cart", base + 2, 4)];
    let mut clicks: Vec<(String, f64)> = Vec::new();
    for (page, second, count) in expected {
        clicks.extend((0..count).map(|i| (page.to_owned(), second as f64 + i as f64 / 10.0)));
    }
    clicks.sort_by(|a, b| a.1.total_cmp(&b.1));
    clicks.push(("home".to_owned(), (base + 100) as f64));
    for (page, time) in clicks {
        let data = serde_json::json!({"page": page, "time": time}).to_string();
        kinesis
            .put_record()
            .stream_name("clicks")
            .partition_key(page)
            .data(Blob::new(data))
            .send()
            .await
            .unwrap();
    }

    let expected: BTreeSet<(String, u64, u64)> =
        expected.iter().map(|(page, second, clicks)| (page.to_string(), *second, *clicks)).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let counts: BTreeSet<(String, u64, u64)> = printed
            .lock()
            .unwrap()
            .iter()
            .map(|line| {
                let count: serde_json::Value = serde_json::from_str(line).unwrap();
                let number = |name: &str| count[name].as_u64().unwrap();
                (count["page"].as_str().unwrap().to_owned(), number("second"), number("clicks"))
            })
            .collect();
        if counts == expected {
            break;
        }
        assert!(counts.is_subset(&expected), "counts that were not clicked: {counts:?}");
        assert!(Instant::now() < deadline, "after 60 s the pipeline printed {counts:?}, not {expected:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(printed.lock().unwrap().len(), expected.len(), "each count printed once");
    assert!(example.0.try_wait().unwrap().is_none(), "the example keeps running");
}
