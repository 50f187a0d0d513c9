//! Start-up at scale (`--startup-shards N`, issue 20): a kinesin of its own, on a fresh data
//! directory, gets streams totalling N shards and a record in every shard; then, each round, it
//! is stopped cleanly (SIGTERM) and restarted, and killed (`kill -9`) and restarted. A restart is
//! timed from the spawn until the server answers ListStreams and a GetRecords of a shard written
//! before the stop; then its open descriptors (/proc/PID/fd) and RSS are read.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};
use indicatif::ProgressBar;
use serde::Serialize;
use tokio::task::JoinSet;

use super::calls::CallError;
use super::client::{Client, Mode};
use super::load::median;
use super::procfs;
use super::target::{Kind, Target};

/// Shards per stream: N shards are created as streams of at most this many.
const SHARDS_PER_STREAM: u32 = 10_000;
/// PutRecords requests in flight while a record is put to every shard.
const PUTS_IN_FLIGHT: usize = 8;

/// How the server was stopped before a timed restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stop {
    /// SIGTERM, waiting for the server to exit.
    Clean,
    /// SIGKILL: the restart recovers.
    Kill9,
}

impl Stop {
    pub fn label(self) -> &'static str {
        match self {
            Stop::Clean => "clean stop",
            Stop::Kill9 => "kill -9",
        }
    }
}

/// One timed restart.
#[derive(Debug, Clone, Serialize)]
pub struct Restart {
    pub shards: u32,
    pub after: Stop,
    pub round: usize,
    /// SIGTERM until the process exited (clean stops only).
    pub stop_ms: Option<f64>,
    /// Spawn until ListStreams answers.
    pub list_streams_ms: f64,
    /// Spawn until a GetRecords of a shard written before the stop has answered with its record.
    pub get_records_ms: f64,
    pub descriptors: Option<usize>,
    pub rss_mib: Option<f64>,
}

/// Medians over rounds of one (shards, stop) pair.
#[derive(Debug, Clone, Serialize)]
pub struct StartupRow {
    pub shards: u32,
    pub streams: u32,
    pub after: Stop,
    pub rounds: usize,
    pub stop_ms: Option<f64>,
    pub list_streams_ms: Option<f64>,
    pub get_records_ms: Option<f64>,
    pub min_get_records_ms: Option<f64>,
    pub max_get_records_ms: Option<f64>,
    pub descriptors: Option<f64>,
    pub rss_mib: Option<f64>,
}

/// What it took to get the server to N shards with a record each (one per shard count).
#[derive(Debug, Clone, Serialize)]
pub struct Filled {
    pub shards: u32,
    pub streams: u32,
    pub create_ms: f64,
    pub put_ms: f64,
    pub descriptors: Option<usize>,
    pub rss_mib: Option<f64>,
}

/// Runs the measurement for `shards` shards: `rounds` clean-stop and `kill -9` restarts.
pub async fn measure(
    shards: u32,
    durability: &str,
    rounds: usize,
    work: &Path,
    region: &str,
    progress: &ProgressBar,
) -> Result<(Filled, Vec<Restart>), String> {
    let name = format!("kinesin-startup-{shards}");
    progress.set_message(format!("{name}: starting"));
    let mut server = Target::spawn(&name, Kind::Kinesin(durability.to_owned()), work, region).await?;
    let client = Client::new(Mode::Sdk, &server.endpoint, region)?;
    let streams = shards.div_ceil(SHARDS_PER_STREAM);

    progress.set_message(format!("{name}: creating {streams} streams of {shards} shards in all"));
    let started = Instant::now();
    let mut names = Vec::new();
    for s in 0..streams {
        let stream = format!("bench-startup-{s}");
        let count = SHARDS_PER_STREAM.min(shards - s * SHARDS_PER_STREAM);
        client.ensure_stream(&stream, count as i32).await?;
        names.push(stream);
    }
    let create_ms = started.elapsed().as_secs_f64() * 1000.0;

    progress.set_message(format!("{name}: putting a record to each of {shards} shards"));
    let started = Instant::now();
    for stream in &names {
        put_to_every_shard(&client, stream).await?;
    }
    let put_ms = started.elapsed().as_secs_f64() * 1000.0;
    let pid = server.pid.expect("a spawned server has a PID");
    let filled = Filled {
        shards,
        streams,
        create_ms,
        put_ms,
        descriptors: procfs::open_descriptors(pid),
        rss_mib: rss_mib(pid),
    };

    // The shard read back after each restart: the last one written.
    let probe_stream = names.last().expect("at least one stream").clone();
    let probe_shard = client
        .list_shards(&probe_stream)
        .await?
        .last()
        .map(|s| s.shard_id().to_owned())
        .ok_or("no shards listed")?;
    let mut restarts = Vec::new();
    for round in 0..rounds.max(1) {
        for after in [Stop::Clean, Stop::Kill9] {
            progress.set_message(format!("{name}, round {}: restart after a {}", round + 1, after.label()));
            // The previous round's writes are on disk, so that the restart does not wait for
            // the page cache of anything else.
            // SAFETY: sync() takes no arguments and cannot fail.
            let _ = tokio::task::spawn_blocking(|| unsafe { libc::sync() }).await;
            let stop_ms = match after {
                Stop::Clean => Some(server.stop_cleanly().await?),
                Stop::Kill9 => {
                    server.stop();
                    None
                }
            };
            let spawned = Instant::now();
            let list_streams_ms = server.start_again(region).await?;
            let client = Client::new(Mode::Sdk, &server.endpoint, region)?;
            read_one_record(&client, &probe_stream, &probe_shard).await?;
            let get_records_ms = spawned.elapsed().as_secs_f64() * 1000.0;
            let pid = server.pid.expect("a spawned server has a PID");
            restarts.push(Restart {
                shards,
                after,
                round,
                stop_ms,
                list_streams_ms,
                get_records_ms,
                descriptors: procfs::open_descriptors(pid),
                rss_mib: rss_mib(pid),
            });
        }
    }
    server.stop();
    Ok((filled, restarts))
}

fn rss_mib(pid: u32) -> Option<f64> {
    procfs::rss_kib(pid).map(|kib| kib as f64 / 1024.0)
}

/// Puts one record to every shard of `stream` (by its starting hash key), PutRecords of 500.
async fn put_to_every_shard(client: &Client, stream: &str) -> Result<(), String> {
    let shards = client.list_shards(stream).await?;
    let keys: Vec<String> =
        shards.iter().filter_map(|s| s.hash_key_range().map(|r| r.starting_hash_key().to_owned())).collect();
    let batches: Vec<Vec<String>> = keys.chunks(500).map(<[String]>::to_vec).collect();
    let semaphore = Arc::new(tokio::sync::Semaphore::new(PUTS_IN_FLIGHT));
    let mut puts = JoinSet::new();
    for batch in batches {
        let permit = semaphore.clone().acquire_owned().await.expect("never closed");
        let (sdk, stream) = (client.sdk.clone(), stream.to_owned());
        puts.spawn(async move {
            let _permit = permit;
            let entries = batch
                .iter()
                .map(|hash_key| {
                    PutRecordsRequestEntry::builder()
                        .partition_key("k")
                        .explicit_hash_key(hash_key)
                        .data(Blob::new(&b"startup"[..]))
                        .build()
                        .expect("partition key and data are set")
                })
                .collect();
            let out = sdk
                .put_records()
                .stream_name(&stream)
                .set_records(Some(entries))
                .send()
                .await
                .map_err(|e| format!("PutRecords {stream}: {}", CallError::from_sdk(&e)))?;
            match out.failed_record_count() {
                Some(failed) if failed > 0 => Err(format!("PutRecords {stream}: {failed} records failed")),
                _ => Ok(()),
            }
        });
    }
    while let Some(done) = puts.join_next().await {
        done.map_err(|e| format!("a put task failed: {e}"))??;
    }
    Ok(())
}

/// GetRecords from TRIM_HORIZON of `shard` until it answers with the record put there.
async fn read_one_record(client: &Client, stream: &str, shard: &str) -> Result<(), String> {
    let mut iterator = client
        .shard_iterator(stream, shard, ShardIteratorType::TrimHorizon)
        .await
        .map_err(|e| format!("GetShardIterator {stream}/{shard}: {e}"))?;
    // An empty answer with records behind it is a page to follow, not the end.
    for _ in 0..100 {
        let page = client
            .get_records(&iterator, 1, false)
            .await
            .map_err(|e| format!("GetRecords {stream}/{shard}: {e}"))?;
        if page.records > 0 {
            return Ok(());
        }
        iterator = page.next_iterator.ok_or_else(|| format!("{stream}/{shard} ended without its record"))?;
    }
    Err(format!("GetRecords of {stream}/{shard} did not answer its record"))
}

/// Medians over rounds, a row per (shards, stop) in the order measured.
pub fn rows(filled: &[Filled], restarts: &[Restart]) -> Vec<StartupRow> {
    let mut rows = Vec::new();
    for f in filled {
        for after in [Stop::Clean, Stop::Kill9] {
            let of: Vec<&Restart> =
                restarts.iter().filter(|r| r.shards == f.shards && r.after == after).collect();
            if of.is_empty() {
                continue;
            }
            let values = |get: &dyn Fn(&Restart) -> Option<f64>| -> Vec<f64> {
                of.iter().filter_map(|r| get(r)).collect()
            };
            let mut get_records = values(&|r| Some(r.get_records_ms));
            rows.push(StartupRow {
                shards: f.shards,
                streams: f.streams,
                after,
                rounds: of.len(),
                stop_ms: median(&mut values(&|r| r.stop_ms)),
                list_streams_ms: median(&mut values(&|r| Some(r.list_streams_ms))),
                min_get_records_ms: get_records.iter().copied().reduce(f64::min),
                max_get_records_ms: get_records.iter().copied().reduce(f64::max),
                get_records_ms: median(&mut get_records),
                descriptors: median(&mut values(&|r| r.descriptors.map(|d| d as f64))),
                rss_mib: median(&mut values(&|r| r.rss_mib)),
            });
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn restart(after: Stop, round: usize, get_records_ms: f64, descriptors: usize) -> Restart {
        Restart {
            shards: 10_000,
            after,
            round,
            stop_ms: (after == Stop::Clean).then_some(100.0 * (round + 1) as f64),
            list_streams_ms: get_records_ms - 1.0,
            get_records_ms,
            descriptors: Some(descriptors),
            rss_mib: Some(30.0),
        }
    }

    #[test]
    fn a_row_per_stop_with_medians_over_rounds() {
        let filled = [Filled {
            shards: 10_000,
            streams: 1,
            create_ms: 1.0,
            put_ms: 1.0,
            descriptors: None,
            rss_mib: None,
        }];
        let restarts = [
            restart(Stop::Clean, 0, 400.0, 700),
            restart(Stop::Kill9, 0, 1300.0, 760),
            restart(Stop::Clean, 1, 500.0, 710),
            restart(Stop::Kill9, 1, 1200.0, 750),
            restart(Stop::Clean, 2, 450.0, 720),
            restart(Stop::Kill9, 2, 1250.0, 770),
        ];
        let rows = rows(&filled, &restarts);
        assert_eq!(rows.len(), 2);
        let (clean, killed) = (&rows[0], &rows[1]);
        assert_eq!((clean.after, clean.rounds), (Stop::Clean, 3));
        assert_eq!(clean.get_records_ms, Some(450.0));
        assert_eq!((clean.min_get_records_ms, clean.max_get_records_ms), (Some(400.0), Some(500.0)));
        assert_eq!(clean.list_streams_ms, Some(449.0));
        assert_eq!(clean.stop_ms, Some(200.0));
        assert_eq!(clean.descriptors, Some(710.0));
        assert_eq!(killed.after, Stop::Kill9);
        assert_eq!(killed.get_records_ms, Some(1250.0));
        assert_eq!(killed.stop_ms, None, "a kill -9 has no stop time");
    }
}
