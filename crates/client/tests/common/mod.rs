//! What the producer's end-to-end tests share: a real `kinesin serve` (the workspace's binary,
//! built on first use), an SDK client for it, and reading a whole stream back with GetRecords.

#![allow(dead_code)]

pub mod faulty_proxy;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use aws_sdk_kinesis::config::retry::RetryConfig;
use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::types::{Record, Shard, ShardIteratorType, StreamStatus};
use aws_sdk_kinesis::Client;

/// The server executable: `KINESIN_E2E_BIN` if set, otherwise the workspace's `kinesin`, built
/// (or found up to date) by cargo once per test process — a test of this crate cannot name
/// another package's binary with `CARGO_BIN_EXE_*`. After a `cargo test --workspace` build,
/// cargo relinks it once with the package's own feature set (a few seconds); either build is
/// the same server.
fn binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            if let Some(path) = std::env::var_os("KINESIN_E2E_BIN").filter(|p| !p.is_empty()) {
                return PathBuf::from(path);
            }
            let workspace = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
            let output = Command::new(env!("CARGO"))
                .args(["build", "--package", "kinesin", "--bin", "kinesin", "--message-format", "json"])
                .current_dir(workspace)
                .stderr(Stdio::inherit())
                .output()
                .expect("run cargo build");
            assert!(output.status.success(), "cargo build of the kinesin binary failed");
            // The artifact line names the executable; its path is JSON-escaped like any string.
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
                .find_map(|message| message["executable"].as_str().map(PathBuf::from))
                .expect("cargo names the kinesin executable")
        })
        .clone()
}

/// A `kinesin serve` on an ephemeral port with a data directory of its own; killed when dropped.
pub struct Server {
    child: Child,
    _data: tempfile::TempDir,
    pub endpoint: String,
}

impl Server {
    /// Stream-state changes take no time; `extra` adds flags such as `--enforce-limits`.
    pub fn start(extra: &[&str]) -> Server {
        let data = tempfile::tempdir().expect("a data directory");
        let mut child = Command::new(binary())
            .args(["serve", "--port", "0", "--host", "127.0.0.1", "--durability", "os"])
            .args(["--create-stream-ms", "0", "--update-stream-ms", "0", "--delete-stream-ms", "0"])
            .arg("--data-dir")
            .arg(data.path())
            .args(extra)
            .env("KINESIN_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start kinesin serve");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        while !line.starts_with("kinesin listening on ") {
            line.clear();
            assert!(stdout.read_line(&mut line).expect("read stdout") > 0, "kinesin exited before listening");
        }
        let endpoint = line["kinesin listening on ".len()..].trim().to_owned();
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        Server { child, _data: data, endpoint }
    }

    pub fn client(&self) -> Client {
        client_for(&self.endpoint)
    }
}

/// An SDK client that does not retry, so that every failure reaches the producer.
pub fn client_for(endpoint: &str) -> Client {
    let config = aws_sdk_kinesis::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("AKIDEXAMPLE", "secret", None, None, "test"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(config)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn create_stream(client: &Client, stream: &str, shards: i32) {
    client.create_stream().stream_name(stream).shard_count(shards).send().await.expect("CreateStream");
    wait_until_active(client, stream).await;
}

pub async fn wait_until_active(client: &Client, stream: &str) {
    for _ in 0..200 {
        let summary =
            client.describe_stream_summary().stream_name(stream).send().await.expect("DescribeStreamSummary");
        if summary.stream_description_summary.unwrap().stream_status == StreamStatus::Active {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("stream {stream} did not become ACTIVE");
}

pub async fn shards(client: &Client, stream: &str) -> Vec<Shard> {
    let listed = client.list_shards().stream_name(stream).send().await.expect("ListShards");
    listed.shards.unwrap_or_default()
}

/// Every record of every shard (parents before children, as listed), with the shard it was
/// read from.
pub async fn read_all(client: &Client, stream: &str) -> Vec<(Shard, Record)> {
    let mut all = Vec::new();
    for shard in shards(client, stream).await {
        let iterator = client
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(&shard.shard_id)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("GetShardIterator");
        let mut iterator = iterator.shard_iterator;
        while let Some(current) = iterator.take() {
            let page = match client.get_records().shard_iterator(&current).send().await {
                Ok(page) => page,
                Err(e) if e.code() == Some("ProvisionedThroughputExceededException") => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    iterator = Some(current);
                    continue;
                }
                Err(e) => panic!("GetRecords: {e:?}"),
            };
            let caught_up = page.records.is_empty() && page.millis_behind_latest == Some(0);
            all.extend(page.records.into_iter().map(|r| (shard.clone(), r)));
            // An open shard has no end: stop once it is read up to its latest record.
            iterator = if caught_up { None } else { page.next_shard_iterator };
        }
    }
    all
}
