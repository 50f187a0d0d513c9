//! `kinesin serve`: opens the storage (the embedded store in the data directory, or in cluster
//! mode the shared PostgreSQL database and bucket, `cluster.rs`), loads the catalog, creates the
//! start-up streams and serves the API, with health checks on the admin port, until SIGTERM or
//! SIGINT. Everything after opening the storage is the same for both (`Node::serve`).

use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use kinesin_cloudwatch::{CloudWatch, MetricStore, StoreLimits};
use kinesin_dynamodb::{DynamoDbService, Settings as TableSettings};
use kinesin_engine::exhaustion::Exhausted;
use kinesin_engine::storage::{Catalog, ShardLog, StoreError, SystemClock};
use kinesin_engine::{Engine, EngineConfig, RequestContext};
use kinesin_server::{CredentialStore, RequestMetrics, SelfSigned, ServerConfig, Services, TlsConfig};
use kinesin_service::Service;
use kinesin_store_local::{open_store, Durability, RealFs, RedbTableStore, StoreOptions};

use crate::admin::{self, AdminPort, AdminState, Phase, Readiness};
use crate::cluster::{self, Storage};
use crate::console::{ConsoleConfig, ConsoleConfigCell};
use crate::kinesis_metrics;
use crate::lifecycle::{self, StopRequest};
use crate::metrics::Metrics;
use crate::open_files;
use crate::startup_streams::{self, StreamSpec};

/// How often retention and status transitions are looked after.
const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(5);

/// The flags of `kinesin serve`. Each is also a key of the `--config` file (see `config.rs`).
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// A TOML file setting any of these flags (`data_dir = "..."`, `_` for `-`) and
    /// `[[streams]]` to create at start-up. Flags and environment variables override it.
    #[arg(long, env = "KINESIN_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// TCP port to listen on (0 picks a free one and prints it).
    #[arg(long, env = "KINESIN_PORT", default_value_t = 4567)]
    port: u16,
    /// Address to bind.
    #[arg(long, env = "KINESIN_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Where streams and records are stored.
    #[arg(long, env = "KINESIN_DATA_DIR", default_value = "./kinesin-data")]
    data_dir: PathBuf,
    /// The 12-digit AWS account id that owns every stream (it appears in ARNs).
    #[arg(long, env = "KINESIN_ACCOUNT_ID", default_value = "000000000000")]
    account_id: String,
    /// The region used when a request's signature names none.
    #[arg(long, env = "KINESIN_REGION", default_value = "us-east-1")]
    region: String,
    /// Also serve HTTPS on this port (0 picks a free one), ALPN h2 and http/1.1.
    #[arg(long, env = "KINESIN_TLS_PORT")]
    tls_port: Option<u16>,
    /// PEM certificate chain for HTTPS. Without it, a self-signed certificate for localhost is
    /// made (once) in DATA_DIR/tls.
    #[arg(long, env = "KINESIN_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "KINESIN_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// Verify SigV4 signatures with the keys in this file, one `ACCESS_KEY_ID SECRET_ACCESS_KEY
    /// ACCOUNT_ID` per line; each key acts for its account.
    #[arg(long, env = "KINESIN_CREDENTIALS")]
    credentials: Option<PathBuf>,
    /// How long a new stream stays CREATING, in milliseconds.
    #[arg(long, env = "KINESIN_CREATE_STREAM_MS", default_value_t = 500)]
    create_stream_ms: u32,
    /// How long a deleted stream stays DELETING, in milliseconds.
    #[arg(long, env = "KINESIN_DELETE_STREAM_MS", default_value_t = 500)]
    delete_stream_ms: u32,
    /// How long an updated stream stays UPDATING, in milliseconds.
    #[arg(long, env = "KINESIN_UPDATE_STREAM_MS", default_value_t = 500)]
    update_stream_ms: u32,
    /// How long a new DynamoDB table stays CREATING, in milliseconds (0: the next
    /// DescribeTable says ACTIVE).
    #[arg(long, env = "KINESIN_CREATE_TABLE_MS", default_value_t = 0)]
    create_table_ms: u32,
    /// How long an updated DynamoDB table stays UPDATING (and a new index CREATING), in
    /// milliseconds.
    #[arg(long, env = "KINESIN_UPDATE_TABLE_MS", default_value_t = 0)]
    update_table_ms: u32,
    /// How long a SubscribeToShard subscription lasts before the server ends it, in
    /// milliseconds (AWS: 5 minutes); consumers then subscribe again where it ended.
    #[arg(long, env = "KINESIN_SUBSCRIPTION_MS", default_value_t = 300_000,
          value_parser = clap::value_parser!(u32).range(1..))]
    subscription_ms: u32,
    /// Open shards allowed per account and region.
    #[arg(long, env = "KINESIN_SHARD_LIMIT", default_value_t = 500)]
    shard_limit: u32,
    /// The most segment files the store keeps open (each shard's active segment is opened
    /// when needed) [default: three quarters of the open-files limit, leaving at least 128
    /// descriptors for sockets and everything else].
    #[arg(long, env = "KINESIN_MAX_OPEN_FILES", value_parser = clap::value_parser!(u64).range(1..))]
    max_open_files: Option<u64>,
    /// `fsync`: a put is acknowledged once its records are on disk. `os`: leave flushing to the
    /// operating system (faster; a machine crash can lose acknowledged records).
    #[arg(long, env = "KINESIN_DURABILITY", value_enum, default_value_t = DurabilityArg::Fsync)]
    durability: DurabilityArg,
    /// Enforce AWS's limits: per shard 1 MiB/s and 1,000 records/s of writes, 2 MiB/s and 5
    /// GetRecords calls/s of reads, and the control-plane call rates. Off by default: a
    /// self-hosted server's capacity is the machine's.
    #[arg(long, env = "KINESIN_ENFORCE_LIMITS")]
    enforce_limits: bool,
    /// Create this stream at start-up unless it exists: NAME, NAME:SHARDS, NAME:SHARDS:MODE or
    /// NAME::on-demand (MODE is provisioned or on-demand). Repeatable; comma-separated in the
    /// environment variable.
    #[arg(long, env = "KINESIN_CREATE_STREAMS", value_name = "NAME[:SHARDS[:MODE]]", value_delimiter = ',')]
    create_stream: Vec<StreamSpec>,
    /// Port of /health and /ready (0 picks a free one; `off` serves none).
    #[arg(long, env = "KINESIN_ADMIN_PORT", default_value = "4568", value_name = "PORT|off")]
    admin_port: AdminPort,
    /// Address the admin port binds [default: --host].
    #[arg(long, env = "KINESIN_ADMIN_HOST")]
    admin_host: Option<String>,
    /// How long CloudWatch datapoints are kept, in hours (1 to 336, two weeks); older ones are
    /// dropped.
    #[arg(long, env = "KINESIN_CLOUDWATCH_RETENTION_HOURS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=336))]
    cloudwatch_retention_hours: u32,
    /// The most CloudWatch metrics (namespace, name and dimensions) kept, across accounts and
    /// regions; a PutMetricData that would add more is refused with LimitExceeded.
    #[arg(long, env = "KINESIN_CLOUDWATCH_MAX_SERIES", default_value_t = 5_000, value_parser = clap::value_parser!(u32).range(1..))]
    cloudwatch_max_series: u32,
    /// How often kinesin puts its own AWS/Kinesis metrics (each stream's figures since the last
    /// time) into its CloudWatch store, in seconds; below 60 they are high-resolution
    /// (one-second) datapoints. 0 publishes none.
    #[arg(long, env = "KINESIN_METRICS_PUBLISH_SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u32).range(0..=3600))]
    metrics_publish_seconds: u32,
    /// Cluster mode: the PostgreSQL database that orders the records and holds the streams,
    /// shared by every node, postgres://USER:PASSWORD@HOST:PORT/DATABASE. It must exist;
    /// kinesin creates and migrates its tables. Goes with --bucket (docs/cluster.md).
    #[arg(
        long,
        env = "KINESIN_METADATA",
        value_name = "URL",
        hide_env_values = true,
        help_heading = "Cluster mode"
    )]
    metadata: Option<String>,
    /// Cluster mode: the bucket that holds the records, s3://BUCKET/PREFIX (file:///DIR: a
    /// local directory, for trials on one machine). It must exist. Credentials and region come
    /// from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and AWS_REGION.
    #[arg(long, env = "KINESIN_BUCKET", value_name = "URL", help_heading = "Cluster mode")]
    bucket: Option<String>,
    /// Cluster mode: the endpoint of an S3-compatible store (MinIO, SeaweedFS, Ceph, R2, ...)
    /// [default: AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, else AWS S3].
    #[arg(long, env = "KINESIN_S3_ENDPOINT", value_name = "URL", help_heading = "Cluster mode")]
    s3_endpoint: Option<String>,
    /// Cluster mode: how long a node collects the records of all its requests before it
    /// uploads them as one object and commits them, in milliseconds [default: 10].
    #[arg(long, env = "KINESIN_FLUSH_MS", help_heading = "Cluster mode",
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    flush_ms: Option<u32>,
    /// The config file's `[[streams]]` tables.
    #[arg(skip)]
    pub(crate) stream_tables: Vec<StreamSpec>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum DurabilityArg {
    Fsync,
    Os,
}

pub fn run(args: ServeArgs) -> Result<(), String> {
    if args.account_id.len() != 12 || !args.account_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("--account-id must be 12 digits, got '{}'", args.account_id));
    }
    let storage = Storage::chosen_by(
        args.metadata.as_deref(),
        args.bucket.as_deref(),
        args.s3_endpoint.as_deref(),
        args.flush_ms,
    )?;
    // Before the runtime, which needs descriptors of its own.
    let max_open_files = open_files_limit(args.max_open_files)?;
    // Held until the store has stopped: a second server on the same directory would corrupt it
    // (in cluster mode too: the DynamoDB tables are there).
    let lock = lock_data_dir(&args.data_dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let served = runtime.block_on(serve(args, storage, max_open_files));
    // Dropping the runtime drops the tasks still holding the engine, and with the last of them
    // the store stops cleanly (its committer finishes and leaves the clean-stop mark).
    drop(runtime);
    drop(lock);
    served
}

/// What a node has set up before its storage opens, and what serving the engine takes.
struct Node {
    args: ServeArgs,
    started: Instant,
    readiness: Arc<Readiness>,
    stop: StopRequest,
    request_metrics: Arc<RequestMetrics>,
    metrics: Arc<Metrics>,
    console: Arc<ConsoleConfigCell>,
    credentials: Option<Arc<CredentialStore>>,
    dynamodb: Arc<dyn Service>,
}

async fn serve(args: ServeArgs, storage: Storage, max_open_files: usize) -> Result<(), String> {
    let started = Instant::now();
    let readiness = Arc::new(Readiness::default());
    if let Storage::Cluster(_) = storage {
        readiness.opening(
            "joining the cluster (connecting to the metadata database and the bucket, migrating the schema, loading the catalog)",
        );
    }
    let stop = lifecycle::watch_stop_signals(readiness.clone());
    let request_metrics = Arc::default();
    // The stream's files are in the data directory only on the embedded server.
    let stream_files = matches!(storage, Storage::Embedded).then(|| args.data_dir.clone());
    let metrics = Arc::new(Metrics::new(Arc::clone(&request_metrics), stream_files));
    let console = Arc::new(ConsoleConfigCell::new());
    if let AdminPort::Port(port) = args.admin_port {
        let host = args.admin_host.as_deref().unwrap_or(&args.host);
        let (listener, bound) = admin::bind(host, port).await?;
        admin::spawn(
            listener,
            Arc::new(AdminState {
                readiness: readiness.clone(),
                metrics: metrics.clone(),
                console: console.clone(),
            }),
        );
        announce(&format!("kinesin admin on http://{bound}"));
    }
    let credentials = match &args.credentials {
        Some(path) => Some(Arc::new(load_credentials(path)?)),
        None => None,
    };
    let durability = match args.durability {
        DurabilityArg::Fsync => Durability::Fsync,
        DurabilityArg::Os => Durability::Os,
    };
    let clock = Arc::new(SystemClock);
    let config = EngineConfig {
        create_stream_ms: i64::from(args.create_stream_ms),
        delete_stream_ms: i64::from(args.delete_stream_ms),
        update_stream_ms: i64::from(args.update_stream_ms),
        shard_limit: args.shard_limit,
        enforce_limits: args.enforce_limits,
        subscription_ms: i64::from(args.subscription_ms),
        ..EngineConfig::default()
    };
    let dynamodb = open_dynamodb(&args, durability)?;
    let node =
        Node { args, started, readiness, stop, request_metrics, metrics, console, credentials, dynamodb };
    match storage {
        Storage::Embedded => {
            let data_dir = &node.args.data_dir;
            let options = StoreOptions { durability, max_open_files, ..StoreOptions::default() };
            let (log, catalog) =
                open_store(data_dir, options, clock.clone()).map_err(|e| cannot_open(data_dir, &e))?;
            node.readiness.watch_writes(log.write_health());
            let engine =
                Engine::open(log, catalog, clock, config).await.map_err(|e| cannot_open(data_dir, &e))?;
            tracing::info!(data_dir = %data_dir.display(), durability = ?node.args.durability, "embedded store open");
            node.serve(Arc::new(engine)).await
        }
        Storage::Cluster(cluster) => {
            tracing::warn!(
                data_dir = %node.args.data_dir.display(),
                "cluster mode: the DynamoDB tables (the KCL's lease tables) live on each node, in its --data-dir, and are not shared: point every KCL worker of an application at the same node's DynamoDB endpoint. CloudWatch metrics are per node too (docs/cluster.md, \"Limits\")"
            );
            let (log, catalog) = cluster.open(clock.clone()).await?;
            let engine = Engine::open(log, catalog, clock, config)
                .await
                .map_err(|e| format!("cannot load the streams from the metadata database: {e}"))?;
            tracing::info!(
                bucket = cluster.bucket(),
                flush_ms = cluster.flush().as_millis() as u64,
                "joined the cluster"
            );
            let engine = Arc::new(engine);
            tokio::spawn(cluster::housekeep_bucket(Arc::downgrade(&engine)));
            node.serve(engine).await
        }
    }
}

/// The DynamoDB tables (the KCL's lease tables) in the data directory: on every node its own.
fn open_dynamodb(args: &ServeArgs, durability: Durability) -> Result<Arc<dyn Service>, String> {
    let tables = RedbTableStore::open(Arc::new(RealFs), &args.data_dir, durability)
        .map_err(|e| cannot_open(&args.data_dir, &e))?;
    let table_settings = TableSettings {
        create_table_ms: i64::from(args.create_table_ms),
        update_table_ms: i64::from(args.update_table_ms),
    };
    let dynamodb = kinesin_dynamodb::Database::open(
        Arc::new(tables),
        table_settings,
        kinesin_dynamodb::db::system_clock(),
    )
    .map_err(|e| format!("cannot load the DynamoDB tables in {}: {e}", args.data_dir.display()))?;
    Ok(Arc::new(DynamoDbService::new(Arc::new(dynamodb))))
}

impl Node {
    /// Serves `engine`, whichever storage it runs on, until a stop signal: the start-up
    /// streams, housekeeping, the listeners, CloudWatch.
    async fn serve<L: ShardLog, C: Catalog>(self, engine: Arc<Engine<L, C>>) -> Result<(), String> {
        let Node { args, started, readiness, stop, request_metrics, metrics, console, credentials, dynamodb } =
            self;
        // Weak: scrapes must not keep the store from its clean stop.
        let scraped = Arc::downgrade(&engine);
        metrics.watch_streams(move || {
            scraped.upgrade().map(|engine| engine.stream_figures()).unwrap_or_default()
        });

        let address = format!("{}:{}", args.host, args.port);
        let listener = tokio::net::TcpListener::bind(&address).await.map_err(|e| {
            format!("cannot listen on {address}: {e}. Is another server using the port? Try --port.")
        })?;
        let bound = listener.local_addr().map_err(|e| e.to_string())?;
        let _ = console.set(ConsoleConfig {
            api_port: bound.port(),
            account: args.account_id.clone(),
            region: args.region.clone(),
            credentials_required: credentials.is_some(),
        });
        let tls = match args.tls_port {
            Some(port) => Some(bind_tls(&args, port).await?),
            None if args.tls_cert.is_some() || args.tls_key.is_some() => {
                return Err("--tls-cert and --tls-key need --tls-port".to_owned())
            }
            None => None,
        };

        readiness.set_phase(Phase::CreatingStreams);
        let streams: Vec<StreamSpec> =
            args.create_stream.iter().chain(&args.stream_tables).cloned().collect();
        let home = RequestContext { account: args.account_id.clone(), region: args.region.clone() };
        startup_streams::ensure(&*engine, &home, &streams).await?;

        let maintenance = engine.clone();
        let maintenance = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(MAINTENANCE_INTERVAL);
            loop {
                ticks.tick().await;
                maintenance.maintain().await;
                release_free_memory();
            }
        });

        tracing::info!(startup_ms = started.elapsed().as_millis() as u64, "kinesin ready");
        readiness.set_phase(Phase::Serving);
        // Scripts and tests wait for this line to know the server answers, and read the port from it.
        announce(&format!("kinesin listening on http://{bound}"));
        if let Some((_, _, tls_bound, certificate)) = &tls {
            announce(&format!("kinesin tls on https://{tls_bound} (certificate: {})", certificate.display()));
        }

        let limits = StoreLimits {
            retention_ms: i64::from(args.cloudwatch_retention_hours) * 3_600_000,
            max_series: args.cloudwatch_max_series as usize,
        };
        let metric_store = Arc::new(MetricStore::new(limits));
        let publishing = (args.metrics_publish_seconds > 0).then(|| {
            let interval = Duration::from_secs(u64::from(args.metrics_publish_seconds));
            let published = Arc::downgrade(&engine);
            tokio::spawn(kinesis_metrics::run(Arc::clone(&metric_store), interval, move || {
                published.upgrade().map(|engine| engine.stream_figures()).unwrap_or_default()
            }))
        });
        let cloudwatch: Arc<dyn Service> = Arc::new(CloudWatch::new(metric_store));
        let server_config = ServerConfig {
            account_id: args.account_id,
            region: args.region,
            credentials,
            metrics: request_metrics,
            services: Services::new(vec![dynamodb, cloudwatch, Arc::new(kinesin_sts::Sts)])?,
            ..ServerConfig::default()
        };
        let tls = tls.map(|(listener, config, _, _)| (listener, config));
        let served = lifecycle::serve_until_signalled(readiness, stop, |stop| {
            kinesin_server::serve_with_tls(listener, tls, engine, server_config, stop)
        })
        .await;
        maintenance.abort();
        if let Some(publishing) = publishing {
            publishing.abort();
        }
        served.map_err(|e| format!("server failed: {e}"))
    }
}

/// A line on stdout, flushed at once: scripts and tests wait for these.
fn announce(line: &str) {
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

/// Reads `--credentials`; a bad line stops start-up with its number.
fn load_credentials(path: &Path) -> Result<CredentialStore, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the credentials file {}: {e}", path.display()))?;
    let store =
        CredentialStore::parse(&text).map_err(|e| format!("credentials file {}, {e}", path.display()))?;
    if store.is_empty() {
        return Err(format!(
            "the credentials file {} has no keys: every request would be refused",
            path.display()
        ));
    }
    tracing::info!(file = %path.display(), keys = store.len(), "verifying SigV4 signatures");
    Ok(store)
}

/// Binds the HTTPS port and loads (or makes) its certificate. Returns the listener, the TLS
/// configuration, the bound address and the certificate's path.
async fn bind_tls(
    args: &ServeArgs,
    port: u16,
) -> Result<(tokio::net::TcpListener, TlsConfig, std::net::SocketAddr, PathBuf), String> {
    let (config, certificate) = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => (TlsConfig::from_pem_files(cert, key)?, cert.clone()),
        (Some(_), None) | (None, Some(_)) => {
            return Err(
                "--tls-cert and --tls-key go together: give both, or neither for a self-signed certificate"
                    .to_owned(),
            )
        }
        (None, None) => {
            let (config, certificate, how) = TlsConfig::self_signed(&args.data_dir.join("tls"))?;
            let how = match how {
                SelfSigned::Generated => "generated",
                SelfSigned::Reused => "reused",
            };
            tracing::info!(certificate = %certificate.display(), "self-signed TLS certificate for localhost {how}");
            (config, certificate)
        }
    };
    let certificate = std::fs::canonicalize(&certificate).unwrap_or(certificate);
    let address = format!("{}:{port}", args.host);
    let listener = tokio::net::TcpListener::bind(&address).await.map_err(|e| {
        format!("cannot listen on {address} for TLS: {e}. Is another server using the port? Try --tls-port.")
    })?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(address = %bound, certificate = %certificate.display(), "serving HTTPS (h2, http/1.1)");
    Ok((listener, config, bound, certificate))
}

/// Raises the soft open-files limit to the hard one, refuses a limit too low to start with,
/// and sizes the store's cache of open segment files within it (`chosen` by --max-open-files,
/// or from the limit).
fn open_files_limit(chosen: Option<u64>) -> Result<usize, String> {
    let chosen = chosen.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    let limits = match open_files::raise_limit() {
        Ok(limits) => limits,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the open-files limit");
            return Ok(chosen.unwrap_or(kinesin_store_local::DEFAULT_MAX_OPEN_FILES));
        }
    };
    if limits.soft < open_files::MIN_LIMIT {
        return Err(format!(
            "the open-files limit is {} (hard limit {}), and kinesin needs at least {}: raise it (ulimit -n, or LimitNOFILE= in a systemd unit)",
            limits.soft,
            limits.hard,
            open_files::MIN_LIMIT
        ));
    }
    let max_open_files = chosen.unwrap_or_else(|| open_files::segment_files_within(limits.soft));
    tracing::info!(
        soft_limit_was = limits.soft_was,
        soft_limit = limits.soft,
        hard_limit = limits.hard,
        max_open_files,
        "open files"
    );
    if chosen.is_some_and(|n| n as u64 >= limits.soft) {
        tracing::warn!(
            max_open_files,
            soft_limit = limits.soft,
            "--max-open-files leaves no descriptors for sockets under the open-files limit; raise the limit (ulimit -n) or lower --max-open-files"
        );
    }
    Ok(max_open_files)
}

/// Why the data directory could not be opened, and what to do: the advice follows the cause.
fn cannot_open(data_dir: &Path, e: &StoreError) -> String {
    let dir = data_dir.display();
    let advice = match e {
        StoreError::Io(io) => match Exhausted::of(io) {
            Some(exhausted) => format!("{}.", exhausted.advice()),
            None => match io.kind() {
                ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => {
                    "Make it writable by this user, or pick another with --data-dir.".to_owned()
                }
                ErrorKind::NotFound | ErrorKind::NotADirectory => {
                    "Check the path, or pick another with --data-dir.".to_owned()
                }
                // Creating the directory where a file (or anything else) is.
                ErrorKind::AlreadyExists => {
                    "Something that is not a directory is in its place: move it, or pick another with --data-dir."
                        .to_owned()
                }
                _ => "Check the file system it is on, or pick another directory with --data-dir.".to_owned(),
            },
        },
        StoreError::Corrupt(_) => "It is damaged: restore it from a backup, or pick another with --data-dir.".to_owned(),
        StoreError::Catalog(_) => {
            "Its catalog (catalog.redb) cannot be read: restore it from a backup, or pick another with --data-dir."
                .to_owned()
        }
        StoreError::NoSuchShard(_) | StoreError::Sealed(_) => "This is a bug in kinesin; please report it.".to_owned(),
    };
    format!("cannot open the data directory {dir}: {e}. {advice}")
}

/// Takes an exclusive lock on `DATA/kinesin.lock`, creating the directory if needed.
fn lock_data_dir(data_dir: &Path) -> Result<std::fs::File, String> {
    let cannot = |e: std::io::Error| cannot_open(data_dir, &StoreError::Io(e));
    // The owner's only, like everything the store creates in it (docs/storage.md).
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(data_dir).map_err(cannot)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(data_dir.join("kinesin.lock"))
        .map_err(cannot)?;
    file.try_lock().map_err(|_| {
        format!(
            "the data directory {} is in use by another kinesin server. Stop it, or pick another directory with --data-dir.",
            data_dir.display()
        )
    })?;
    Ok(file)
}

/// Hands memory the allocator holds but no longer uses back to the OS, so that RSS comes back
/// down after a burst of load (glibc keeps freed request buffers in its arenas otherwise:
/// 14 MiB idle, 55 MiB peak, still 51 MiB after the load, without this).
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns unused pages of the allocator's own arenas to the OS.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    fn advice_for(e: io::Error) -> String {
        cannot_open(Path::new("/srv/kinesin"), &StoreError::Io(e))
    }

    /// The advice follows the cause; none guesses at permissions for a cause that is not one.
    #[test]
    fn the_data_directory_error_names_the_real_cause() {
        let os = io::Error::from_raw_os_error;
        for (errno, says) in [
            (libc::EMFILE, "out of file descriptors: raise the open-files limit"),
            (libc::ENFILE, "out of file descriptors: raise the open-files limit"),
            (libc::ENOMEM, "out of memory"),
            (libc::ENOSPC, "the disk is full"),
            (libc::EDQUOT, "the disk is full"),
            (libc::EACCES, "Make it writable by this user"),
            (libc::EROFS, "Make it writable by this user"),
            (libc::ENOTDIR, "Check the path"),
            (libc::EEXIST, "Something that is not a directory is in its place"),
            (libc::EIO, "Check the file system it is on"),
        ] {
            let message = advice_for(os(errno));
            assert!(message.starts_with("cannot open the data directory /srv/kinesin: "), "{message}");
            assert!(message.contains(&os(errno).to_string()), "the OS's words: {message}");
            assert!(message.contains(says), "{errno}: {message}");
            let writable = matches!(errno, libc::EACCES | libc::EROFS);
            assert_eq!(message.contains("writable"), writable, "{message}");
        }
        let corrupt = cannot_open(Path::new("/d"), &StoreError::Corrupt("bad frame".into()));
        assert!(corrupt.contains("bad frame") && corrupt.contains("restore it from a backup"), "{corrupt}");
    }
}
