//! `kinesin streams`, `put` and `tail` against the real server, run as a user runs them: the
//! binary, stdin and stdout, the endpoint from `AWS_ENDPOINT_URL`.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::{binary, TestServer};

/// Runs `kinesin <args>` against `server`, feeding `stdin`; the environment names the server
/// the way the AWS CLI's users do, and leaves no profile or credentials of the machine in play.
fn kinesin(server: &TestServer, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(binary())
        .args(args)
        .env("AWS_ENDPOINT_URL", server.endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env_remove("AWS_ENDPOINT_URL_KINESIS")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
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
