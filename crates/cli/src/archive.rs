//! `kinesin archive STREAM --to DIR|s3://BUCKET/PREFIX`: a consumer application that writes a
//! stream's records into time-partitioned, compressed, newline-delimited objects, and
//! checkpoints a shard only up to what is durably written, so that a crash and a restart neither
//! lose nor duplicate a record in the archive (docs/cli.md, "kinesin archive").

mod batch;
mod destination;
mod processor;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kinesin_client::consumer::{Consumer, ConsumerError, InitialPosition};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use crate::connection::ConnectionArgs;
use crate::put::progress_bar;
use crate::CliError;
use batch::Limits;
use destination::Destination;
use processor::ArchiveProcessor;

#[derive(clap::Args, Debug)]
pub struct ArchiveArgs {
    /// The stream to archive (from its oldest record, the first time an application runs).
    pub stream: String,
    /// Where the objects go: a local directory (created if missing), or an S3 bucket and an
    /// optional key prefix.
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    pub to: String,
    /// The consumer application's name, which is also its lease table's. Default:
    /// `kinesin-archive-STREAM-` and a digest of the destination.
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,
    /// How objects are compressed.
    #[arg(long, value_enum, default_value_t = Compression::Zstd)]
    pub compression: Compression,
    /// `json`: an object per record with its shard, sequence and sub-sequence number, partition
    /// key, arrival time and data in base64. `json-utf8`: the same, with the data as text (a
    /// record whose data is not UTF-8 has `dataBase64` instead).
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
    /// The most records in an object.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_records: u64,
    /// The most bytes in an object, before compression.
    #[arg(long, default_value_t = 16 << 20, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_bytes: u64,
    /// The longest a record is held before its object is written.
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = parse_seconds)]
    pub max_seconds: Duration,
    /// How long a worker that died keeps its shards before another worker of the application
    /// takes them (the consumer's failover time), in milliseconds, as `tail --failover-ms`.
    #[arg(long, value_name = "MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(100..))]
    pub failover_ms: u64,
    /// The S3 endpoint, for S3-compatible servers (else AWS_ENDPOINT_URL_S3, then
    /// AWS_ENDPOINT_URL, then AWS S3 itself).
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Zstd,
    Gzip,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    #[value(name = "json-utf8")]
    JsonUtf8,
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds >= 0.1 && seconds.is_finite() => Ok(Duration::from_secs_f64(seconds)),
        _ => Err(format!("'{text}' is not a number of seconds of at least 0.1")),
    }
}

/// What every shard's processor shares: where and how to write, and the tallies.
pub(crate) struct Archive {
    stream: String,
    destination: Destination,
    compression: Compression,
    format: Format,
    limits: Limits,
    objects: AtomicU64,
    records: AtomicU64,
    /// A processor that cannot go on says why here; the worker then stops.
    failures: mpsc::UnboundedSender<String>,
}

impl Archive {
    fn fail(&self, message: String) {
        let _ = self.failures.send(message);
    }
}

pub async fn run(args: ArchiveArgs) -> Result<(), CliError> {
    let destination =
        Destination::open(&args.to, args.s3_endpoint.as_deref(), &args.connection.sdk_config().await)
            .await
            .map_err(CliError::Stopped)?;
    let app = args.app.clone().unwrap_or_else(|| default_app_name(&args.stream, destination.identity()));
    let (failures, mut failed) = mpsc::unbounded_channel();
    // Reads at least twice per `--max-seconds`, and at most five times a second (the per-shard
    // GetRecords limit of Kinesis).
    let poll = (args.max_seconds / 2).clamp(Duration::from_millis(200), Duration::from_secs(1));
    let archive = Arc::new(Archive {
        stream: args.stream.clone(),
        destination,
        compression: args.compression,
        format: args.format,
        limits: Limits {
            max_records: args.max_records,
            max_bytes: args.max_bytes,
            max_age: args.max_seconds,
            poll,
        },
        objects: AtomicU64::new(0),
        records: AtomicU64::new(0),
        failures,
    });
    let kinesis = args.connection.client().await;
    let dynamodb = args.connection.dynamodb_client().await;
    let for_processors = Arc::clone(&archive);
    let consumer = Consumer::builder(kinesis, dynamodb, &app, &args.stream)
        .initial_position(InitialPosition::TrimHorizon)
        .failover_time(Duration::from_millis(args.failover_ms))
        .idle_time_between_reads(poll)
        .call_process_records_even_for_empty_record_list(true)
        .start(move |shard_id: &str| ArchiveProcessor::new(Arc::clone(&for_processors), shard_id))
        .await
        .map_err(|error| CliError::Stopped(start_failure(&args, &app, error)))?;

    let started = Instant::now();
    let progress = progress_bar();
    let (mut terminate, mut interrupt) =
        match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            (Ok(terminate), Ok(interrupt)) => (terminate, interrupt),
            (Err(e), _) | (_, Err(e)) => {
                return Err(CliError::Stopped(format!("cannot handle signals: {e}")))
            }
        };
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let outcome = loop {
        tokio::select! {
            _ = terminate.recv() => break Ok(()),
            _ = interrupt.recv() => break Ok(()),
            Some(failure) = failed.recv() => break Err(CliError::Stopped(failure)),
            _ = tick.tick() => progress.set_message(tally(&archive, started.elapsed())),
        }
    };
    // Held records are written and checkpointed, and the leases released for other workers.
    consumer.shutdown().await;
    progress.finish_and_clear();
    eprintln!("{} to {}", tally(&archive, started.elapsed()), archive.destination);
    outcome
}

fn tally(archive: &Archive, elapsed: Duration) -> String {
    let records = archive.records.load(Ordering::Relaxed);
    let objects = archive.objects.load(Ordering::Relaxed);
    let per_second = records as f64 / elapsed.as_secs_f64().max(1e-3);
    format!("archived {records} records in {objects} objects ({per_second:.0} records/s)")
}

/// `kinesin-archive-STREAM-DIGEST`, the digest (FNV-1a, stable across builds) of the
/// destination: one application per stream and destination, within DynamoDB's table names.
fn default_app_name(stream: &str, destination: &str) -> String {
    let digest = destination.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("kinesin-archive-{stream}-{digest:016x}")
}

/// Why the worker could not start, and what to do about it.
fn start_failure(args: &ArchiveArgs, app: &str, error: ConsumerError) -> String {
    match &error {
        ConsumerError::ListShards { .. } => format!(
            "{error}\nDoes the stream exist at {}? Create it with `kinesin streams create {}`, or name \
             another endpoint with --endpoint-url or AWS_ENDPOINT_URL.",
            args.connection.endpoint(),
            args.stream
        ),
        ConsumerError::LeaseTable(_) => format!(
            "{error}\nThe application {app} keeps its leases in a DynamoDB table of that name at {}: \
             check that the endpoint serves DynamoDB (kinesin does) and that the credentials may \
             create and write the table.",
            args.connection.dynamodb_endpoint()
        ),
        ConsumerError::InvalidSettings(_) => format!("{error}\nSee `kinesin archive --help`."),
        // The archive polls; fan-out is never asked for.
        ConsumerError::StreamConsumer { .. } => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_application_is_one_per_stream_and_destination() {
        let name = default_app_name("clicks", "/var/archive");
        assert_eq!(name, default_app_name("clicks", "/var/archive"));
        assert_ne!(name, default_app_name("clicks", "s3://bucket/archive"));
        assert_ne!(name, default_app_name("views", "/var/archive"));
        assert!(name.starts_with("kinesin-archive-clicks-") && name.len() <= 255, "{name}");
    }

    #[test]
    fn seconds_parse() {
        assert_eq!(parse_seconds("2.5"), Ok(Duration::from_millis(2500)));
        assert!(parse_seconds("0").unwrap_err().contains("at least 0.1"));
        assert!(parse_seconds("soon").is_err());
    }
}
