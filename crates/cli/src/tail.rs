//! `kinesin tail STREAM`: every shard's records as they arrive, following resharding — a shard's
//! children are read once all their parents have ended, so each key's records come out in
//! order (`docs/cli.md`, "kinesin tail"). With `--app NAME` the tail is a worker of a consumer
//! application instead (`tail::app`).

mod app;

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::time::Duration;

use aws_sdk_kinesis::error::SdkError;
use aws_sdk_kinesis::operation::get_records::GetRecordsError;
use aws_sdk_kinesis::primitives::DateTime;
use aws_sdk_kinesis::types::{Shard, ShardIteratorType};
use aws_sdk_kinesis::Client;
use base64::Engine as _;
use kinesin_client::deaggregation::{deaggregate, UserRecord};
use tokio::sync::mpsc;

use crate::connection::ConnectionArgs;
use crate::streams::list_shards;
use crate::CliError;

#[derive(clap::Args, Debug)]
pub struct TailArgs {
    /// The stream to read.
    pub stream: String,
    /// Where to start: `trim-horizon` (the oldest record kept), `latest` (only what arrives from
    /// now on), or a time (RFC 3339, e.g. 2026-12-07T10:00:00Z, or seconds since the epoch).
    #[arg(long, default_value = "latest", value_parser = parse_start)]
    pub from: Start,
    /// `raw`: each record's data and a newline. `json`: an object per record with its shard,
    /// sequence number, partition key, arrival time and data (base64). `base64`: shard,
    /// sequence number and data (base64) on a line.
    #[arg(long, value_enum, default_value_t = OutputFormat::Raw)]
    pub format: OutputFormat,
    /// Stop after this many records.
    #[arg(long)]
    pub max_records: Option<u64>,
    /// Run as a worker of this consumer application: the workers of an application split the
    /// shards between them through leases in a DynamoDB table named after it, checkpoint what
    /// they printed, and take over a stopped or killed worker's shards. `--from` then applies
    /// to shards without a checkpoint.
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,
    /// With --app: how long a worker's leases outlive it, in milliseconds: a killed worker's
    /// shards move to the others this long after its last lease renewal.
    #[arg(long, value_name = "MS", default_value_t = 2000, requires = "app",
          value_parser = clap::value_parser!(u64).range(100..))]
    pub failover_ms: u64,
    /// With --app: read through enhanced fan-out (SubscribeToShard) as the stream consumer of
    /// this name, registered if the stream has none, instead of polling with GetRecords.
    #[arg(long, value_name = "CONSUMER_NAME", requires = "app")]
    pub efo: Option<String>,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Start {
    TrimHorizon,
    Latest,
    At(DateTime),
}

fn parse_start(text: &str) -> Result<Start, String> {
    match text {
        "trim-horizon" => Ok(Start::TrimHorizon),
        "latest" => Ok(Start::Latest),
        _ => {
            let time = match text.parse::<f64>() {
                Ok(seconds) => Ok(DateTime::from_secs_f64(seconds)),
                Err(_) => DateTime::from_str(text, aws_sdk_kinesis::primitives::DateTimeFormat::DateTime),
            };
            time.map(Start::At).map_err(|_| {
                format!("'{text}' is not trim-horizon, latest, an RFC 3339 time or seconds since the epoch")
            })
        }
    }
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Raw,
    Json,
    Base64,
}

/// What a shard's reader tells the printer.
enum Event {
    Records(String, Vec<UserRecord>),
    /// The shard ended (its children, from GetRecords' ChildShards).
    Ended(String, Vec<String>),
    Failed(CliError),
}

/// How long a reader waits after an empty answer: Kinesis allows 5 GetRecords a second per
/// shard.
const IDLE_POLL: Duration = Duration::from_millis(200);

pub async fn run(args: TailArgs) -> Result<(), CliError> {
    if let Some(application) = &args.app {
        return app::run(&args, application).await;
    }
    let client = args.connection.client().await;
    let endpoint = args.connection.endpoint();
    let shards = list_shards(&client, &endpoint, &args.stream).await?;
    let (events, mut received) = mpsc::channel(64);
    let mut lineage = Lineage::new(&shards);
    for shard in lineage.first_to_read(&shards, &args.from) {
        spawn_reader(&client, &endpoint, &args, shard, first_position(&args.from), &events);
    }
    let mut printed = 0u64;
    let mut out = std::io::stdout().lock();
    while let Some(event) = received.recv().await {
        match event {
            Event::Records(shard, records) => {
                for record in records {
                    if args.max_records.is_some_and(|max| printed >= max) {
                        break;
                    }
                    write_record(&mut out, args.format, &shard, &record).map_err(CliError::Output)?;
                    printed += 1;
                }
                out.flush().map_err(CliError::Output)?;
                if args.max_records.is_some_and(|max| printed >= max) {
                    return Ok(());
                }
            }
            Event::Ended(shard, children) => {
                if !children.iter().all(|c| lineage.knows(c)) {
                    // Children the first listing did not have: list again to learn their parents.
                    lineage.learn(&list_shards(&client, &endpoint, &args.stream).await?);
                }
                for child in lineage.end(&shard, &children) {
                    spawn_reader(&client, &endpoint, &args, child, ShardIteratorType::TrimHorizon, &events);
                }
            }
            Event::Failed(error) => return Err(error),
        }
    }
    Ok(())
}

/// Which shards have ended, and each shard's parents.
struct Lineage {
    parents: HashMap<String, Vec<String>>,
    ended: HashSet<String>,
    started: HashSet<String>,
}

impl Lineage {
    fn new(shards: &[Shard]) -> Lineage {
        let mut lineage = Lineage { parents: HashMap::new(), ended: HashSet::new(), started: HashSet::new() };
        lineage.learn(shards);
        lineage
    }

    fn learn(&mut self, shards: &[Shard]) {
        for shard in shards {
            let parents = [shard.parent_shard_id(), shard.adjacent_parent_shard_id()];
            let parents = parents.into_iter().flatten().map(str::to_owned).collect();
            self.parents.insert(shard.shard_id().to_owned(), parents);
        }
    }

    fn knows(&self, shard: &str) -> bool {
        self.parents.contains_key(shard)
    }

    /// From the oldest records: the shards none of whose parents is still kept. From now: the
    /// open shards.
    fn first_to_read(&mut self, shards: &[Shard], start: &Start) -> Vec<String> {
        let first: Vec<String> = shards
            .iter()
            .filter(|shard| match start {
                Start::Latest => {
                    shard.sequence_number_range().and_then(|r| r.ending_sequence_number()).is_none()
                }
                Start::TrimHorizon | Start::At(_) => {
                    self.parents[shard.shard_id()].iter().all(|parent| !self.knows(parent))
                }
            })
            .map(|shard| shard.shard_id().to_owned())
            .collect();
        self.started.extend(first.iter().cloned());
        first
    }

    /// Records that `shard` ended; returns the children that can start now (all of whose
    /// kept parents have ended).
    fn end(&mut self, shard: &str, children: &[String]) -> Vec<String> {
        self.ended.insert(shard.to_owned());
        let ready: Vec<String> = children
            .iter()
            .filter(|child| !self.started.contains(*child))
            .filter(|child| {
                self.parents
                    .get(*child)
                    .is_none_or(|parents| parents.iter().all(|p| self.ended.contains(p) || !self.knows(p)))
            })
            .cloned()
            .collect();
        self.started.extend(ready.iter().cloned());
        ready
    }
}

fn first_position(start: &Start) -> ShardIteratorType {
    match start {
        Start::TrimHorizon => ShardIteratorType::TrimHorizon,
        Start::Latest => ShardIteratorType::Latest,
        Start::At(_) => ShardIteratorType::AtTimestamp,
    }
}

fn spawn_reader(
    client: &Client,
    endpoint: &str,
    args: &TailArgs,
    shard: String,
    position: ShardIteratorType,
    events: &mpsc::Sender<Event>,
) {
    let reader = ShardReader {
        client: client.clone(),
        endpoint: endpoint.to_owned(),
        stream: args.stream.clone(),
        shard,
        timestamp: match &args.from {
            Start::At(time) => Some(*time),
            _ => None,
        },
        events: events.clone(),
    };
    tokio::spawn(reader.run(position));
}

/// Reads one shard to its end (or forever, while it is open).
struct ShardReader {
    client: Client,
    endpoint: String,
    stream: String,
    shard: String,
    timestamp: Option<DateTime>,
    events: mpsc::Sender<Event>,
}

impl ShardReader {
    async fn run(self, position: ShardIteratorType) {
        if let Err(error) = self.read(position).await {
            let _ = self.events.send(Event::Failed(error)).await;
        }
    }

    async fn read(&self, position: ShardIteratorType) -> Result<(), CliError> {
        let mut iterator = self.iterator(position.clone(), None).await?;
        let mut last_sequence: Option<String> = None;
        loop {
            let answer = match self.client.get_records().shard_iterator(&iterator).send().await {
                Ok(answer) => answer,
                Err(error) => match retry_after(&error) {
                    Retry::Wait(pause) => {
                        tokio::time::sleep(pause).await;
                        continue;
                    }
                    Retry::NewIterator => {
                        let resume = match &last_sequence {
                            Some(_) => ShardIteratorType::AfterSequenceNumber,
                            None => position.clone(),
                        };
                        iterator = self.iterator(resume, last_sequence.as_deref()).await?;
                        continue;
                    }
                    Retry::No => return Err(CliError::call("GetRecords", &self.endpoint, error)),
                },
            };
            let records = answer.records();
            if let Some(last) = records.last() {
                last_sequence = Some(last.sequence_number().to_owned());
                let user_records = records.iter().flat_map(deaggregate).collect();
                if self.events.send(Event::Records(self.shard.clone(), user_records)).await.is_err() {
                    return Ok(());
                }
            }
            match answer.next_shard_iterator() {
                Some(next) => iterator = next.to_owned(),
                None => {
                    let children = answer.child_shards().iter().map(|c| c.shard_id().to_owned()).collect();
                    let _ = self.events.send(Event::Ended(self.shard.clone(), children)).await;
                    return Ok(());
                }
            }
            if records.is_empty() {
                tokio::time::sleep(IDLE_POLL).await;
            }
        }
    }

    async fn iterator(&self, position: ShardIteratorType, after: Option<&str>) -> Result<String, CliError> {
        let mut request = self
            .client
            .get_shard_iterator()
            .stream_name(&self.stream)
            .shard_id(&self.shard)
            .shard_iterator_type(position.clone());
        if let Some(sequence) = after {
            request = request.starting_sequence_number(sequence);
        }
        if let (ShardIteratorType::AtTimestamp, Some(time)) = (&position, self.timestamp) {
            request = request.timestamp(time);
        }
        let answer =
            request.send().await.map_err(|e| CliError::call("GetShardIterator", &self.endpoint, e))?;
        answer
            .shard_iterator()
            .map(str::to_owned)
            .ok_or(CliError::Answer("GetShardIterator answered no iterator"))
    }
}

enum Retry {
    /// Throttled: wait and ask again.
    Wait(Duration),
    /// The iterator expired: get a new one where the last left off.
    NewIterator,
    No,
}

fn retry_after(error: &SdkError<GetRecordsError>) -> Retry {
    match error.as_service_error() {
        Some(GetRecordsError::ProvisionedThroughputExceededException(_)) => {
            Retry::Wait(Duration::from_secs(1))
        }
        Some(GetRecordsError::ExpiredIteratorException(_)) => Retry::NewIterator,
        _ => Retry::No,
    }
}

fn write_record(
    out: &mut impl Write,
    format: OutputFormat,
    shard: &str,
    record: &UserRecord,
) -> std::io::Result<()> {
    let base64 = || base64::engine::general_purpose::STANDARD.encode(&record.data);
    let position = match record.sub_sequence_number {
        Some(sub) => format!("{}.{sub}", record.sequence_number),
        None => record.sequence_number.clone(),
    };
    match format {
        OutputFormat::Raw => {
            out.write_all(&record.data)?;
            out.write_all(b"\n")
        }
        OutputFormat::Base64 => writeln!(out, "{shard} {position} {}", base64()),
        OutputFormat::Json => writeln!(out, "{}", json_record(shard, record)),
    }
}

/// A record as JSON: its shard, sequence number (and sub-sequence number, if aggregated),
/// partition key, arrival time and data in base64 (also `kinesin archive`'s lines).
pub(crate) fn json_record(shard: &str, record: &UserRecord) -> serde_json::Value {
    let mut object = serde_json::json!({
        "shardId": shard,
        "sequenceNumber": record.sequence_number,
        "partitionKey": record.partition_key,
        "data": base64::engine::general_purpose::STANDARD.encode(&record.data),
    });
    if let Some(sub) = record.sub_sequence_number {
        object["subSequenceNumber"] = sub.into();
    }
    if let Some(time) = record.approximate_arrival_timestamp {
        let text = time.fmt(aws_sdk_kinesis::primitives::DateTimeFormat::DateTime).unwrap_or_default();
        object["approximateArrivalTimestamp"] = text.into();
    }
    object
}

#[cfg(test)]
mod tests {
    use aws_sdk_kinesis::types::{HashKeyRange, SequenceNumberRange};

    use super::*;

    fn shard(id: &str, parents: &[&str], open: bool) -> Shard {
        let range = HashKeyRange::builder().starting_hash_key("0").ending_hash_key("1").build().unwrap();
        let mut sequence = SequenceNumberRange::builder().starting_sequence_number("1");
        if !open {
            sequence = sequence.ending_sequence_number("2");
        }
        let mut builder = Shard::builder()
            .shard_id(id)
            .hash_key_range(range)
            .sequence_number_range(sequence.build().unwrap());
        if let Some(parent) = parents.first() {
            builder = builder.parent_shard_id(*parent);
        }
        if let Some(adjacent) = parents.get(1) {
            builder = builder.adjacent_parent_shard_id(*adjacent);
        }
        builder.build().unwrap()
    }

    #[test]
    fn a_merged_child_waits_for_both_parents() {
        let shards = [shard("a", &[], false), shard("b", &[], false), shard("c", &["a", "b"], true)];
        let mut lineage = Lineage::new(&shards);
        assert_eq!(lineage.first_to_read(&shards, &Start::TrimHorizon), ["a", "b"]);
        assert!(lineage.end("a", &["c".into()]).is_empty());
        assert_eq!(lineage.end("b", &["c".into()]), ["c"]);
        assert!(lineage.end("b", &["c".into()]).is_empty(), "a child starts once");
    }

    #[test]
    fn latest_reads_open_shards_and_trimmed_parents_do_not_block() {
        let shards = [shard("c", &["gone"], true), shard("d", &["c"], true)];
        let mut lineage = Lineage::new(&shards);
        assert_eq!(lineage.first_to_read(&shards, &Start::TrimHorizon), ["c"]);
        let mut lineage = Lineage::new(&shards);
        assert_eq!(lineage.first_to_read(&shards, &Start::Latest), ["c", "d"]);
    }

    #[test]
    fn start_positions_parse() {
        assert_eq!(parse_start("trim-horizon"), Ok(Start::TrimHorizon));
        assert_eq!(parse_start("latest"), Ok(Start::Latest));
        assert_eq!(parse_start("1700000000"), Ok(Start::At(DateTime::from_secs(1_700_000_000))));
        assert_eq!(parse_start("2023-11-14T22:13:20Z"), Ok(Start::At(DateTime::from_secs(1_700_000_000))));
        assert!(parse_start("yesterday").unwrap_err().contains("RFC 3339"));
    }

    #[test]
    fn formats_name_shard_and_position() {
        let record = UserRecord {
            partition_key: "k".into(),
            explicit_hash_key: None,
            data: b"hi".to_vec(),
            sequence_number: "49".into(),
            sub_sequence_number: Some(2),
            approximate_arrival_timestamp: Some(DateTime::from_secs(1_700_000_000)),
            encryption_type: None,
        };
        let text = |format| {
            let mut out = Vec::new();
            write_record(&mut out, format, "shardId-000000000001", &record).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(text(OutputFormat::Raw), "hi\n");
        assert_eq!(text(OutputFormat::Base64), "shardId-000000000001 49.2 aGk=\n");
        let json: serde_json::Value = serde_json::from_str(&text(OutputFormat::Json)).unwrap();
        assert_eq!(json["subSequenceNumber"], 2);
        assert_eq!(json["approximateArrivalTimestamp"], "2023-11-14T22:13:20Z");
        assert_eq!(json["data"], "aGk=");
    }
}
