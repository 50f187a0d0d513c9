//! `kinesin bench`: drives Kinesis endpoints — a kinesin it starts itself, the built-in baseline,
//! peers started from a command line, endpoints already running — through the same workloads,
//! alternating targets within each round, and prints medians and ratios (a table, or JSON).
//!
//! Workloads (one file each): `put_records`, `put_record`, `get_records` (drain),
//! `put_to_get` and `put_to_push` (latency: the producer in `producer`, what the consumers
//! collect in `latency`). What a call sends and answers, in either client mode: `calls`. The
//! modes: `client` dispatches to `sdk` (aws-sdk-kinesis) or `raw` (pre-signed requests over
//! hyper). Servers: `target`, `baseline`. Resource use: `procfs`. Output: `report`.
//!
//! The harness is a crate of its own so that the server's crates depend on no AWS SDK; the
//! `kinesin` binary links it for its `bench` subcommand (and starts itself as the server under
//! test).

mod baseline;
mod calls;
mod client;
mod client_consumer;
mod client_producer;
mod get_records;
mod latency;
mod load;
pub mod procfs;
mod producer;
mod put_record;
mod put_records;
mod put_to_get;
mod put_to_push;
mod raw;
mod report;
mod sdk;
mod startup;
mod streams;
mod target;

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rand::Rng;
use serde::Serialize;

use calls::Entry;
use client::{Client, Mode};
use report::{LatencyRow, Report, Sample, ServerRow};
use streams::Streams;
use target::{Kind, Target};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// PutRecords, 500 records per request, 8 requests in flight.
    PutRecords,
    /// PutRecord, one record per request, 8 and 64 concurrent clients.
    PutRecord,
    /// Drain a filled stream from TRIM_HORIZON, one reader per shard.
    GetRecords,
    /// Put-to-get latency with polling consumers, at fixed rates.
    PutToGet,
    /// Put-to-push latency through SubscribeToShard, at fixed rates.
    PutToPush,
    /// kinesin-client's producer, aggregated and not: the put-records records, fed as fast as
    /// its buffer takes them.
    Producer,
    /// kinesin-client's consumer draining the get-records stream end to end (DynamoDB leases).
    Consumer,
    /// Start-up at scale, kinesin only: restarts of a server holding `--startup-shards` shards.
    Startup,
}

impl Workload {
    /// Runs through kinesin-client (on the SDK), not in each `--client` mode.
    fn through_kinesin_client(self) -> bool {
        matches!(self, Workload::Producer | Workload::Consumer)
    }
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Workloads to run, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "put-records,put-record,get-records,put-to-get,put-to-push"
    )]
    workloads: Vec<Workload>,
    /// Client modes for the throughput workloads: `raw` (pre-signed requests over hyper; the
    /// load generator costs least) and/or `sdk` (aws-sdk-kinesis, what users run).
    #[arg(long = "client", value_enum, value_delimiter = ',', default_value = "raw,sdk")]
    modes: Vec<Mode>,
    /// Client mode of the latency workloads' producer and polling consumer.
    #[arg(long, value_enum, default_value = "raw")]
    latency_client: Mode,
    /// Start kinesin with these durabilities (`fsync`, `os`), comma-separated; `none` for none.
    /// The first is the reference for ratios, named `kinesin`; others `kinesin-os`, ….
    #[arg(long, value_delimiter = ',', default_value = "fsync")]
    kinesin: Vec<String>,
    /// Do not start the built-in baseline server.
    #[arg(long)]
    no_baseline: bool,
    /// Start another server: `NAME=COMMAND`, run with `sh -c`; `{port}`, `{port2}` (a second
    /// free port) and `{dir}` (a fresh data directory) are substituted. Repeatable.
    #[arg(long = "peer", value_name = "NAME=COMMAND")]
    peers: Vec<String>,
    /// Drive a server that is already running: `NAME=URL` or `NAME=URL,pid=PID` (the PID lets
    /// the harness read its RSS and CPU time). Repeatable.
    #[arg(long = "endpoint", value_name = "NAME=URL[,pid=PID]")]
    endpoints: Vec<String>,
    /// Rounds; each round runs every workload on every target, alternating targets.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Length of each throughput measurement, in seconds.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Warm-up before each throughput measurement, in seconds (not counted).
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Shards of each bench stream, comma-separated: every workload runs once per shard count
    /// (on streams of its own), and each row is also given as a ratio to the first count.
    #[arg(long, value_delimiter = ',', default_value = "4", value_parser = clap::value_parser!(i32).range(1..))]
    shards: Vec<i32>,
    /// Shards of the start-up workload's server, comma-separated (a fresh server for each).
    #[arg(long, value_delimiter = ',', default_value = "10000", value_parser = clap::value_parser!(u32).range(1..))]
    startup_shards: Vec<u32>,
    /// Record sizes of the PutRecords workload, in bytes.
    #[arg(long, value_delimiter = ',', default_value = "100,1024")]
    put_records_sizes: Vec<usize>,
    /// Records per PutRecords request.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// PutRecords requests in flight.
    #[arg(long, default_value_t = 8)]
    in_flight: usize,
    /// Record size of PutRecord, the drain and the latency workloads, in bytes.
    #[arg(long, default_value_t = 100)]
    record_bytes: usize,
    /// Concurrent clients of the PutRecord workload.
    #[arg(long, value_delimiter = ',', default_value = "8,64")]
    put_record_clients: Vec<usize>,
    /// Records in the stream the GetRecords workload drains.
    #[arg(long, default_value_t = 1_000_000)]
    drain_records: u64,
    /// Producer rates of the latency workloads, records per second.
    #[arg(long, value_delimiter = ',', default_value = "100,5000")]
    latency_rates: Vec<u64>,
    /// Length of each latency measurement, in seconds (one per round and rate).
    #[arg(long, default_value_t = 5.0)]
    latency_seconds: f64,
    /// Milliseconds a polling consumer waits after an empty GetRecords answer.
    #[arg(long, default_value_t = 1)]
    poll_ms: u64,
    /// Seconds to wait after the last workload before reading each server's RSS again.
    #[arg(long, default_value_t = 5.0)]
    settle_seconds: f64,
    /// Print the report as JSON on stdout instead of the table.
    #[arg(long)]
    json: bool,
    /// Also write the JSON report to this file.
    #[arg(long, value_name = "FILE")]
    json_file: Option<PathBuf>,
    /// Where spawned servers keep their data (a fresh directory is made inside and removed at
    /// the end). Default: the current directory, so that fsync hits a real disk.
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// Region the clients sign for.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Run only the baseline server (used by the harness itself).
    #[arg(long, hide = true)]
    serve_baseline: bool,
    #[arg(long, hide = true, default_value_t = 0)]
    baseline_port: u16,
}

/// The knobs of a run, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub workloads: Vec<Workload>,
    pub modes: Vec<Mode>,
    pub latency_mode: Mode,
    pub rounds: usize,
    pub seconds: f64,
    pub warmup: f64,
    pub shards: Vec<i32>,
    pub startup_shards: Vec<u32>,
    pub put_records_sizes: Vec<usize>,
    pub batch: usize,
    pub in_flight: usize,
    pub record_bytes: usize,
    pub put_record_clients: Vec<usize>,
    pub drain_records: u64,
    pub latency_rates: Vec<u64>,
    pub latency_seconds: f64,
    pub poll_ms: u64,
}

pub fn run(args: BenchArgs) -> Result<(), String> {
    if args.serve_baseline {
        return baseline::run(args.baseline_port);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    // On Ctrl-C or SIGTERM the run stops and the servers it started are stopped with it.
    runtime.block_on(async {
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| format!("cannot watch for SIGTERM: {e}"))?;
        tokio::select! {
            result = run_bench(args) => result,
            _ = tokio::signal::ctrl_c() => Err("interrupted".to_owned()),
            _ = terminate.recv() => Err("terminated".to_owned()),
        }
    })
}

/// `n` entries with random 16-hex-digit partition keys and random data of `size` bytes.
pub fn random_entries(n: usize, size: usize) -> Vec<Entry> {
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| {
            let mut data = vec![0u8; size];
            rng.fill(&mut data[..]);
            Entry { key: format!("{:016x}", rng.gen::<u64>()), data: Bytes::from(data) }
        })
        .collect()
}

/// Per-target state kept across rounds.
struct Under {
    target: Target,
    client: Client,
    rss: Option<procfs::RssSampler>,
    idle_rss_kib: Option<u64>,
    /// One per shard count, in the order of `--shards`.
    streams: Vec<Streams>,
}

async fn run_bench(args: BenchArgs) -> Result<(), String> {
    let settings = Settings {
        workloads: args.workloads.clone(),
        modes: args.modes.clone(),
        latency_mode: args.latency_client,
        rounds: args.rounds.max(1),
        seconds: args.seconds,
        warmup: args.warmup,
        shards: args.shards.clone(),
        startup_shards: args.startup_shards.clone(),
        put_records_sizes: args.put_records_sizes.clone(),
        batch: args.batch.clamp(1, 500),
        in_flight: args.in_flight.max(1),
        record_bytes: args.record_bytes.max(8),
        put_record_clients: args.put_record_clients.clone(),
        drain_records: args.drain_records,
        latency_rates: args.latency_rates.clone(),
        latency_seconds: args.latency_seconds,
        poll_ms: args.poll_ms,
    };
    let has = |w: Workload| settings.workloads.contains(&w);
    let base_dir = args.work_dir.clone().unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&base_dir).map_err(|e| format!("cannot create {}: {e}", base_dir.display()))?;
    let work = tempfile::Builder::new()
        .prefix(".kinesin-bench-")
        .tempdir_in(&base_dir)
        .map_err(|e| format!("cannot make a work directory in {}: {e}", base_dir.display()))?;
    let machine = procfs::machine(work.path());
    let mut notes = Vec::new();

    let progress = if args.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
    };
    progress.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
            .expect("valid template"),
    );
    progress.enable_steady_tick(Duration::from_millis(200));

    // One core's GetRecords serialisation rate, measured before any server runs.
    let ceiling = if has(Workload::GetRecords) {
        progress.set_message("measuring one core's GetRecords serialisation rate");
        let mut runs: Vec<f64> =
            (0..3).map(|_| get_records::serialise_ceiling(settings.record_bytes, 0.3)).collect();
        load::median(&mut runs)
    } else {
        None
    };

    // Start the targets.
    let mut targets = Vec::new();
    let mut reference = None;
    for durability in args.kinesin.iter().filter(|d| d.as_str() != "none") {
        if durability != "fsync" && durability != "os" {
            return Err(format!("--kinesin takes fsync, os or none, not '{durability}'"));
        }
        let name = if reference.is_none() { "kinesin".to_owned() } else { format!("kinesin-{durability}") };
        progress.set_message(format!("starting {name}"));
        targets
            .push(Target::spawn(&name, Kind::Kinesin(durability.clone()), work.path(), &args.region).await?);
        reference.get_or_insert(name);
    }
    if !args.no_baseline {
        progress.set_message("starting the baseline");
        targets.push(Target::spawn("baseline", Kind::Baseline, work.path(), &args.region).await?);
    }
    for peer in &args.peers {
        let (name, command) =
            peer.split_once('=').ok_or_else(|| format!("--peer takes NAME=COMMAND, not '{peer}'"))?;
        progress.set_message(format!("starting {name}"));
        targets.push(Target::spawn(name, Kind::Peer(command.to_owned()), work.path(), &args.region).await?);
    }
    for endpoint in &args.endpoints {
        let (name, rest) = endpoint
            .split_once('=')
            .ok_or_else(|| format!("--endpoint takes NAME=URL[,pid=PID], not '{endpoint}'"))?;
        let (url, pid) = match rest.split_once(",pid=") {
            Some((url, pid)) => {
                (url, Some(pid.parse::<u32>().map_err(|_| format!("bad pid in '{endpoint}'"))?))
            }
            None => (rest, None),
        };
        let target = Target::external(name, url, pid);
        Client::new(Mode::Sdk, url, &args.region)?.wait_ready(Duration::from_secs(30)).await?;
        targets.push(target);
    }
    if targets.is_empty() {
        return Err("no targets: give --kinesin, --peer or --endpoint, or drop --no-baseline".into());
    }
    if let Some(pos) = targets.iter().position(|t| t.name == "kinesin") {
        reference = Some(targets[pos].name.clone());
    }

    // Count the steps for the progress bar.
    let n_targets = targets.len() as u64;
    let n_latency_targets = targets.iter().filter(|t| !t.is_baseline()).count() as u64;
    let modes = settings.modes.len() as u64;
    let sizes = settings.put_records_sizes.len() as u64;
    let per_round = settings.shards.len() as u64
        * (modes
            * n_targets
            * (if has(Workload::PutRecords) { sizes } else { 0 }
                + if has(Workload::PutRecord) { settings.put_record_clients.len() as u64 } else { 0 }
                + u64::from(has(Workload::GetRecords)))
            + n_targets * if has(Workload::Producer) { 2 * sizes } else { 0 }
            + n_latency_targets * u64::from(has(Workload::Consumer))
            + n_latency_targets
                * settings.latency_rates.len() as u64
                * (u64::from(has(Workload::PutToGet)) + u64::from(has(Workload::PutToPush))));
    let startups = if has(Workload::Startup) { settings.startup_shards.len() as u64 } else { 0 };
    progress.set_length(n_targets + per_round * settings.rounds as u64 + startups);

    // Set up each target: streams of every shard count, the drain fills, the fan-out
    // consumers; idle RSS first.
    let mut unders = Vec::new();
    for target in targets {
        progress.set_message(format!("setting up {}", target.name));
        let client = Client::new(Mode::Raw, &target.endpoint, &args.region)?;
        let idle_rss_kib = target.pid.and_then(procfs::rss_kib);
        let rss = target.pid.map(procfs::RssSampler::start);
        let mut streams = Vec::new();
        for &shards in &settings.shards {
            streams.push(Streams::set_up(&client, &target, &settings, shards, &progress, &mut notes).await?);
        }
        progress.inc(1);
        unders.push(Under { target, client, rss, idle_rss_kib, streams });
    }

    // The rounds: every workload variant and mode on every target in turn, the target order
    // rotated each round so that none always goes first.
    let epoch = Instant::now();
    let mut samples: Vec<Sample> = Vec::new();
    // Per (workload, rate, shards, target): the rounds' results.
    type LatencyKey = (&'static str, u64, i32, String);
    let mut latency_results: Vec<(LatencyKey, Vec<latency::LatencyResult>)> = Vec::new();
    // (workload, rate, shards, target, why it was not measured)
    type Unsupported = (&'static str, u64, i32, String, String);
    let mut unsupported: Vec<Unsupported> = Vec::new();
    let throughput_limit = Duration::from_secs_f64(settings.warmup + settings.seconds) + MEASUREMENT_GRACE;
    let latency_limit = Duration::from_secs_f64(settings.latency_seconds) + MEASUREMENT_GRACE;
    // Targets that stopped answering: one abandoned measurement, and the rest of theirs are
    // skipped instead of each waiting out its limit.
    let mut stuck = vec![false; unders.len()];
    for round in 0..settings.rounds {
        let order: Vec<usize> = (0..unders.len()).map(|i| (i + round) % unders.len()).collect();
        // (workload, size or clients, aggregated)
        let mut variants: Vec<(Workload, usize, bool)> = Vec::new();
        if has(Workload::PutRecords) {
            variants.extend(settings.put_records_sizes.iter().map(|&s| (Workload::PutRecords, s, false)));
        }
        if has(Workload::Producer) {
            for &size in &settings.put_records_sizes {
                variants.extend([(Workload::Producer, size, false), (Workload::Producer, size, true)]);
            }
        }
        if has(Workload::PutRecord) {
            variants.extend(settings.put_record_clients.iter().map(|&c| (Workload::PutRecord, c, false)));
        }
        if has(Workload::GetRecords) {
            variants.push((Workload::GetRecords, 0, false));
        }
        if has(Workload::Consumer) {
            variants.push((Workload::Consumer, 0, false));
        }
        for (s, &shards) in settings.shards.iter().enumerate() {
            for &(workload, param, aggregated) in &variants {
                let modes =
                    if workload.through_kinesin_client() { vec![Mode::Sdk] } else { settings.modes.clone() };
                for &mode in &modes {
                    let mode_label = if workload.through_kinesin_client() {
                        "kinesin-client".to_owned()
                    } else {
                        mode.to_string()
                    };
                    for &i in &order {
                        let under = &unders[i];
                        // The baseline keeps no leases (it serves no DynamoDB).
                        if workload == Workload::Consumer && under.target.is_baseline() {
                            continue;
                        }
                        flush_page_cache(&progress).await;
                        let client = under.client.with_mode(mode);
                        let pid = under.target.pid;
                        let name = &under.target.name;
                        let (label, variant, mut result) = match workload {
                            Workload::PutRecords => {
                                let variant = format!(
                                    "{}×{} B, {} in flight",
                                    settings.batch, param, settings.in_flight
                                );
                                progress.set_message(format!(
                                    "round {}, {shards} shards: PutRecords {variant} {mode} → {name}",
                                    round + 1
                                ));
                                let run =
                                    put_records::run(&client, &settings, &under.streams[s].put, param, pid);
                                let r = within(&mut stuck[i], throughput_limit, run, |why| {
                                    given_up(why, throughput_limit)
                                })
                                .await;
                                ("put-records", variant, r)
                            }
                            Workload::PutRecord => {
                                let variant = format!("{} B, {param} clients", settings.record_bytes);
                                progress.set_message(format!(
                                    "round {}, {shards} shards: PutRecord {variant} {mode} → {name}",
                                    round + 1
                                ));
                                let run =
                                    put_record::run(&client, &settings, &under.streams[s].put, param, pid);
                                let r = within(&mut stuck[i], throughput_limit, run, |why| {
                                    given_up(why, throughput_limit)
                                })
                                .await;
                                ("put-record", variant, r)
                            }
                            Workload::Producer => {
                                let variant = format!(
                                    "{}×{} B, {} feeders{}",
                                    settings.batch,
                                    param,
                                    settings.in_flight,
                                    if aggregated { ", aggregated" } else { "" }
                                );
                                progress.set_message(format!(
                                    "round {}, {shards} shards: producer {variant} → {name}",
                                    round + 1
                                ));
                                let run = client_producer::run(
                                    &client,
                                    &settings,
                                    &under.streams[s].put,
                                    param,
                                    aggregated,
                                    pid,
                                );
                                let r = within(&mut stuck[i], throughput_limit, run, |why| {
                                    given_up(why, throughput_limit)
                                })
                                .await;
                                ("producer", variant, r)
                            }
                            Workload::Consumer => {
                                let variant = format!(
                                    "{} × {} B, TRIM_HORIZON, 1 worker",
                                    settings.drain_records, settings.record_bytes
                                );
                                progress.set_message(format!(
                                    "round {}, {shards} shards: consumer {variant} → {name}",
                                    round + 1
                                ));
                                let streams = &under.streams[s];
                                let counts = streams.drain_counts.as_ref().expect("filled at set-up");
                                let application = format!("bench-consumer-{shards}-{round}");
                                let run = client_consumer::drain(
                                    &client,
                                    &streams.drain,
                                    counts,
                                    &application,
                                    &settings,
                                    DRAIN_LIMIT,
                                    pid,
                                );
                                let r = within(&mut stuck[i], DRAIN_LIMIT + MEASUREMENT_GRACE, run, |why| {
                                    given_up(why, DRAIN_LIMIT)
                                })
                                .await;
                                ("consumer", variant, r)
                            }
                            _ => {
                                let variant = format!(
                                    "{} × {} B, 1 reader/shard",
                                    settings.drain_records, settings.record_bytes
                                );
                                progress.set_message(format!(
                                    "round {}, {shards} shards: drain {variant} {mode} → {name}",
                                    round + 1
                                ));
                                let streams = &under.streams[s];
                                let counts = streams.drain_counts.as_ref().expect("filled at set-up");
                                let run = get_records::drain(&client, &streams.drain, counts, pid);
                                let r =
                                    within(&mut stuck[i], DRAIN_LIMIT, run, |why| given_up(why, DRAIN_LIMIT))
                                        .await;
                                ("get-records", variant, r)
                            }
                        };
                        samples.push(report::sample(
                            label,
                            &variant,
                            shards,
                            &mode_label,
                            name,
                            round,
                            &mut result,
                        ));
                        progress.inc(1);
                    }
                }
            }
            // Latency workloads (not on the baseline, which stores nothing).
            for &rate in &settings.latency_rates {
                for (workload, label) in
                    [(Workload::PutToGet, "put-to-get"), (Workload::PutToPush, "put-to-push")]
                {
                    if !has(workload) {
                        continue;
                    }
                    for &i in &order {
                        let under = &unders[i];
                        if under.target.is_baseline() {
                            continue;
                        }
                        flush_page_cache(&progress).await;
                        let client = under.client.with_mode(settings.latency_mode);
                        let name = under.target.name.clone();
                        progress.set_message(format!(
                            "round {}, {shards} shards: {label} at {rate} rec/s → {name}",
                            round + 1
                        ));
                        let measurement = async {
                            if workload == Workload::PutToGet {
                                Ok(put_to_get::run(
                                    &client,
                                    &settings,
                                    &under.streams[s].get,
                                    &under.streams[s].get_shards,
                                    rate,
                                    epoch,
                                )
                                .await)
                            } else {
                                match &under.streams[s].push_consumer {
                                    Ok((arn, shard_ids)) => {
                                        put_to_push::run(
                                            &client,
                                            &settings,
                                            &under.streams[s].push,
                                            arn,
                                            shard_ids,
                                            rate,
                                            epoch,
                                        )
                                        .await
                                    }
                                    Err(reason) => Err(reason.clone()),
                                }
                            }
                        };
                        let result = within(&mut stuck[i], latency_limit, measurement, |why| {
                            Err(format!("{why}: no result within {} s", latency_limit.as_secs()))
                        })
                        .await;
                        match result {
                            Ok(r) => {
                                let key = (label, rate, shards, name);
                                match latency_results.iter_mut().find(|(k, _)| *k == key) {
                                    Some((_, v)) => v.push(r),
                                    None => latency_results.push((key, vec![r])),
                                }
                            }
                            Err(reason) => {
                                let seen = |u: &&Unsupported| {
                                    u.0 == label && u.1 == rate && u.2 == shards && u.3 == name
                                };
                                if !unsupported.iter().any(|u| seen(&u)) {
                                    unsupported.push((label, rate, shards, name, reason));
                                }
                            }
                        }
                        progress.inc(1);
                    }
                }
            }
        }
    }

    // Start-up at scale, on servers of its own.
    let mut startup_fills = Vec::new();
    let mut startup_restarts = Vec::new();
    if has(Workload::Startup) {
        let durability = args.kinesin.iter().find(|d| d.as_str() != "none").map_or("fsync", String::as_str);
        for &shards in &settings.startup_shards {
            match startup::measure(shards, durability, settings.rounds, work.path(), &args.region, &progress)
                .await
            {
                Ok((filled, restarts)) => {
                    startup_fills.push(filled);
                    startup_restarts.extend(restarts);
                }
                Err(err) => notes.push(format!("start-up at {shards} shards: {err}")),
            }
            progress.inc(1);
        }
    }

    // Resources after the load, then start-up again on the data the run left.
    progress.set_message(format!("letting servers settle for {} s", args.settle_seconds));
    tokio::time::sleep(Duration::from_secs_f64(args.settle_seconds)).await;
    let mut servers = Vec::new();
    for under in &mut unders {
        let after_rss_kib = under.target.pid.and_then(procfs::rss_kib);
        let peak_rss_kib = under.rss.as_ref().map(|r| r.peak_kib().max(after_rss_kib.unwrap_or(0)));
        under.rss = None;
        // What the killed server left unsynced, its start redoes and syncs anyway; other
        // targets' unsynced writes are not its to wait for.
        flush_page_cache(&progress).await;
        progress.set_message(format!("restarting {} on its data", under.target.name));
        if let Err(err) = under.target.restart(&args.region).await {
            notes.push(format!("{}: restart failed: {err}", under.target.name));
        }
        let mib = |kib: Option<u64>| kib.map(|k| k as f64 / 1024.0);
        servers.push(ServerRow {
            target: under.target.name.clone(),
            endpoint: under.target.endpoint.clone(),
            startup_ms: under.target.startup_ms,
            restart_ms: under.target.restart_ms,
            idle_rss_mib: mib(under.idle_rss_kib),
            peak_rss_mib: mib(peak_rss_kib),
            after_rss_mib: mib(after_rss_kib),
        });
    }
    for under in &mut unders {
        under.target.stop();
    }
    progress.finish_and_clear();

    let mut latency_rows: Vec<LatencyRow> = latency_results
        .iter()
        .map(|((label, rate, shards, name), results)| {
            report::latency_row(label, *rate, *shards, &settings.latency_mode.to_string(), name, results)
        })
        .collect();
    for (label, rate, shards, name, reason) in unsupported {
        latency_rows.push(LatencyRow {
            workload: label.into(),
            rate,
            shards,
            mode: settings.latency_mode.to_string(),
            target: name,
            status: reason,
            sent: 0,
            received: 0,
            p50_ms: None,
            p99_ms: None,
            p999_ms: None,
            max_ms: None,
            errors: Default::default(),
        });
    }
    if has(Workload::PutToPush) {
        notes
            .push("put-to-push subscribes through the SDK; its producer uses the latency client mode".into());
    }
    let throughput = report::aggregate(&samples, reference.as_deref(), settings.shards[0], ceiling);
    let report = Report {
        kinesin_version: env!("CARGO_PKG_VERSION"),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        machine,
        load_average_at_end: procfs::load_average(),
        settings,
        reference,
        serialise_ceiling_records_per_s: ceiling,
        throughput,
        latency: latency_rows,
        startup: startup::rows(&startup_fills, &startup_restarts),
        startup_fills,
        startup_restarts,
        servers,
        samples,
        notes,
    };
    let json = serde_json::to_string_pretty(&report).expect("the report serialises");
    if let Some(path) = &args.json_file {
        std::fs::write(path, &json).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    if args.json {
        println!("{json}");
    } else {
        print!("{}", report::render(&report));
    }
    Ok(())
}

/// How long a measurement may run past its nominal length before it is abandoned: a stuck or
/// crawling endpoint then costs one row of the report (an `abandoned` error), and its later
/// measurements are skipped, not the run.
const MEASUREMENT_GRACE: Duration = Duration::from_secs(120);
/// How long one drain of the filled stream may take.
const DRAIN_LIMIT: Duration = Duration::from_secs(300);

/// Writes every dirty page of the machine to disk. Called before each measurement: otherwise
/// a target that leaves its writes to the page cache (a peer in memory, kinesin with `os`) has
/// the kernel write them out during the next target's measurement, whose syncs then wait
/// behind them (seconds, after a PutRecords run).
async fn flush_page_cache(progress: &ProgressBar) {
    progress.set_message("writing the machine's dirty pages to disk (sync)");
    // SAFETY: sync() takes no arguments and cannot fail.
    let _ = tokio::task::spawn_blocking(|| unsafe { libc::sync() }).await;
}

/// `work`, or `late("abandoned")` if it has not finished within `limit`, which marks the target
/// `stuck`; for a target already stuck, `late("skipped")` without running `work`.
async fn within<T>(
    stuck: &mut bool,
    limit: Duration,
    work: impl Future<Output = T>,
    late: impl FnOnce(&str) -> T,
) -> T {
    if *stuck {
        return late("skipped (stopped answering earlier)");
    }
    match tokio::time::timeout(limit, work).await {
        Ok(result) => result,
        Err(_) => {
            *stuck = true;
            late("abandoned")
        }
    }
}

/// The result of a throughput measurement abandoned after `limit`, or skipped.
fn given_up(why: &str, limit: Duration) -> load::LoopResult {
    load::LoopResult {
        seconds: limit.as_secs_f64(),
        errors: [(why.to_owned(), 1)].into(),
        ..load::LoopResult::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    fn parse(args: &[&str]) -> Result<BenchArgs, clap::Error> {
        use clap::Parser;
        Cli::try_parse_from(std::iter::once("bench").chain(args.iter().copied())).map(|c| c.bench)
    }

    #[test]
    fn shards_and_startup_shards_take_lists() {
        let args = parse(&["--shards", "4,500,5000", "--startup-shards", "10000,100000"]).unwrap();
        assert_eq!(args.shards, [4, 500, 5000]);
        assert_eq!(args.startup_shards, [10_000, 100_000]);
        let defaults = parse(&[]).unwrap();
        assert_eq!(defaults.shards, [4]);
        assert!(
            !defaults.workloads.contains(&Workload::Startup),
            "start-up is asked for, not run by default"
        );
        for bad in [["--shards", "4,0"], ["--shards", "four"], ["--startup-shards", "0"]] {
            assert!(parse(&bad).is_err(), "{bad:?} accepted");
        }
        let picked = parse(&["--workloads", "producer,consumer,startup"]).unwrap();
        assert_eq!(picked.workloads, [Workload::Producer, Workload::Consumer, Workload::Startup]);
    }

    #[tokio::test]
    async fn a_target_that_stops_answering_costs_one_limit_then_is_skipped() {
        let mut stuck = false;
        let limit = Duration::from_millis(20);
        let answer = |why: &str| why.to_owned();

        let done = within(&mut stuck, limit, async { "done".to_owned() }, answer).await;
        assert_eq!((done.as_str(), stuck), ("done", false));

        let started = Instant::now();
        let hung = within(&mut stuck, limit, std::future::pending::<String>(), answer).await;
        assert_eq!((hung.as_str(), stuck), ("abandoned", true));
        assert!(started.elapsed() >= limit);

        // Later measurements of that target do not run at all.
        let ran = std::sync::atomic::AtomicBool::new(false);
        let work = async {
            ran.store(true, std::sync::atomic::Ordering::SeqCst);
            "done".to_owned()
        };
        let skipped = within(&mut stuck, Duration::from_secs(3600), work, answer).await;
        assert!(skipped.starts_with("skipped"), "{skipped}");
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
    }
}
