//! `kinesin streams`, `put` and `tail` (also as workers of a consumer application, `tail --app`)
//! against the real server, run as a user runs them: the binary, stdin and stdout, the endpoint
//! from `AWS_ENDPOINT_URL`.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::leases::{checkpoints, dynamodb_client, owners};
use common::{binary, cli_command, TestServer};

/// Runs `kinesin <args>` against `server`, feeding `stdin`.
fn kinesin(server: &TestServer, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = command(server, args).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// `kinesin <args>` for `server`, its errors captured.
fn command(server: &TestServer, args: &[&str]) -> Command {
    let mut command = cli_command(server, args);
    command.stderr(Stdio::piped());
    command
}

fn ok(server: &TestServer, args: &[&str], stdin: &[u8]) -> String {
    let output = kinesin(server, args, stdin);
    assert!(output.status.success(), "kinesin {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// `key,n` lines: `count` keys, each with `per_key` numbered records.
fn numbered_lines(keys: usize, per_key: usize) -> String {
    (0..per_key).flat_map(|n| (0..keys).map(move |k| format!("{{\"key\":\"k{k}\",\"n\":{n}}}\n"))).collect()
}

/// The records `tail --format json` printed, as (partition key, data) in output order.
fn tailed(json_lines: &str) -> Vec<(String, String)> {
    use base64::Engine as _;
    json_lines
        .lines()
        .map(|line| {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            let data =
                base64::engine::general_purpose::STANDARD.decode(record["data"].as_str().unwrap()).unwrap();
            (record["partitionKey"].as_str().unwrap().to_owned(), String::from_utf8(data).unwrap())
        })
        .collect()
}

/// Every key's records come out complete and in the order they were put.
fn assert_complete_and_ordered_per_key(records: &[(String, String)], keys: usize, per_key: usize) {
    let mut next: HashMap<&str, u64> = HashMap::new();
    for (key, data) in records {
        let document: serde_json::Value = serde_json::from_str(data).unwrap();
        assert_eq!(document["key"].as_str(), Some(key.as_str()), "partition key from the field");
        let expected = next.entry(key).or_default();
        assert_eq!(document["n"].as_u64(), Some(*expected), "key {key} out of order");
        *expected += 1;
    }
    assert_eq!(next.len(), keys);
    assert!(next.values().all(|&n| n == per_key as u64), "{next:?}");
}

#[test]
fn put_then_tail_round_trips_across_a_reshard() {
    let server = TestServer::start();
    ok(&server, &["streams", "create", "clicks", "--shards", "2"], b"");
    assert!(ok(&server, &["streams", "ls"], b"").contains("clicks  ACTIVE  PROVISIONED"));

    let put = ["put", "clicks", "--format", "json", "--partition-key-field", "key"];
    ok(&server, &put, numbered_lines(20, 30).as_bytes());
    ok(&server, &["streams", "scale", "clicks", "--shards", "4"], b"");
    let more: String = numbered_lines(20, 60).lines().skip(20 * 30).map(|l| format!("{l}\n")).collect();
    ok(&server, &put, more.as_bytes());

    let tree = ok(&server, &["streams", "describe", "clicks"], b"");
    assert!(tree.contains("shardId-000000000000  closed  0%–50%"), "{tree}");
    assert!(tree.contains("├── ") && tree.contains("open"), "{tree}");

    let out = ok(
        &server,
        &["tail", "clicks", "--from", "trim-horizon", "--format", "json", "--max-records", "1200"],
        b"",
    );
    let records = tailed(&out);
    assert_eq!(records.len(), 1200);
    assert_complete_and_ordered_per_key(&records, 20, 60);
}

#[test]
fn aggregated_records_are_tailed_one_by_one() {
    let server = TestServer::start();
    ok(&server, &["streams", "create", "agg"], b"");
    let lines: String = (0..500).map(|i| format!("line {i}\n")).collect();
    ok(&server, &["put", "agg", "--aggregate", "--partition-key", "p"], lines.as_bytes());
    let out = ok(&server, &["tail", "agg", "--from", "trim-horizon", "--max-records", "500"], b"");
    assert_eq!(out, lines, "raw format: the data of each user record, in order");
    let positions = ok(
        &server,
        &["tail", "agg", "--from", "trim-horizon", "--format", "base64", "--max-records", "2"],
        b"",
    );
    let sub_positions: Vec<&str> = positions.lines().map(|l| l.split(' ').nth(1).unwrap()).collect();
    assert!(sub_positions[0].ends_with(".0") && sub_positions[1].ends_with(".1"), "{positions}");
}

#[test]
fn failures_say_what_went_wrong_and_exit_non_zero() {
    let server = TestServer::start();
    let output = kinesin(&server, &["put", "missing"], b"a\n");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot put into missing"), "{stderr}");

    ok(&server, &["streams", "create", "s"], b"");
    let output = kinesin(&server, &["put", "s", "--format", "json"], b"{\"a\":1}\nnot json\n");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("line 2 is not JSON"), "{stderr}");
    assert!(stderr.contains("put 1 records"), "what was read before is still put: {stderr}");

    let nobody = Command::new(binary())
        .args(["streams", "ls", "--endpoint-url", "http://127.0.0.1:1"])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    assert!(!nobody.status.success());
    let stderr = String::from_utf8_lossy(&nobody.stderr);
    assert!(stderr.contains("ListStreams at http://127.0.0.1:1 failed"), "{stderr}");
    assert!(stderr.contains("kinesin serve"), "{stderr}");
}

#[test]
fn delete_waits_until_the_stream_is_gone() {
    let server = TestServer::start();
    ok(&server, &["streams", "create", "gone", "--on-demand"], b"");
    assert!(ok(&server, &["streams", "ls"], b"").contains("gone  ACTIVE  ON_DEMAND"));
    ok(&server, &["streams", "delete", "gone"], b"");
    assert!(!ok(&server, &["streams", "ls"], b"").contains("gone"));
}

/// A running `kinesin tail --app` and every line it printed so far.
struct Worker {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Worker {
    fn start(server: &TestServer, args: &[&str]) -> Worker {
        let mut child = command(server, args).stdin(Stdio::null()).stdout(Stdio::piped()).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let lines: Arc<Mutex<Vec<String>>> = Arc::default();
        let collected = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                collected.lock().unwrap().push(line);
            }
        });
        Worker { child, lines }
    }

    /// (shard, sequence number, data) of each record printed, in order.
    fn printed(&self) -> Vec<(String, String, String)> {
        self.lines.lock().unwrap().iter().map(|line| printed_record(line)).collect()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn printed_record(json_line: &str) -> (String, String, String) {
    use base64::Engine as _;
    let record: serde_json::Value = serde_json::from_str(json_line).unwrap();
    let data = base64::engine::general_purpose::STANDARD.decode(record["data"].as_str().unwrap()).unwrap();
    (
        record["shardId"].as_str().unwrap().to_owned(),
        record["sequenceNumber"].as_str().unwrap().to_owned(),
        String::from_utf8(data).unwrap(),
    )
}

/// Waits up to `patience` for `done`, polling every 100 ms; panics with `what` otherwise.
async fn wait_until<F: std::future::Future<Output = bool>>(
    patience: Duration,
    what: &str,
    mut done: impl FnMut() -> F,
) {
    let deadline = Instant::now() + patience;
    while !done().await {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tail_app_workers_split_the_shards_and_take_over_from_a_killed_one() {
    tail_app_workers_split_and_take_over(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tail_app_workers_with_fan_out_split_the_shards_and_take_over_from_a_killed_one() {
    tail_app_workers_split_and_take_over(&["--efo", "tailers-efo"]).await;
}

/// Two `tail --app` workers share a 4-shard stream; records are put, one worker is killed with
/// SIGKILL, more records are put. Every record put must be in the union of their outputs, and
/// a record printed by both only if the killed worker had not checkpointed it.
async fn tail_app_workers_split_and_take_over(retrieval_args: &[&str]) {
    const APP: &str = "tailers";
    let server = TestServer::start();
    let dynamodb = dynamodb_client(&server);
    ok(&server, &["streams", "create", "orders", "--shards", "4"], b"");
    let mut args = vec!["tail", "orders", "--app", APP, "--from", "trim-horizon", "--format", "json"];
    args.extend_from_slice(retrieval_args);
    let first = Worker::start(&server, &args);
    let second = Worker::start(&server, &args);
    wait_until(Duration::from_secs(30), "the two workers did not split the shards two and two", || async {
        let owners = owners(&dynamodb, APP).await;
        let mut counts: HashMap<&String, usize> = HashMap::new();
        owners.values().for_each(|owner| *counts.entry(owner).or_default() += 1);
        owners.len() == 4 && counts.len() == 2 && counts.values().all(|n| *n == 2)
    })
    .await;

    let put = ["put", "orders", "--format", "json", "--partition-key-field", "key"];
    let lines = numbered_lines(40, 50);
    let (before, after) = lines.split_at(lines.len() / 2);
    ok(&server, &put, before.as_bytes());
    wait_until(Duration::from_secs(30), "both workers print", || async {
        !first.printed().is_empty() && !second.printed().is_empty()
    })
    .await;

    // The first worker dies without a goodbye; its checkpoints stay as they were.
    let mut first = first;
    let first_printed = first.printed();
    let first_shards: HashSet<String> = first_printed.iter().map(|(shard, _, _)| shard.clone()).collect();
    let first_id = owners(&dynamodb, APP).await[first_shards.iter().next().unwrap()].clone();
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let killed = Instant::now();
    let first_printed = first.printed();
    let checkpoints_at_kill = checkpoints(&dynamodb, APP).await;
    let leases_moved = {
        let dynamodb = dynamodb.clone();
        tokio::spawn(async move {
            while owners(&dynamodb, APP).await.values().any(|owner| *owner == first_id) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            killed.elapsed()
        })
    };
    ok(&server, &put, after.as_bytes());

    let all: HashSet<String> = lines.lines().map(str::to_owned).collect();
    wait_until(Duration::from_secs(60), "not every record put was printed", || {
        let union: HashSet<String> =
            first_printed.iter().chain(second.printed().iter()).map(|(_, _, data)| data.clone()).collect();
        let complete = union == all;
        async move { complete }
    })
    .await;
    let second_printed = second.printed();
    let takeover = second_printed.iter().any(|(shard, _, _)| first_shards.contains(shard));
    assert!(takeover, "the second worker printed nothing of the first one's shards");
    println!(
        "{retrieval_args:?}: the killed worker's leases taken {:?} after the kill, all records printed after {:?}",
        leases_moved.await.unwrap(),
        killed.elapsed()
    );

    // A record printed by both lies after the first worker's last checkpoint of its shard.
    let first_seen: HashSet<&String> = first_printed.iter().map(|(_, _, data)| data).collect();
    let mut duplicates = 0;
    for (shard, sequence_number, data) in &second_printed {
        if first_seen.contains(data) {
            duplicates += 1;
            // Sequence numbers are decimal integers beyond u128: compare length, then digits.
            let numeric = |s: &str| (s.len(), s.to_owned());
            let checkpoint = checkpoints_at_kill.get(shard).filter(|c| c.bytes().all(|b| b.is_ascii_digit()));
            assert!(
                checkpoint.is_none_or(|c| numeric(sequence_number) > numeric(c)),
                "{data} of {shard} printed again though checkpointed at {checkpoint:?}"
            );
        }
    }
    for printed in [&first_printed, &second_printed] {
        let distinct: HashSet<&String> = printed.iter().map(|(_, _, data)| data).collect();
        assert_eq!(distinct.len(), printed.len(), "a worker printed a record twice");
    }
    println!("{retrieval_args:?}: {} records, {duplicates} printed by both", all.len());
}
