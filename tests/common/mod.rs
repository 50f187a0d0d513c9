//! Shared harness for the end-to-end tests: a `TestServer` that runs the real `kinesin` binary in
//! a fresh temporary data directory, SDK clients pointed at it, and raw HTTP helpers (HTTP/1.1
//! and h2c) for JSON and CBOR bodies.
//!
//! Every test starts its own server (or at least uses unique stream names), so the tests are
//! independent and can run in parallel.

#![allow(dead_code)]

pub mod faulty_proxy;
pub mod leases;

use std::collections::HashMap;
use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_kinesis::config::retry::RetryConfig;
use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::types::{ConsumerStatus, Shard, ShardIteratorType, StreamStatus};
use aws_sdk_kinesis::Client;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::HeaderMap;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;

pub const ACCOUNT: &str = "000000000000";
pub const REGION: &str = "us-east-1";
pub const JSON: &str = "application/x-amz-json-1.1";
pub const CBOR: &str = "application/x-amz-cbor-1.1";

/// How long to wait for the `kinesin listening on …` line.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// The server executable: `KINESIN_E2E_BIN` if set (handy for running a prebuilt binary),
/// otherwise the `kinesin` binary Cargo built for these tests.
pub fn binary() -> PathBuf {
    match std::env::var_os("KINESIN_E2E_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_kinesin")),
    }
}

/// Options for starting a server. `Default` gives the harness defaults: fsync durability, all
/// stream-state transition delays 0, default account, region and shard limit.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// `fsync` or `os`.
    pub durability: String,
    pub shard_limit: Option<u32>,
    pub account_id: Option<String>,
    pub region: Option<String>,
    /// `--create-stream-ms`, `--delete-stream-ms`, `--update-stream-ms` (0 by default).
    pub create_stream_ms: u64,
    pub delete_stream_ms: u64,
    pub update_stream_ms: u64,
    /// Extra command-line arguments appended after the defaults.
    pub extra_args: Vec<String>,
    /// Extra environment variables for the child.
    pub env: Vec<(String, String)>,
    /// `--admin-port`: `0` by default, so that parallel servers never collide on 4568.
    pub admin_port: String,
    /// RLIMIT_NOFILE of the child, soft and hard (as `ulimit -n` sets it).
    pub open_files_limit: Option<u64>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            durability: "fsync".to_string(),
            shard_limit: None,
            account_id: None,
            region: None,
            create_stream_ms: 0,
            delete_stream_ms: 0,
            update_stream_ms: 0,
            extra_args: Vec::new(),
            env: Vec::new(),
            admin_port: "0".to_string(),
            open_files_limit: None,
        }
    }
}

impl ServerOptions {
    pub fn durability(mut self, d: &str) -> Self {
        self.durability = d.to_string();
        self
    }
    pub fn shard_limit(mut self, n: u32) -> Self {
        self.shard_limit = Some(n);
        self
    }
    pub fn account_id(mut self, id: &str) -> Self {
        self.account_id = Some(id.to_string());
        self
    }
    pub fn region(mut self, r: &str) -> Self {
        self.region = Some(r.to_string());
        self
    }
    /// Stream-state transition delays: create, delete, update (milliseconds).
    pub fn transition_ms(mut self, create: u64, delete: u64, update: u64) -> Self {
        self.create_stream_ms = create;
        self.delete_stream_ms = delete;
        self.update_stream_ms = update;
        self
    }
    pub fn arg(mut self, a: &str) -> Self {
        self.extra_args.push(a.to_string());
        self
    }
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_string(), value.to_string()));
        self
    }
    pub fn admin_port(mut self, port: &str) -> Self {
        self.admin_port = port.to_string();
        self
    }
    /// Starts the child with at most `n` open files, soft and hard limit alike.
    pub fn open_files_limit(mut self, n: u64) -> Self {
        self.open_files_limit = Some(n);
        self
    }
}

/// Makes `cmd`'s child start with RLIMIT_NOFILE `n` (soft and hard).
pub fn limit_open_files(cmd: &mut Command, n: u64) {
    use std::os::unix::process::CommandExt;
    let limit = libc::rlimit { rlim_cur: n, rlim_max: n };
    // SAFETY: setrlimit is async-signal-safe and only reads `limit`, copied into the closure.
    unsafe {
        cmd.pre_exec(move || match libc::setrlimit(libc::RLIMIT_NOFILE, &limit) {
            0 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        });
    }
}

/// A running `kinesin serve` child process with its own temporary data directory.
///
/// The port is ephemeral (`--port 0`), so it changes on every (re)start: build new clients
/// (`client()`) after `restart()` / `start_again()`.
pub struct TestServer {
    root: tempfile::TempDir,
    data_dir: PathBuf,
    stderr_path: PathBuf,
    opts: ServerOptions,
    child: Option<Child>,
    port: u16,
    launches: u32,
    /// Every stdout line of the current launch but the listening line.
    stdout_lines: Arc<Mutex<Vec<String>>>,
}

impl TestServer {
    /// Starts a server with the default options (fsync durability).
    pub fn start() -> TestServer {
        Self::start_with(ServerOptions::default())
    }

    pub fn start_with(opts: ServerOptions) -> TestServer {
        let root = tempfile::Builder::new().prefix("kinesin-e2e-").tempdir().expect("create temp dir");
        let data_dir = root.path().join("data");
        std::fs::create_dir_all(&data_dir).expect("create data dir");
        let stderr_path = root.path().join("server-stderr.log");
        let mut server = TestServer {
            root,
            data_dir,
            stderr_path,
            opts,
            child: None,
            port: 0,
            launches: 0,
            stdout_lines: Arc::default(),
        };
        server.launch();
        server
    }

    fn launch(&mut self) {
        assert!(self.child.is_none(), "server already running");
        self.launches += 1;
        let stderr_file =
            OpenOptions::new().create(true).append(true).open(&self.stderr_path).expect("open stderr log");
        let stderr_start = stderr_file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut cmd = Command::new(binary());
        cmd.arg("serve")
            .args(["--port", "0", "--host", "127.0.0.1"])
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--create-stream-ms", &self.opts.create_stream_ms.to_string()])
            .args(["--delete-stream-ms", &self.opts.delete_stream_ms.to_string()])
            .args(["--update-stream-ms", &self.opts.update_stream_ms.to_string()])
            .args(["--durability", &self.opts.durability])
            .args(["--admin-port", &self.opts.admin_port]);
        if let Some(n) = self.opts.shard_limit {
            cmd.args(["--shard-limit", &n.to_string()]);
        }
        if let Some(a) = &self.opts.account_id {
            cmd.args(["--account-id", a]);
        }
        if let Some(r) = &self.opts.region {
            cmd.args(["--region", r]);
        }
        cmd.args(&self.opts.extra_args);
        // Keep the developer's environment from leaking settings into the child.
        for (k, _) in std::env::vars() {
            if k.starts_with("KINESIN_") {
                cmd.env_remove(k);
            }
        }
        for (k, v) in &self.opts.env {
            cmd.env(k, v);
        }
        if let Some(n) = self.opts.open_files_limit {
            limit_open_files(&mut cmd, n);
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::from(stderr_file));
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("failed to spawn {}: {e}", binary().display()));
        let stdout = child.stdout.take().expect("child stdout");
        let (tx, rx) = mpsc::channel::<Result<String, String>>();
        self.stdout_lines = Arc::default();
        let later_lines = Arc::clone(&self.stdout_lines);
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut sent = false;
            let mut seen = String::new();
            loop {
                let mut line = String::new();
                match reader.read_line(&mut line) {
                    Ok(0) => {
                        if !sent {
                            let _ = tx.send(Err(format!(
                                "stdout closed before the listening line; stdout was: {seen:?}"
                            )));
                        }
                        return;
                    }
                    Ok(_) => {
                        if !sent && line.starts_with("kinesin listening on ") {
                            let _ = tx.send(Ok(line.trim().to_string()));
                            sent = true;
                        } else {
                            seen.push_str(&line);
                            later_lines.lock().unwrap().push(line.trim_end().to_string());
                        }
                        // Keep draining so the child never blocks on a full pipe.
                    }
                    Err(e) => {
                        if !sent {
                            let _ = tx.send(Err(format!("reading stdout: {e}")));
                        }
                        return;
                    }
                }
            }
        });
        let line = match rx.recv_timeout(STARTUP_TIMEOUT) {
            Ok(Ok(line)) => line,
            Ok(Err(why)) => {
                let status = child.try_wait().ok().flatten();
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "kinesin (launch #{}) did not start: {why}; exit status {status:?}\n--- stderr ---\n{}",
                    self.launches,
                    self.stderr_since(stderr_start)
                );
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "kinesin (launch #{}) printed no `kinesin listening on http://HOST:PORT` line within {:?}\n--- stderr ---\n{}",
                    self.launches,
                    STARTUP_TIMEOUT,
                    self.stderr_since(stderr_start)
                );
            }
        };
        let url = line.trim_start_matches("kinesin listening on ").trim();
        let port = url
            .strip_prefix("http://127.0.0.1:")
            .and_then(|p| p.trim_end_matches('/').parse::<u16>().ok())
            .unwrap_or_else(|| panic!("unexpected listening line {line:?}"));
        assert_ne!(port, 0, "server reported port 0");
        self.port = port;
        self.child = Some(child);
    }

    fn stderr_since(&self, offset: u64) -> String {
        let mut s = String::new();
        if let Ok(mut f) = File::open(&self.stderr_path) {
            let _ = f.read_to_string(&mut s);
        }
        let start = (offset as usize).min(s.len());
        let tail = &s[start..];
        // Keep panic messages readable.
        if tail.len() > 20_000 {
            format!("…{}", &tail[tail.len() - 20_000..])
        } else {
            tail.to_string()
        }
    }

    /// The first stdout line of the current launch that starts with `prefix` (such as
    /// `kinesin tls on `), waiting up to 5 s for it.
    pub fn stdout_line(&self, prefix: &str) -> Option<String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let found = self.stdout_lines.lock().unwrap().iter().find(|l| l.starts_with(prefix)).cloned();
            if found.is_some() || Instant::now() > deadline {
                return found;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Everything the server has written to stderr so far (all launches).
    pub fn stderr(&self) -> String {
        self.stderr_since(0)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(c) => c.try_wait().ok().flatten().is_none(),
            None => false,
        }
    }

    /// An SDK client with the SDK's default (standard) retry policy.
    pub fn client(&self) -> Client {
        client_for(&self.endpoint(), RetryConfig::standard())
    }

    /// An SDK client that never retries: every failure is reported as it happened.
    pub fn client_no_retry(&self) -> Client {
        client_for(&self.endpoint(), RetryConfig::disabled())
    }

    /// Graceful restart: SIGTERM (falling back to SIGKILL after 5 s), then start again on the
    /// same data directory. The port changes.
    pub fn restart(&mut self) {
        self.stop_gracefully();
        self.launch();
    }

    /// `http://127.0.0.1:PORT` of the admin port (`/health`, `/ready`), from its stdout line.
    pub fn admin_endpoint(&self) -> String {
        let line = self.stdout_line("kinesin admin on ").expect("no `kinesin admin on` line on stdout");
        line.trim_start_matches("kinesin admin on ").to_owned()
    }

    /// Sends `signal` (`TERM`, `INT`) and waits up to `patience` for the server to exit; returns
    /// its exit status (the server stays down until `start_again()`).
    pub fn signal_and_wait(&mut self, signal: &str, patience: Duration) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("server running");
        let pid = child.id().to_string();
        assert!(Command::new("kill").args([&format!("-{signal}"), &pid]).status().unwrap().success());
        let deadline = Instant::now() + patience;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("kinesin did not exit within {patience:?} of SIG{signal}\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL the server (no chance to flush anything) and wait for it to die. The server stays
    /// down until `start_again()`.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            // std's Child::kill is SIGKILL on unix.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start again on the same data directory after `kill9()` (or `stop_gracefully()`).
    pub fn start_again(&mut self) {
        self.launch();
    }

    /// SIGTERM and wait up to 5 s; SIGKILL if it has not exited by then.
    pub fn stop_gracefully(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id().to_string();
            let sent =
                Command::new("kill").args(["-TERM", &pid]).status().map(|s| s.success()).unwrap_or(false);
            if sent {
                let deadline = Instant::now() + Duration::from_secs(5);
                while Instant::now() < deadline {
                    if let Ok(Some(_)) = child.try_wait() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts `kinesin serve` with `args` (after `--port 0`, a fresh `--data-dir` and
/// `--admin-port off`) and `env`, expecting it to fail at start-up; returns its stderr.
pub fn start_fails(args: &[&str], env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(binary());
    command
        .arg("serve")
        .args(["--port", "0", "--data-dir"])
        .arg(dir.path().join("data"))
        // Nothing printed, and parallel tests never collide on the admin port.
        .args(["--admin-port", "off"])
        .args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("KINESIN_") {
            command.env_remove(k);
        }
    }
    command.envs(env.iter().copied());
    let mut child =
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("kinesin serve {args:?} did not stop");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = child.wait_with_output().unwrap();
    assert!(!status.success(), "kinesin serve {args:?} started");
    assert!(output.stdout.is_empty(), "printed {:?}", String::from_utf8_lossy(&output.stdout));
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The SDK configuration exactly as a user without aws-config would build it.
pub fn config_for(endpoint: &str, retry: RetryConfig) -> aws_sdk_kinesis::config::Builder {
    aws_sdk_kinesis::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("AKIDEXAMPLE", "secret", None, None, "test"))
        .retry_config(retry)
}

/// The SDK client exactly as a user without aws-config would build it.
pub fn client_for(endpoint: &str, retry: RetryConfig) -> Client {
    Client::from_conf(config_for(endpoint, retry).build())
}

/// The HTTPS side of a server started with `--tls-port`, from its `kinesin tls on
/// https://HOST:PORT (certificate: PATH)` stdout line.
pub struct TlsEndpoint {
    pub port: u16,
    pub certificate: PathBuf,
    pub pem: Vec<u8>,
}

impl TlsEndpoint {
    pub fn of(server: &TestServer) -> TlsEndpoint {
        let line = server.stdout_line("kinesin tls on ").expect("no `kinesin tls on` line on stdout");
        let rest =
            line.strip_prefix("kinesin tls on https://127.0.0.1:").unwrap_or_else(|| panic!("{line:?}"));
        let (port, rest) = rest.split_once(' ').unwrap_or_else(|| panic!("{line:?}"));
        let certificate = rest
            .strip_prefix("(certificate: ")
            .and_then(|r| r.strip_suffix(')'))
            .unwrap_or_else(|| panic!("{line:?}"));
        let certificate = PathBuf::from(certificate);
        let pem = std::fs::read(&certificate).expect("read the certificate");
        TlsEndpoint { port: port.parse().unwrap(), certificate, pem }
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }
}

/// A stream name unique within this test process.
pub fn unique_name(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!("{prefix}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

pub fn stream_arn(name: &str) -> String {
    format!("arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}")
}

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

// ---------------------------------------------------------------------------------------------
// Stream helpers
// ---------------------------------------------------------------------------------------------

/// CreateStream (provisioned, `shards` shards) and wait until the stream is ACTIVE.
pub async fn create_stream_and_wait(client: &Client, name: &str, shards: i32) {
    client
        .create_stream()
        .stream_name(name)
        .shard_count(shards)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateStream {name} ({shards} shards): {}", show(&e)));
    wait_active(client, name).await;
}

/// Poll DescribeStreamSummary until the stream is ACTIVE (at most 10 s).
pub async fn wait_active(client: &Client, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match client.describe_stream_summary().stream_name(name).send().await {
            Ok(out) => {
                let status = out.stream_description_summary().map(|s| s.stream_status().clone());
                if status == Some(StreamStatus::Active) {
                    return;
                }
                if Instant::now() > deadline {
                    panic!("stream {name} not ACTIVE after 10 s: {status:?}");
                }
            }
            Err(e) => {
                if Instant::now() > deadline {
                    panic!("stream {name} never became ACTIVE: {}", show(&e));
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Registers a consumer and waits until it is ACTIVE; returns its ARN.
pub async fn active_consumer(client: &Client, stream_arn: &str, name: &str) -> String {
    let out = client
        .register_stream_consumer()
        .stream_arn(stream_arn)
        .consumer_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("RegisterStreamConsumer {name}: {}", show(&e)));
    let arn = out.consumer().unwrap().consumer_arn().to_owned();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let described = client.describe_stream_consumer().consumer_arn(&arn).send().await.unwrap();
        if *described.consumer_description().unwrap().consumer_status() == ConsumerStatus::Active {
            return arn;
        }
        assert!(Instant::now() < deadline, "consumer {name} never became ACTIVE");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every shard of a stream via ListShards (all pages).
pub async fn list_all_shards(client: &Client, name: &str) -> Vec<Shard> {
    let mut shards = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..1000 {
        let req = match &token {
            Some(t) => client.list_shards().next_token(t),
            None => client.list_shards().stream_name(name),
        };
        let out = req.send().await.unwrap_or_else(|e| panic!("ListShards {name}: {}", show(&e)));
        shards.extend(out.shards().iter().cloned());
        match out.next_token() {
            Some(t) => token = Some(t.to_string()),
            None => return shards,
        }
    }
    panic!("ListShards never ended");
}

/// Read a whole shard from TRIM_HORIZON up to the tip, retrying throttled GetRecords calls.
pub async fn read_shard(
    client: &Client,
    stream: &str,
    shard_id: &str,
) -> Vec<aws_sdk_kinesis::types::Record> {
    let it = get_iterator(client, stream, shard_id, ShardIteratorType::TrimHorizon).await;
    read_from_iterator(client, it).await
}

pub async fn get_iterator(client: &Client, stream: &str, shard_id: &str, ty: ShardIteratorType) -> String {
    let mut attempts = 0;
    loop {
        match client
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(shard_id)
            .shard_iterator_type(ty.clone())
            .send()
            .await
        {
            Ok(out) => {
                return out.shard_iterator().expect("GetShardIterator returned no ShardIterator").to_string()
            }
            Err(e) if e.code() == Some("ProvisionedThroughputExceededException") && attempts < 50 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("GetShardIterator {stream}/{shard_id}: {}", show(&e)),
        }
    }
}

/// Follow NextShardIterator until a response is empty and reports MillisBehindLatest 0.
pub async fn read_from_iterator(
    client: &Client,
    mut iterator: String,
) -> Vec<aws_sdk_kinesis::types::Record> {
    let mut records = Vec::new();
    let mut throttles = 0;
    for _ in 0..10_000 {
        match client.get_records().shard_iterator(&iterator).send().await {
            Ok(out) => {
                let n = out.records().len();
                records.extend(out.records().iter().cloned());
                let behind = out.millis_behind_latest();
                match out.next_shard_iterator() {
                    Some(next) => iterator = next.to_string(),
                    None => return records, // closed shard fully read
                }
                if n == 0 && behind.unwrap_or(0) == 0 {
                    return records;
                }
            }
            Err(e) if e.code() == Some("ProvisionedThroughputExceededException") && throttles < 100 => {
                throttles += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("GetRecords: {}", show(&e)),
        }
    }
    panic!("GetRecords loop did not reach the tip");
}

// ---------------------------------------------------------------------------------------------
// Hash keys and routing
// ---------------------------------------------------------------------------------------------

/// MD5 of the UTF-8 partition key as an unsigned 128-bit big-endian integer
/// (`docs/protocol/sequence-numbers.md`, "Hash keys and routing").
pub fn partition_key_hash(pk: &str) -> u128 {
    use md5::{Digest, Md5};
    let digest = Md5::digest(pk.as_bytes());
    u128::from_be_bytes(digest.into())
}

/// floor(2^128 / n) computed without overflow.
pub fn hash_step(n: u128) -> u128 {
    let m = u128::MAX;
    m / n + if m % n == n - 1 { 1 } else { 0 }
}

/// The initial hash ranges of an `n`-shard stream as `docs/protocol/sequence-numbers.md`, "Initial
/// hash ranges", defines them.
pub fn expected_ranges(n: u32) -> Vec<(u128, u128)> {
    if n == 1 {
        return vec![(0, u128::MAX)];
    }
    let n128 = n as u128;
    let step = hash_step(n128);
    (0..n128)
        .map(|i| {
            let start = i * step;
            let end = if i == n128 - 1 { u128::MAX } else { (i + 1) * step - 1 };
            (start, end)
        })
        .collect()
}

/// The id of the open shard whose inclusive range contains `key`.
pub fn shard_for_key(shards: &[Shard], key: u128) -> String {
    for s in shards {
        if s.sequence_number_range().and_then(|r| r.ending_sequence_number()).is_some() {
            continue; // closed
        }
        let r = s.hash_key_range().expect("shard without HashKeyRange");
        let start: u128 = r.starting_hash_key().parse().expect("StartingHashKey");
        let end: u128 = r.ending_hash_key().parse().expect("EndingHashKey");
        if start <= key && key <= end {
            return s.shard_id().to_string();
        }
    }
    panic!("no open shard covers hash key {key}");
}

pub fn shard_id(i: u32) -> String {
    format!("shardId-{i:012}")
}

// ---------------------------------------------------------------------------------------------
// Sequence numbers (`docs/protocol/sequence-numbers.md`, "Sequence-number layout"): decimal → hex,
// so the 186-bit layout can be checked.
// ---------------------------------------------------------------------------------------------

/// Convert a decimal string of any length to lower-case hex (no leading zeros).
pub fn decimal_to_hex(dec: &str) -> String {
    assert!(!dec.is_empty() && dec.bytes().all(|b| b.is_ascii_digit()), "not decimal: {dec:?}");
    // Little-endian base-2^32 limbs.
    let mut limbs: Vec<u32> = vec![0];
    for b in dec.bytes() {
        let mut carry = (b - b'0') as u64;
        for l in limbs.iter_mut() {
            let v = (*l as u64) * 10 + carry;
            *l = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            limbs.push(carry as u32);
        }
    }
    let mut s = String::new();
    for (i, l) in limbs.iter().rev().enumerate() {
        if i == 0 {
            s.push_str(&format!("{l:x}"));
        } else {
            s.push_str(&format!("{l:08x}"));
        }
    }
    let t = s.trim_start_matches('0');
    if t.is_empty() {
        "0".to_string()
    } else {
        t.to_string()
    }
}

/// Compare two decimal strings numerically (no leading zeros assumed, as the API guarantees).
pub fn cmp_seq(a: &str, b: &str) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Fields of a version-2 sequence number (the table of `docs/protocol/sequence-numbers.md`,
/// "Sequence-number layout").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeqFields {
    pub shard_create_secs: u64,
    pub seq_ix: u64,
    pub record_secs: u64,
    pub shard_index: u32,
    pub version: u8,
}

pub fn parse_seq_v2(dec: &str) -> SeqFields {
    let hex = decimal_to_hex(dec);
    assert_eq!(hex.len(), 47, "sequence number {dec} is not 47 hex digits: {hex}");
    assert_eq!(&hex[0..1], "2", "lead nibble of {dec} ({hex})");
    let h = |a: usize, b: usize| u64::from_str_radix(&hex[a..b], 16).unwrap();
    SeqFields {
        shard_create_secs: h(1, 10),
        seq_ix: h(11, 27),
        record_secs: h(29, 38),
        shard_index: h(38, 46) as u32,
        version: h(46, 47) as u8,
    }
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Render an SDK error with its whole source chain.
pub fn show<E: std::error::Error>(e: &E) -> String {
    format!("{}", aws_sdk_kinesis::error::DisplayErrorContext(e))
}

/// Assert that `res` failed with the service error `code`; returns the error message.
#[track_caller]
pub fn expect_err<T: Debug, E: ProvideErrorMetadata + std::error::Error>(
    res: Result<T, E>,
    code: &str,
) -> String {
    match res {
        Ok(v) => panic!("expected {code}, but the call succeeded: {v:?}"),
        Err(e) => {
            assert_eq!(
                e.code(),
                Some(code),
                "expected error code {code}, got {:?} (message {:?}); full error: {}",
                e.code(),
                e.message(),
                show(&e)
            );
            e.message().unwrap_or_default().to_string()
        }
    }
}

/// Assert that `res` failed with one of `codes` (used where `docs/protocol/` marks the code
/// [assumed]).
#[track_caller]
pub fn expect_err_any<T: Debug, E: ProvideErrorMetadata + std::error::Error>(
    res: Result<T, E>,
    codes: &[&str],
) -> (String, String) {
    match res {
        Ok(v) => panic!("expected one of {codes:?}, but the call succeeded: {v:?}"),
        Err(e) => {
            let code = e.code().unwrap_or_default().to_string();
            assert!(
                codes.contains(&code.as_str()),
                "expected one of {codes:?}, got {code:?} (message {:?}); full error: {}",
                e.message(),
                show(&e)
            );
            (code, e.message().unwrap_or_default().to_string())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP (unsigned by the SDK; we add a syntactically complete SigV4 header)
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    }

    pub fn json(&self) -> serde_json::Value {
        if self.body.is_empty() {
            return serde_json::Value::Null;
        }
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("response body is not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body))
        })
    }

    pub fn cbor(&self) -> ciborium::Value {
        ciborium::de::from_reader(&self.body[..]).unwrap_or_else(|e| {
            panic!("response body is not CBOR ({e:?}): {:02x?}", &self.body[..self.body.len().min(200)])
        })
    }
}

/// A request to send with [`raw`].
#[derive(Debug, Clone)]
pub struct RawRequest {
    pub method: String,
    pub path: String,
    pub target: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub sign: bool,
    pub http2: bool,
    pub extra_headers: Vec<(String, String)>,
}

impl RawRequest {
    /// A signed `POST /` for `Kinesis_20131202.<op>`.
    pub fn op(op: &str, content_type: &str, body: Vec<u8>) -> RawRequest {
        RawRequest {
            method: "POST".into(),
            path: "/".into(),
            target: Some(format!("Kinesis_20131202.{op}")),
            content_type: Some(content_type.into()),
            body,
            sign: true,
            http2: false,
            extra_headers: Vec::new(),
        }
    }
    pub fn http2(mut self, on: bool) -> Self {
        self.http2 = on;
        self
    }
    pub fn unsigned(mut self) -> Self {
        self.sign = false;
        self
    }
    pub fn method(mut self, m: &str) -> Self {
        self.method = m.into();
        self
    }
    pub fn target(mut self, t: Option<&str>) -> Self {
        self.target = t.map(Into::into);
        self
    }
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.extra_headers.push((k.into(), v.into()));
        self
    }
}

/// (`X-Amz-Date` value, `yyyymmdd`) for now, in UTC.
pub fn amz_date() -> (String, String) {
    // yyyymmddThhmmssZ without a date library.
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (h, mi, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil from days (Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    let date = format!("{y:04}{m:02}{d:02}");
    (format!("{date}T{h:02}{mi:02}{s:02}Z"), date)
}

/// Send one raw request over HTTP/1.1 or h2c (HTTP/2 with prior knowledge).
pub async fn raw(endpoint: &str, req: RawRequest) -> RawResponse {
    let mut builder = HyperClient::builder(TokioExecutor::new());
    if req.http2 {
        builder.http2_only(true);
    }
    let client = builder.build_http::<Full<Bytes>>();
    let uri: hyper::Uri = format!("{endpoint}{}", req.path).parse().expect("uri");
    let mut b = hyper::Request::builder().method(req.method.as_str()).uri(uri);
    if let Some(t) = &req.target {
        b = b.header("x-amz-target", t);
    }
    if let Some(ct) = &req.content_type {
        b = b.header("content-type", ct);
    }
    if req.sign {
        let (amz, date) = amz_date();
        b = b.header("x-amz-date", &amz).header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{date}/{REGION}/kinesis/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
                 Signature=0000000000000000000000000000000000000000000000000000000000000000"
            ),
        );
    }
    for (k, v) in &req.extra_headers {
        b = b.header(k.as_str(), v.as_str());
    }
    let request = b.body(Full::new(Bytes::from(req.body))).expect("request");
    let resp = tokio::time::timeout(Duration::from_secs(30), client.request(request))
        .await
        .expect("raw request timed out")
        .unwrap_or_else(|e| panic!("raw request failed: {e:?}"));
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.expect("read response body").to_bytes();
    RawResponse { status, headers, body }
}

/// A signed JSON call over HTTP/1.1.
pub async fn json_call(endpoint: &str, op: &str, body: &serde_json::Value) -> RawResponse {
    raw(endpoint, RawRequest::op(op, JSON, serde_json::to_vec(body).unwrap())).await
}

/// A signed JSON call over h2c.
pub async fn json_call_h2(endpoint: &str, op: &str, body: &serde_json::Value) -> RawResponse {
    raw(endpoint, RawRequest::op(op, JSON, serde_json::to_vec(body).unwrap()).http2(true)).await
}

/// A signed CBOR call; the body is encoded the way the Java SDK v2 (Jackson) does it:
/// indefinite-length maps and arrays, definite-length strings.
pub async fn cbor_call(endpoint: &str, op: &str, body: &ciborium::Value, http2: bool) -> RawResponse {
    raw(endpoint, RawRequest::op(op, CBOR, cbor_java_style(body)).http2(http2)).await
}

// ---------------------------------------------------------------------------------------------
// CBOR encoding in the Java SDK v2's style
// ---------------------------------------------------------------------------------------------

fn cbor_head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    if n < 24 {
        out.push(m | n as u8);
    } else if n <= u8::MAX as u64 {
        out.push(m | 24);
        out.push(n as u8);
    } else if n <= u16::MAX as u64 {
        out.push(m | 25);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else if n <= u32::MAX as u64 {
        out.push(m | 26);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Encode a CBOR value like Jackson's CBORGenerator as driven by the Java SDK v2: maps and
/// arrays are indefinite-length (`bf … ff`, `9f … ff`); strings, byte strings, integers and tags
/// are definite. A tag-1 timestamp is written as `c1 1b <8-byte ms>` like `writeNumber(long)`.
pub fn cbor_java_style(v: &ciborium::Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_java(v, &mut out);
    out
}

fn encode_java(v: &ciborium::Value, out: &mut Vec<u8>) {
    use ciborium::Value as V;
    match v {
        V::Integer(i) => {
            let i: i128 = (*i).into();
            if i >= 0 {
                cbor_head(out, 0, i as u64);
            } else {
                cbor_head(out, 1, (-1 - i) as u64);
            }
        }
        V::Bytes(b) => {
            cbor_head(out, 2, b.len() as u64);
            out.extend_from_slice(b);
        }
        V::Text(s) => {
            cbor_head(out, 3, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
        V::Array(a) => {
            out.push(0x9f);
            for x in a {
                encode_java(x, out);
            }
            out.push(0xff);
        }
        V::Map(m) => {
            out.push(0xbf);
            for (k, x) in m {
                encode_java(k, out);
                encode_java(x, out);
            }
            out.push(0xff);
        }
        V::Tag(1, inner) => {
            out.push(0xc1);
            match &**inner {
                V::Integer(i) => {
                    // Jackson writes a long that does not fit in an int with 8 bytes.
                    let i: i128 = (*i).into();
                    out.push(0x1b);
                    out.extend_from_slice(&(i as u64).to_be_bytes());
                }
                other => encode_java(other, out),
            }
        }
        V::Tag(t, inner) => {
            cbor_head(out, 6, *t);
            encode_java(inner, out);
        }
        V::Bool(false) => out.push(0xf4),
        V::Bool(true) => out.push(0xf5),
        V::Null => out.push(0xf6),
        V::Float(f) => {
            out.push(0xfb);
            out.extend_from_slice(&f.to_be_bytes());
        }
        other => panic!("cannot encode {other:?}"),
    }
}

/// Build a CBOR map from `(key, value)` pairs with text keys.
pub fn cmap(pairs: Vec<(&str, ciborium::Value)>) -> ciborium::Value {
    ciborium::Value::Map(pairs.into_iter().map(|(k, v)| (ciborium::Value::Text(k.to_string()), v)).collect())
}

pub fn ctext(s: &str) -> ciborium::Value {
    ciborium::Value::Text(s.to_string())
}

/// Look up a text key in a CBOR map.
pub fn cget<'a>(v: &'a ciborium::Value, key: &str) -> Option<&'a ciborium::Value> {
    match v {
        ciborium::Value::Map(m) => {
            m.iter().find(|(k, _)| matches!(k, ciborium::Value::Text(t) if t == key)).map(|(_, v)| v)
        }
        _ => None,
    }
}

pub fn ctext_of(v: &ciborium::Value) -> Option<&str> {
    match v {
        ciborium::Value::Text(t) => Some(t.as_str()),
        _ => None,
    }
}

pub fn cint_of(v: &ciborium::Value) -> Option<i128> {
    match v {
        ciborium::Value::Integer(i) => Some((*i).into()),
        _ => None,
    }
}

/// A tiny map from shard id to the records acknowledged for it, used by the record tests.
pub type AckMap = HashMap<String, Vec<(String, Vec<u8>)>>;

/// The test virtualenv's Python (`.venv-tests`, with boto3), or `None` to skip the test; under
/// `CI=true` a missing venv fails the test instead.
pub fn venv_python() -> Option<PathBuf> {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-tests/bin/python");
    if python.exists() {
        return Some(python);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} is missing: .ci/run creates it (python3 -m venv .venv-tests && .venv-tests/bin/pip install boto3)",
        python.display()
    );
    eprintln!("skipping: no {} (create it as .ci/run does)", python.display());
    None
}

/// `kinesin ARGS` (the CLI subcommands) for `server`: the environment names the server the way
/// the AWS CLI's users do, and leaves no profile, credentials or endpoint override of the machine
/// in play. The caller chooses the standard streams.
pub fn cli_command(server: &TestServer, args: &[&str]) -> Command {
    let mut command = Command::new(binary());
    command
        .args(args)
        .env("AWS_ENDPOINT_URL", server.endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env_remove("AWS_ENDPOINT_URL_KINESIS")
        .env_remove("AWS_ENDPOINT_URL_DYNAMODB")
        .env_remove("AWS_ENDPOINT_URL_S3")
        .env_remove("AWS_PROFILE");
    command
}
