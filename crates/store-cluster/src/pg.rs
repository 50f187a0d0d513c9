//! Opening the metadata database named by `--metadata postgres://…`: a pool of connections,
//! checked at once, with errors that tell the user what to do, and the schema migrated
//! ([`crate::schema`]).

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use kinesin_engine::storage::StoreError;
use tokio_postgres::config::Host;
use tokio_postgres::error::SqlState;
use tokio_postgres::tls::NoTlsStream;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, Connection, NoTls, Row, Socket};

/// How long connecting may take (unless the URL sets `connect_timeout`), and how long a request
/// waits for a free pooled connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle time after which a dedicated connection's TCP keepalives start.
const DEDICATED_KEEPALIVE: Duration = Duration::from_secs(10);
/// Connections a node keeps open, shared by all its requests.
const POOL_SIZE: usize = 16;
/// How kinesin's connections show in `pg_stat_activity`.
const APPLICATION_NAME: &str = "kinesin";

/// Why the metadata database could not be opened; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error(
        "--metadata is not a PostgreSQL URL ({reason}); expected postgres://USER:PASSWORD@HOST:PORT/DATABASE"
    )]
    BadUrl { reason: String },
    #[error(
        "cannot reach PostgreSQL at {target} ({source}); start it, or point --metadata at a running server"
    )]
    Unreachable { target: String, source: tokio_postgres::Error },
    #[error(
        "PostgreSQL at {target} refused user {user:?} ({source}); check the user and password in --metadata and the server's pg_hba.conf"
    )]
    Auth { target: String, user: String, source: tokio_postgres::Error },
    #[error(
        "database {database:?} does not exist on PostgreSQL at {target}; create it with `createdb {createdb_args}{database}` (kinesin creates its tables, not the database)"
    )]
    NoDatabase { target: String, database: String, createdb_args: String },
    #[error("PostgreSQL at {target}: {source}")]
    Database { target: String, source: tokio_postgres::Error },
    #[error("migrating the schema of PostgreSQL at {target} (migration {migration}): {source}")]
    Migration { target: String, migration: String, source: tokio_postgres::Error },
    #[error(
        "the database at {target} has schema version {found}, newer than this kinesin knows ({known}); upgrade kinesin on this node"
    )]
    NewerSchema { target: String, found: i32, known: i32 },
}

/// The metadata database: a pool of connections for requests, and the settings to open
/// dedicated ones (the change feed's `LISTEN`). Clones share the pool.
#[derive(Clone)]
pub struct Metadata {
    pool: Pool,
    config: Config,
    /// Host, port and database, for messages (never the password).
    target: String,
}

impl std::fmt::Debug for Metadata {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metadata").field("target", &self.target).finish_non_exhaustive()
    }
}

impl Metadata {
    /// Connects to the database at `url` and brings its schema up to date: what a node does at
    /// start-up.
    pub async fn open(url: &str) -> Result<Metadata, MetadataError> {
        let metadata = Metadata::connect(url).await?;
        crate::schema::migrate(&metadata).await?;
        Ok(metadata)
    }

    /// Connects to the database at `url` (one connection, to fail early with a clear error)
    /// without touching its schema.
    pub async fn connect(url: &str) -> Result<Metadata, MetadataError> {
        let mut config: Config = url
            .parse()
            .map_err(|e: tokio_postgres::Error| MetadataError::BadUrl { reason: e.to_string() })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name(APPLICATION_NAME);
        }
        let target = describe(&config);
        let (client, connection) = config.connect(NoTls).await.map_err(|e| classify(&config, &target, e))?;
        drop(client);
        // Closes the connection now that its client is gone.
        let _ = connection.await;

        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(CONNECT_TIMEOUT))
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .expect("a runtime is given, so the timeouts can work");
        Ok(Metadata { pool, config, target })
    }

    /// A pooled connection for one request.
    pub async fn client(&self) -> Result<Object, StoreError> {
        self.pool.get().await.map_err(|e| self.failed(e))
    }

    /// A connection of its own, outside the pool, named `application_name` in
    /// `pg_stat_activity` (e.g. the change feed's listener). The caller drives `Connection`,
    /// which also delivers its notifications.
    pub async fn dedicated(
        &self,
        application_name: &str,
    ) -> Result<(Client, Connection<Socket, NoTlsStream>), tokio_postgres::Error> {
        let mut config = self.config.clone();
        config.application_name(application_name);
        // A connection that only listens sends nothing: keepalives find a vanished server.
        config.keepalives_idle(DEDICATED_KEEPALIVE);
        config.connect(NoTls).await
    }

    /// Runs one statement on a pooled connection (prepared once per connection) and returns
    /// its rows.
    pub(crate) async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await.map_err(|e| self.failed(e))?;
        client.query(&statement, params).await.map_err(|e| self.failed(e))
    }

    /// A failed query as the engine hears of it, naming the database.
    pub(crate) fn failed(&self, err: impl std::fmt::Display) -> StoreError {
        StoreError::Catalog(format!("PostgreSQL at {}: {err}", self.target))
    }

    /// Host, port and database, as messages name them.
    pub fn target(&self) -> &str {
        &self.target
    }
}

/// Turns a failed first connection into the error that says what to do.
fn classify(config: &Config, target: &str, err: tokio_postgres::Error) -> MetadataError {
    let target = target.to_owned();
    let user = config.get_user().unwrap_or_default().to_owned();
    match err.code() {
        Some(code) if *code == SqlState::INVALID_CATALOG_NAME => MetadataError::NoDatabase {
            database: config.get_dbname().unwrap_or(&user).to_owned(),
            createdb_args: createdb_args(config),
            target,
        },
        Some(code)
            if *code == SqlState::INVALID_PASSWORD
                || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
        {
            MetadataError::Auth { target, user, source: err }
        }
        Some(_) => MetadataError::Database { target, source: err },
        // No answer from a server: refused, timed out, no such host.
        None if err.as_db_error().is_none() && is_io(&err) => {
            MetadataError::Unreachable { target, source: err }
        }
        None => MetadataError::Database { target, source: err },
    }
}

/// Whether a connection failed below PostgreSQL's protocol (a socket error or a timeout).
fn is_io(err: &tokio_postgres::Error) -> bool {
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if cause.is::<std::io::Error>() {
            return true;
        }
        source = cause.source();
    }
    // tokio-postgres reports a connect timeout without a cause.
    err.to_string().contains("timeout")
}

/// `HOST:PORT/DATABASE` (the first host, as connecting tries them in order).
fn describe(config: &Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(name)) => name.clone(),
        Some(Host::Unix(dir)) => dir.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let database = config.get_dbname().or(config.get_user()).unwrap_or_default();
    format!("{host}:{port}/{database}")
}

/// The `createdb` options that reach the same server as the URL (`-h HOST -p PORT -U USER `).
fn createdb_args(config: &Config) -> String {
    let mut args = String::new();
    if let Some(host) = config.get_hosts().first() {
        match host {
            Host::Tcp(name) => args.push_str(&format!("-h {name} ")),
            Host::Unix(dir) => args.push_str(&format!("-h {} ", dir.display())),
        }
    }
    if let Some(port) = config.get_ports().first() {
        args.push_str(&format!("-p {port} "));
    }
    if let Some(user) = config.get_user() {
        args.push_str(&format!("-U {user} "));
    }
    args
}
