//! The servers under test: kinesin and the baseline spawned from this executable, peers started
//! from a command line, or endpoints already running. Spawned servers get a fresh port and data
//! directory, their start-up time is measured, and they are killed when the run ends.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::client::{Client, Mode};

const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// The open-shard limit of a kinesin the harness starts: far above what a run creates, since
/// the bench measures speed, not the account limit (500 by default).
const SHARD_LIMIT: &str = "1000000";

#[derive(Debug, Clone)]
pub enum Kind {
    /// `kinesin serve` with this durability (`fsync` or `os`).
    Kinesin(String),
    Baseline,
    /// A command run through `sh -c`, with `{port}`, `{port2}` (a second free port) and `{dir}`
    /// substituted.
    Peer(String),
    /// Already running; not started or stopped by the harness.
    External,
}

pub struct Target {
    pub name: String,
    pub kind: Kind,
    pub endpoint: String,
    pub pid: Option<u32>,
    /// Spawn to first answer, in milliseconds.
    pub startup_ms: Option<f64>,
    /// Start-up again after a kill -9 with the run's data in place (kinesin only).
    pub restart_ms: Option<f64>,
    child: Option<Child>,
    data_dir: PathBuf,
    log: PathBuf,
}

impl Target {
    pub fn external(name: &str, endpoint: &str, pid: Option<u32>) -> Target {
        Target {
            name: name.into(),
            kind: Kind::External,
            endpoint: endpoint.trim_end_matches('/').into(),
            pid,
            startup_ms: None,
            restart_ms: None,
            child: None,
            data_dir: PathBuf::new(),
            log: PathBuf::new(),
        }
    }

    /// Starts the server and waits until it answers. `work` holds data directories and logs.
    pub async fn spawn(name: &str, kind: Kind, work: &Path, region: &str) -> Result<Target, String> {
        let data_dir = work.join(format!("{name}-data"));
        std::fs::create_dir_all(&data_dir)
            .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
        let log = work.join(format!("{name}.log"));
        let mut target = Target {
            name: name.into(),
            kind,
            endpoint: String::new(),
            pid: None,
            startup_ms: None,
            restart_ms: None,
            child: None,
            data_dir,
            log,
        };
        target.startup_ms = Some(target.launch(region).await?);
        Ok(target)
    }

    /// Starts (or restarts) the process; answers the start-up time in milliseconds.
    async fn launch(&mut self, region: &str) -> Result<f64, String> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| format!("cannot open {}: {e}", self.log.display()))?;
        let exe = std::env::current_exe().map_err(|e| format!("cannot find the kinesin executable: {e}"))?;
        let started = Instant::now();
        match self.kind.clone() {
            Kind::Kinesin(durability) => {
                let mut command = Command::new(exe);
                command
                    .args(["serve", "--port", "0", "--durability", &durability, "--region", region])
                    .args(["--create-stream-ms", "0", "--delete-stream-ms", "0", "--update-stream-ms", "0"])
                    // Room for `--shards 5000` (and more) on every bench stream at once.
                    .args(["--shard-limit", SHARD_LIMIT])
                    // Parallel servers must not collide on the default admin port.
                    .args(["--admin-port", "0"])
                    .arg("--data-dir")
                    .arg(&self.data_dir)
                    .env("KINESIN_LOG", "warn");
                self.endpoint = self.start_announced(command, log, "kinesin listening on ")?;
            }
            Kind::Baseline => {
                let mut command = Command::new(exe);
                command.args(["bench", "--serve-baseline"]);
                self.endpoint = self.start_announced(command, log, "baseline listening on ")?;
            }
            Kind::Peer(template) => {
                let (port, port2) = free_ports()?;
                let line = template
                    .replace("{port}", &port.to_string())
                    .replace("{port2}", &port2.to_string())
                    .replace("{dir}", &self.data_dir.to_string_lossy());
                let mut command = Command::new("sh");
                // `exec` so that the PID is the server's own (for /proc sampling and the kill).
                command
                    .arg("-c")
                    .arg(format!("exec {line}"))
                    .stdin(Stdio::null())
                    .stdout(log.try_clone().map_err(|e| e.to_string())?)
                    .stderr(log);
                let child = command.spawn().map_err(|e| format!("cannot start {}: {e}", self.name))?;
                self.pid = Some(child.id());
                self.child = Some(child);
                self.endpoint = format!("http://127.0.0.1:{port}");
            }
            Kind::External => return Err("an external endpoint cannot be started".into()),
        }
        let client = Client::new(Mode::Sdk, &self.endpoint, region)?;
        // A server that dies at start-up is reported at once, not after the whole timeout.
        let ready = tokio::select! {
            ready = client.wait_ready(STARTUP_TIMEOUT) => ready,
            status = self.exited() => {
                return Err(format!("{} exited ({status}) before answering{}", self.name, self.log_tail()));
            }
        };
        if let Err(err) = ready {
            return Err(format!("{}: {err}{}", self.name, self.log_tail()));
        }
        Ok(started.elapsed().as_secs_f64() * 1000.0)
    }

    /// Resolves when the started process has exited (never, for none).
    async fn exited(&mut self) -> std::process::ExitStatus {
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The end of the server's output, for an error message: the run's directory, log
    /// included, is removed when the harness stops.
    fn log_tail(&self) -> String {
        const LINES: usize = 20;
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        match lines.len() {
            0 => "; it printed nothing".to_owned(),
            n => format!("; the end of its output:\n{}", lines[n.saturating_sub(LINES)..].join("\n")),
        }
    }

    /// Spawns a command that prints `<prefix>http://HOST:PORT` on stdout when ready; answers the URL.
    fn start_announced(&mut self, mut command: Command, log: File, prefix: &str) -> Result<String, String> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.name))?;
        self.pid = Some(child.id());
        let stdout = child.stdout.take().expect("stdout is piped");
        self.child = Some(child);
        let (tx, rx) = mpsc::channel();
        let prefix = prefix.to_owned();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix(&prefix) {
                    let _ = tx.send(url.trim().to_owned());
                    break;
                }
            }
            // Keep draining so the server never blocks on a full pipe.
            for _ in lines {}
        });
        rx.recv_timeout(STARTUP_TIMEOUT)
            .map_err(|_| format!("{} did not announce its address{}", self.name, self.log_tail()))
    }

    /// Kills the server with SIGKILL and starts it again on the same data directory; records the
    /// second start-up time (recovery included). Only for spawned kinesin.
    pub async fn restart(&mut self, region: &str) -> Result<(), String> {
        if !matches!(self.kind, Kind::Kinesin(_)) {
            return Ok(());
        }
        self.stop();
        self.restart_ms = Some(self.launch(region).await?);
        Ok(())
    }

    /// Stops the server as an operator does (SIGTERM) and waits until it has exited; answers
    /// how long that took, in milliseconds.
    pub async fn stop_cleanly(&mut self) -> Result<f64, String> {
        let Some(child) = self.child.as_ref() else {
            return Err(format!("{} was not started by the harness", self.name));
        };
        let started = Instant::now();
        // SAFETY: kill(2) with a PID of our own child and a valid signal number.
        if unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) } != 0 {
            return Err(format!("cannot signal {}: {}", self.name, std::io::Error::last_os_error()));
        }
        let status = self.exited().await;
        self.child = None;
        if !status.success() {
            return Err(format!("{} exited with {status} on SIGTERM{}", self.name, self.log_tail()));
        }
        Ok(started.elapsed().as_secs_f64() * 1000.0)
    }

    /// Starts the stopped server again on its data directory; answers the start-up time in
    /// milliseconds (until it answers ListStreams).
    pub async fn start_again(&mut self, region: &str) -> Result<f64, String> {
        self.launch(region).await
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn is_baseline(&self) -> bool {
        matches!(self.kind, Kind::Baseline)
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Two distinct free ports (both listeners are open at once, so they differ).
fn free_ports() -> Result<(u16, u16), String> {
    let bind = || std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"));
    let (a, b) = (bind()?, bind()?);
    let port = |l: &std::net::TcpListener| l.local_addr().map(|a| a.port()).map_err(|e| e.to_string());
    Ok((port(&a)?, port(&b)?))
}
