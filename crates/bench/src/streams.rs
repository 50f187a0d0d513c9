//! The bench streams of one shard count on one target: each workload's stream created (named
//! after the shard count, so that `--shards 4,500,5000` gives every count streams of its own),
//! the drain stream filled, the fan-out consumer registered.

use std::time::{Duration, Instant};

use indicatif::ProgressBar;

use super::client::Client;
use super::target::Target;
use super::{get_records, put_to_push, Settings, Workload};

/// How long filling the drain stream may take; a slower endpoint is drained with what it took.
const FILL_LIMIT: Duration = Duration::from_secs(300);

/// One shard count's streams on one target, set up once and used by every round.
pub struct Streams {
    pub put: String,
    pub drain: String,
    /// Records per shard of the filled drain stream (when the drain runs).
    pub drain_counts: Option<get_records::ShardCounts>,
    pub get: String,
    /// The shards of the put-to-get stream (when it runs).
    pub get_shards: Vec<String>,
    pub push: String,
    /// The fan-out consumer's ARN and the put-to-push stream's shards, or why there are none.
    pub push_consumer: Result<(String, Vec<String>), String>,
}

impl Streams {
    /// Creates (or reuses) the streams the chosen workloads need, with `shards` shards each.
    pub async fn set_up(
        client: &Client,
        target: &Target,
        settings: &Settings,
        shards: i32,
        progress: &ProgressBar,
        notes: &mut Vec<String>,
    ) -> Result<Streams, String> {
        let has = |w: Workload| settings.workloads.contains(&w);
        let named = |base: &str| format!("{base}-{shards}");
        let mut streams = Streams {
            put: named("bench-put"),
            drain: named("bench-drain"),
            drain_counts: None,
            get: named("bench-latency-get"),
            get_shards: Vec::new(),
            push: named("bench-latency-push"),
            push_consumer: Err("not run".to_owned()),
        };
        let ensure = |name: String| async move {
            client.ensure_stream(&name, shards).await.map_err(|e| format!("{}: {e}", target.name))
        };
        if has(Workload::PutRecords) || has(Workload::PutRecord) || has(Workload::Producer) {
            ensure(streams.put.clone()).await?;
        }
        // The consumer drains the stream the raw drain reads.
        if has(Workload::GetRecords) || has(Workload::Consumer) {
            ensure(streams.drain.clone()).await?;
            progress.set_message(format!(
                "filling {} on {} ({} records)",
                streams.drain, target.name, settings.drain_records
            ));
            let started = Instant::now();
            let counts = get_records::fill(
                client,
                &streams.drain,
                settings.drain_records,
                settings.record_bytes,
                started + FILL_LIMIT,
            )
            .await?;
            let filled: u64 = counts.values().sum();
            let cut = if filled < settings.drain_records {
                format!(" (of {}: the fill stops after {} s)", settings.drain_records, FILL_LIMIT.as_secs())
            } else {
                String::new()
            };
            notes.push(format!(
                "{}: filled {} with {filled} records{cut} in {:.1} s",
                target.name,
                streams.drain,
                started.elapsed().as_secs_f64()
            ));
            streams.drain_counts = Some(counts);
        }
        if has(Workload::PutToGet) && !target.is_baseline() {
            streams.get_shards = ensure(streams.get.clone()).await?;
        }
        if has(Workload::PutToPush) && !target.is_baseline() {
            let shard_ids = ensure(streams.push.clone()).await?;
            streams.push_consumer =
                put_to_push::register(client, &streams.push).await.map(|arn| (arn, shard_ids));
        }
        Ok(streams)
    }
}
