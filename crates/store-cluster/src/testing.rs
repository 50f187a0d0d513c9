//! PostgreSQL for tests (feature `testing`): [`TestPostgres`] is a fresh, empty database.
//!
//! With `KINESIN_TEST_POSTGRES` set (the URL of a server the caller started), it is a new
//! database on that server, dropped afterwards. Otherwise it is a new database on a private
//! server this test process starts at its first use: `initdb` into a temporary directory and
//! `postgres` on 127.0.0.1 at a free port, its unix socket in that directory, run as the
//! `postgres` user when the test runs as root (PostgreSQL refuses to run as root), without
//! fsync (tests of power loss need their own). A small shell keeper watches the test process:
//! when it ends, however it ends, the keeper stops the server and removes the directory.
//! [`TestPostgres::start_own`] gives a test a server of its own, for tests that stop it.
//!
//! When PostgreSQL is not installed the test is skipped with a note, except under `CI=true`,
//! where that fails it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tokio_postgres::NoTls;

pub mod seaweedfs;

/// The URL of a running server to create test databases on, instead of starting one.
pub const SERVER_ENV: &str = "KINESIN_TEST_POSTGRES";
/// The password of a private server's superuser, `postgres`.
const PASSWORD: &str = "kinesin-test";
/// How long a private server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Tries with another port when the free port found was taken meanwhile.
const PORT_ATTEMPTS: usize = 5;

/// A fresh PostgreSQL database for one test.
pub struct TestPostgres {
    url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    /// A database on this process's private server, which goes with the process.
    Nothing,
    /// A database on the caller's server: dropped with the test.
    DropDatabase { admin_url: String, database: String },
    /// A server of the test's own: stopped and removed with the test.
    StopServer(Server),
}

impl TestPostgres {
    /// A fresh, empty database; `None` (after printing why) when PostgreSQL is not installed,
    /// outside CI.
    pub async fn start() -> Option<TestPostgres> {
        if let Ok(admin_url) = std::env::var(SERVER_ENV) {
            let database = new_database(&admin_url).await;
            let url = with_database(&admin_url, &database);
            return Some(TestPostgres { url, cleanup: Cleanup::DropDatabase { admin_url, database } });
        }
        static SERVER: OnceLock<Server> = OnceLock::new();
        let bin = binaries()?;
        // Started on a thread of its own: a runtime cannot block on another inside it.
        let server = SERVER.get_or_init(|| std::thread::spawn(move || Server::start(&bin)).join().unwrap());
        let database = new_database(&server.admin_url).await;
        Some(TestPostgres { url: with_database(&server.admin_url, &database), cleanup: Cleanup::Nothing })
    }

    /// A server of this test's own, stopped and removed when dropped or [`stop`]ped; `None` as
    /// for [`start`].
    ///
    /// [`start`]: TestPostgres::start
    /// [`stop`]: TestPostgres::stop
    pub async fn start_own() -> Option<TestPostgres> {
        let bin = binaries()?;
        let server = tokio::task::spawn_blocking(move || Server::start(&bin)).await.unwrap();
        let database = new_database(&server.admin_url).await;
        Some(TestPostgres {
            url: with_database(&server.admin_url, &database),
            cleanup: Cleanup::StopServer(server),
        })
    }

    /// The URL of the test's database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL of another database on the same server (which need not exist).
    pub fn url_of(&self, database: &str) -> String {
        with_database(&self.url, database)
    }

    /// Stops a server of the test's own ([`start_own`](TestPostgres::start_own)) at once, as
    /// a crash would (`-m immediate`); its clients' connections fail from then on.
    pub fn stop(&mut self) {
        if let Cleanup::StopServer(server) = std::mem::replace(&mut self.cleanup, Cleanup::Nothing) {
            server.stop();
        }
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.cleanup, Cleanup::Nothing) {
            Cleanup::Nothing => {}
            Cleanup::StopServer(server) => server.stop(),
            Cleanup::DropDatabase { admin_url, database } => {
                let sql = format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)");
                // Drop may run inside a runtime, which cannot block on another future.
                let dropped = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
                    runtime.expect("a runtime").block_on(execute(&admin_url, &sql));
                });
                if dropped.join().is_err() {
                    eprintln!("could not drop the test database {database}");
                }
            }
        }
    }
}

/// Where `initdb` and `postgres` are; `None` after the note when they are not, outside CI.
fn binaries() -> Option<PathBuf> {
    let found = find_binaries();
    if found.is_none() {
        let what = "PostgreSQL is not installed (no initdb and postgres on PATH or in \
                    /usr/lib/postgresql/*/bin): install Debian's `postgresql` package \
                    (apt-get install -y postgresql), or set KINESIN_TEST_POSTGRES to the URL \
                    of a running server";
        if std::env::var("CI").is_ok_and(|ci| ci == "true") {
            panic!("{what}");
        }
        eprintln!("skipping this test: {what}");
    }
    found
}

/// Creates a database of a unique name on the server at `admin_url`.
async fn new_database(admin_url: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let database =
        format!("kinesin_test_{}_{}_{nanos}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
    execute(admin_url, &format!("CREATE DATABASE {database}")).await;
    database
}

/// A private server, and a keeper shell that stops it and removes its directory once the
/// keeper's standard input closes: when [`Server::stop`] closes it, or when the test process
/// ends, however it ends.
struct Server {
    admin_url: String,
    postgres: Child,
    keeper: Child,
}

/// The keeper: waits for the end of its input, then stops the server of the directory `$1` at
/// once (if it runs) and removes the directory.
const KEEPER: &str = r#"dir=$1
while read -r _; do :; done
pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null)
if [ -n "$pid" ]; then
    kill -QUIT "$pid" 2>/dev/null
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
fi
rm -rf "$dir""#;

impl Server {
    /// Creates and starts a server (blocking: call it off the runtime's threads).
    fn start(bin: &Path) -> Server {
        for _ in 0..PORT_ATTEMPTS {
            match Server::try_start(bin) {
                Ok(server) => return server,
                // Another process took the port between our look and postgres' bind.
                Err(log) if log.contains("could not bind") => continue,
                Err(log) => panic!("postgres did not start:\n{log}"),
            }
        }
        panic!("postgres found no free port in {PORT_ATTEMPTS} attempts");
    }

    /// One attempt, at one free port; the server's log if it fails.
    fn try_start(bin: &Path) -> Result<Server, String> {
        let dir = tempfile::Builder::new().prefix("kinesin-pg").tempdir().expect("a temporary directory");
        let keeper = Command::new("sh")
            .args(["-c", KEEPER, "keeper"])
            .arg(dir.path())
            .stdin(Stdio::piped())
            .spawn()
            .expect("start the keeper shell");
        // From here the keeper owns the directory.
        let dir = dir.keep();
        let owner = server_user();
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).expect("chown the test directory");
        }
        let data = dir.join("data");
        let password_file = dir.join("password");
        std::fs::write(&password_file, PASSWORD).expect("write the password file");
        let initdb = run_as(Command::new(bin.join("initdb")), owner)
            .args(["-D".as_ref(), data.as_os_str()])
            .args(["-U", "postgres"])
            .arg(format!("--pwfile={}", password_file.display()))
            // Passwords over TCP, as a real server asks (so tests can see a wrong one refused).
            .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
            .args(["-E", "UTF8", "--locale=C", "--no-sync"])
            .output()
            .expect("run initdb");
        assert!(initdb.status.success(), "initdb failed: {}", String::from_utf8_lossy(&initdb.stderr));

        let port = free_port();
        let log_path = dir.join("postgres.log");
        let postgres = run_as(Command::new(bin.join("postgres")), owner)
            .args(["-D".as_ref(), data.as_os_str(), "-k".as_ref(), dir.as_os_str()])
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
            // Fast start-up and no syncs: nothing here tests power loss.
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"])
            .args(["-c", "shared_buffers=16MB", "-c", "max_connections=300"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log_path).expect("the server's log file"))
            .spawn()
            .expect("start postgres");
        let admin_url = format!("postgres://postgres:{PASSWORD}@127.0.0.1:{port}/postgres");
        let mut server = Server { admin_url, postgres, keeper };
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        let started = Instant::now();
        loop {
            let failed = server.postgres.try_wait().expect("the server's status").is_some();
            if failed || started.elapsed() > START_TIMEOUT {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                server.stop();
                return Err(log);
            }
            let connected = runtime.block_on(async {
                let (client, connection) = tokio_postgres::connect(&server.admin_url, NoTls).await?;
                drop(client);
                connection.await
            });
            if connected.is_ok() {
                return Ok(server);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server at once and removes its directory.
    fn stop(mut self) {
        if let Ok(None) = self.postgres.try_wait() {
            // SAFETY: kill(2) on our own child's pid, which is not reaped yet.
            unsafe { libc::kill(self.postgres.id() as libc::pid_t, libc::SIGQUIT) };
            let _ = self.postgres.wait();
        }
        drop(self.keeper.stdin.take());
        let _ = self.keeper.wait();
    }
}

/// Runs one statement on the database at `url`; a failure fails the test.
async fn execute(url: &str, sql: &str) {
    let (client, connection) =
        tokio_postgres::connect(url, NoTls).await.unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    let connection = tokio::spawn(connection);
    client.batch_execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    drop(client);
    let _ = connection.await;
}

/// The directory holding both `initdb` and `postgres`: on PATH first, then the newest of
/// Debian's /usr/lib/postgresql/VERSION/bin.
fn find_binaries() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").map(|path| std::env::split_paths(&path).collect::<Vec<_>>());
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| entries.filter_map(|e| Some(e.ok()?.path().join("bin"))).collect())
        .unwrap_or_default();
    // Newest first: "16" before "15" (numerically, so "9.6" comes last).
    debian.sort_by_key(|dir| {
        let version = dir.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()).unwrap_or("");
        std::cmp::Reverse(version.split('.').next().and_then(|major| major.parse::<u32>().ok()).unwrap_or(0))
    });
    on_path
        .unwrap_or_default()
        .into_iter()
        .chain(debian)
        .find(|dir| dir.join("initdb").is_file() && dir.join("postgres").is_file())
}

/// The user and group to run PostgreSQL as: `postgres` when we are root (PostgreSQL refuses
/// to run as root), else ourselves (`None`).
fn server_user() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    // SAFETY: a NUL-terminated name; the entry is read before any other getpw* call.
    let entry = unsafe { libc::getpwnam(c"postgres".as_ptr()) };
    assert!(!entry.is_null(), "running as root, PostgreSQL needs a `postgres` user to run as (Debian's postgresql package creates it)");
    // SAFETY: checked non-null above.
    let entry = unsafe { &*entry };
    Some((entry.pw_uid, entry.pw_gid))
}

fn run_as(mut command: Command, owner: Option<(u32, u32)>) -> Command {
    use std::os::unix::process::CommandExt;
    if let Some((uid, gid)) = owner {
        command.uid(uid).gid(gid);
    }
    command
}

/// A TCP port free on 127.0.0.1 now.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("its address").port()
}

/// `url` with its database (the path) replaced.
fn with_database(url: &str, database: &str) -> String {
    let (before_query, query) = url.split_once('?').map_or((url, ""), |(b, q)| (b, q));
    let scheme_end = before_query.find("://").map_or(0, |i| i + 3);
    let authority_end = before_query[scheme_end..].find('/').map_or(before_query.len(), |i| scheme_end + i);
    let query = if query.is_empty() { String::new() } else { format!("?{query}") };
    format!("{}/{database}{query}", &before_query[..authority_end])
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_of_a_url_is_replaced() {
        assert_eq!(with_database("postgres://u:p@h:5/db", "x"), "postgres://u:p@h:5/x");
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
        assert_eq!(
            with_database("postgresql://h/db?sslmode=disable", "x"),
            "postgresql://h/x?sslmode=disable"
        );
    }
}
