//! `kinesin put STREAM`: records from stdin or a file, through the producer (`docs/cli.md`,
//! "kinesin put").

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt};
use futures_util::FutureExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kinesin_client::Producer;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};

use crate::connection::ConnectionArgs;
use crate::CliError;

#[derive(clap::Args, Debug)]
pub struct PutArgs {
    /// The stream to put into.
    pub stream: String,
    /// Read from this file instead of stdin.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// How the input divides into records: a record per line (`lines`, empty lines skipped), a
    /// JSON document per line (`json`), or the whole input as one record (`raw`).
    #[arg(long, value_enum, default_value_t = InputFormat::Lines)]
    pub format: InputFormat,
    /// Every record's partition key (default: a random key per record).
    #[arg(long, conflicts_with = "partition_key_field")]
    pub partition_key: Option<String>,
    /// With --format json: the top-level field whose value is the record's partition key.
    #[arg(long)]
    pub partition_key_field: Option<String>,
    /// Aggregate records in the KPL format (read back by the KCL, AWS Lambda and `kinesin tail`).
    #[arg(long)]
    pub aggregate: bool,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    Lines,
    Json,
    Raw,
}

/// What happened to the records read.
#[derive(Debug, Default)]
struct Tally {
    sent: u64,
    acknowledged: u64,
    failed: u64,
    first_failure: Option<String>,
}

impl Tally {
    fn settle(&mut self, result: Result<kinesin_client::Acked, kinesin_client::Error>) {
        match result {
            Ok(_) => self.acknowledged += 1,
            Err(error) => {
                self.failed += 1;
                self.first_failure.get_or_insert_with(|| error.to_string());
            }
        }
    }
}

pub async fn run(args: PutArgs) -> Result<(), CliError> {
    if args.partition_key_field.is_some() && args.format != InputFormat::Json {
        return Err(CliError::Usage("--partition-key-field needs --format json".into()));
    }
    let input: Box<dyn AsyncRead + Unpin + Send> = match &args.file {
        Some(path) => Box::new(
            tokio::fs::File::open(path)
                .await
                .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?,
        ),
        None => Box::new(tokio::io::stdin()),
    };
    let client = args.connection.client().await;
    let producer = Producer::builder(client, &args.stream)
        .aggregation(args.aggregate)
        .build()
        .await
        .map_err(|e| CliError::Producer(args.stream.clone(), args.connection.endpoint(), e))?;

    let progress = progress_bar();
    let started = Instant::now();
    let mut tally = Tally::default();
    let mut pending = FuturesUnordered::new();
    let mut records = RecordReader::new(input, &args);
    let read = loop {
        let (key, data) = match records.next().await {
            Ok(Some(record)) => record,
            Ok(None) => break Ok(()),
            Err(error) => break Err(error),
        };
        tally.sent += 1;
        match producer.put(key, data).await {
            Ok(delivery) => pending.push(delivery),
            Err(error) => tally.settle(Err(error)),
        }
        // Settle what is already answered, so memory stays flat on long inputs.
        while let Some(Some(result)) = pending.next().now_or_never() {
            tally.settle(result);
        }
        progress.set_message(rate(&tally, started.elapsed()));
    };
    let flushed = producer.close().await;
    while let Some(result) = pending.next().await {
        tally.settle(result);
    }
    progress.finish_and_clear();
    eprintln!("{}", summary(&tally, started.elapsed()));
    read?;
    if let Err(error) = flushed {
        return Err(CliError::Unacknowledged(format!("the producer did not close cleanly: {error}")));
    }
    match tally.first_failure {
        Some(first) => Err(CliError::Unacknowledged(format!(
            "{} of {} records were not acknowledged (first: {first})",
            tally.failed, tally.sent
        ))),
        None => Ok(()),
    }
}

/// The input divided into records by `--format`, each with its partition key.
struct RecordReader<'a> {
    input: BufReader<Box<dyn AsyncRead + Unpin + Send>>,
    args: &'a PutArgs,
    line: Vec<u8>,
    line_number: u64,
    /// `--format raw` gives one record, then none.
    done: bool,
}

impl<'a> RecordReader<'a> {
    fn new(input: Box<dyn AsyncRead + Unpin + Send>, args: &'a PutArgs) -> RecordReader<'a> {
        RecordReader { input: BufReader::new(input), args, line: Vec::new(), line_number: 0, done: false }
    }

    /// The next record, `None` at the end of the input. Stops at the first line that is not
    /// JSON under `--format json`, naming it.
    async fn next(&mut self) -> Result<Option<(String, Vec<u8>)>, CliError> {
        if self.done {
            return Ok(None);
        }
        if self.args.format == InputFormat::Raw {
            self.done = true;
            let mut data = Vec::new();
            self.input.read_to_end(&mut data).await.map_err(CliError::Input)?;
            return Ok(Some((self.key(None), data)));
        }
        loop {
            self.line.clear();
            if self.input.read_until(b'\n', &mut self.line).await.map_err(CliError::Input)? == 0 {
                self.done = true;
                return Ok(None);
            }
            self.line_number += 1;
            let record = self.line.strip_suffix(b"\n").unwrap_or(&self.line);
            let record = record.strip_suffix(b"\r").unwrap_or(record);
            if record.is_empty() {
                continue;
            }
            let key = match self.args.format {
                InputFormat::Json => {
                    let document: serde_json::Value = serde_json::from_slice(record).map_err(|e| {
                        CliError::Usage(format!("line {} is not JSON: {e}", self.line_number))
                    })?;
                    self.key(Some(&document))
                }
                InputFormat::Lines | InputFormat::Raw => self.key(None),
            };
            return Ok(Some((key, record.to_vec())));
        }
    }

    /// `--partition-key`, else the `--partition-key-field` of the document (a string as it is,
    /// any other value as JSON), else a random key.
    fn key(&self, document: Option<&serde_json::Value>) -> String {
        if let Some(key) = &self.args.partition_key {
            return key.clone();
        }
        let field = self.args.partition_key_field.as_deref().and_then(|name| document?.get(name));
        match field {
            Some(serde_json::Value::String(text)) if !text.is_empty() => text.clone(),
            Some(value) if !value.is_null() && !value.is_string() => value.to_string(),
            _ => random_key(),
        }
    }
}

/// 128 random bits in hex: keys spread evenly over the shards.
fn random_key() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// A spinner with the running counts, on a terminal only.
pub(crate) fn progress_bar() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("a valid template"));
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn rate(tally: &Tally, elapsed: Duration) -> String {
    let per_second = tally.acknowledged as f64 / elapsed.as_secs_f64().max(1e-3);
    format!("{} sent, {} acknowledged, {per_second:.0} records/s", tally.sent, tally.acknowledged)
}

fn summary(tally: &Tally, elapsed: Duration) -> String {
    let failed =
        if tally.failed > 0 { format!(", {} NOT acknowledged", tally.failed) } else { String::new() };
    format!("put {} records ({}{failed}) in {:.1} s", tally.sent, rate(tally, elapsed), elapsed.as_secs_f64())
}
