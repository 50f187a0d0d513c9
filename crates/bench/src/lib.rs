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
    /// Shards of each bench stream.
    #[arg(long, default_value_t = 4)]
    shards: i32,
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
    pub shards: i32,
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
    put_stream: String,
    drain: Option<get_records::ShardCounts>,
    latency_shards: Vec<String>,
    push: Result<(String, Vec<String>), String>,
}

const PUT_STREAM: &str = "bench-put";
const DRAIN_STREAM: &str = "bench-drain";
const GET_STREAM: &str = "bench-latency-get";
const PUSH_STREAM: &str = "bench-latency-push";

async fn run_bench(args: BenchArgs) -> Result<(), String> {
    let settings = Settings {
        workloads: args.workloads.clone(),
        modes: args.modes.clone(),
        latency_mode: args.latency_client,
        rounds: args.rounds.max(1),
        seconds: args.seconds,
        warmup: args.warmup,
        shards: args.shards,
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
    let per_round = modes
        * n_targets
        * (if has(Workload::PutRecords) { settings.put_records_sizes.len() as u64 } else { 0 }
            + if has(Workload::PutRecord) { settings.put_record_clients.len() as u64 } else { 0 }
            + u64::from(has(Workload::GetRecords)))
        + n_latency_targets
            * settings.latency_rates.len() as u64
            * (u64::from(has(Workload::PutToGet)) + u64::from(has(Workload::PutToPush)));
    progress.set_length(n_targets + per_round * settings.rounds as u64);

    // Set up each target: streams, the drain fill, the fan-out consumer; idle RSS first.
    let mut unders = Vec::new();
    for target in targets {
        progress.set_message(format!("setting up {}", target.name));
        let client = Client::new(Mode::Raw, &target.endpoint, &args.region)?;
        let idle_rss_kib = target.pid.and_then(procfs::rss_kib);
        let rss = target.pid.map(procfs::RssSampler::start);
        if has(Workload::PutRecords) || has(Workload::PutRecord) {
            client
                .ensure_stream(PUT_STREAM, settings.shards)
                .await
                .map_err(|e| format!("{}: {e}", target.name))?;
        }
        let mut drain = None;
        if has(Workload::GetRecords) {
            client
                .ensure_stream(DRAIN_STREAM, settings.shards)
                .await
                .map_err(|e| format!("{}: {e}", target.name))?;
            progress.set_message(format!(
                "filling {DRAIN_STREAM} on {} ({} records)",
                target.name, settings.drain_records
            ));
            let started = Instant::now();
            let counts = get_records::fill(
                &client,
                DRAIN_STREAM,
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
                "{}: filled {DRAIN_STREAM} with {filled} records{cut} in {:.1} s",
                target.name,
                started.elapsed().as_secs_f64()
            ));
            drain = Some(counts);
        }
        let mut latency_shards = Vec::new();
        if has(Workload::PutToGet) && !target.is_baseline() {
            latency_shards = client
                .ensure_stream(GET_STREAM, settings.shards)
                .await
                .map_err(|e| format!("{}: {e}", target.name))?;
        }
        let mut push = Err("not run".to_owned());
        if has(Workload::PutToPush) && !target.is_baseline() {
            let shards = client
                .ensure_stream(PUSH_STREAM, settings.shards)
                .await
                .map_err(|e| format!("{}: {e}", target.name))?;
            push = put_to_push::register(&client, PUSH_STREAM).await.map(|arn| (arn, shards));
        }
        progress.inc(1);
        unders.push(Under {
            target,
            client,
            rss,
            idle_rss_kib,
            put_stream: PUT_STREAM.into(),
            drain,
            latency_shards,
            push,
        });
    }

    // The rounds: every workload variant and mode on every target in turn, the target order
    // rotated each round so that none always goes first.
    let epoch = Instant::now();
    let mut samples: Vec<Sample> = Vec::new();
    // Per (workload, rate, target): the rounds' results.
    type LatencyKey = (&'static str, u64, String);
    let mut latency_results: Vec<(LatencyKey, Vec<latency::LatencyResult>)> = Vec::new();
    let mut unsupported: Vec<(&'static str, u64, String, String)> = Vec::new();
    let throughput_limit = Duration::from_secs_f64(settings.warmup + settings.seconds) + MEASUREMENT_GRACE;
    let latency_limit = Duration::from_secs_f64(settings.latency_seconds) + MEASUREMENT_GRACE;
    // Targets that stopped answering: one abandoned measurement, and the rest of theirs are
    // skipped instead of each waiting out its limit.
    let mut stuck = vec![false; unders.len()];
    for round in 0..settings.rounds {
        let order: Vec<usize> = (0..unders.len()).map(|i| (i + round) % unders.len()).collect();
        let mut variants: Vec<(Workload, usize)> = Vec::new();
        if has(Workload::PutRecords) {
            variants.extend(settings.put_records_sizes.iter().map(|&s| (Workload::PutRecords, s)));
        }
        if has(Workload::PutRecord) {
            variants.extend(settings.put_record_clients.iter().map(|&c| (Workload::PutRecord, c)));
        }
        if has(Workload::GetRecords) {
            variants.push((Workload::GetRecords, 0));
        }
        for &(workload, param) in &variants {
            for &mode in &settings.modes {
                for &i in &order {
                    flush_page_cache(&progress).await;
                    let under = &unders[i];
                    let client = under.client.with_mode(mode);
                    let pid = under.target.pid;
                    let name = &under.target.name;
                    let (label, variant, mut result) = match workload {
                        Workload::PutRecords => {
                            let variant =
                                format!("{}×{} B, {} in flight", settings.batch, param, settings.in_flight);
                            progress.set_message(format!(
                                "round {}: PutRecords {variant} {mode} → {name}",
                                round + 1
                            ));
                            let run = put_records::run(&client, &settings, &under.put_stream, param, pid);
                            let r = within(&mut stuck[i], throughput_limit, run, |why| {
                                given_up(why, throughput_limit)
                            })
                            .await;
                            ("put-records", variant, r)
                        }
                        Workload::PutRecord => {
                            let variant = format!("{} B, {param} clients", settings.record_bytes);
                            progress.set_message(format!(
                                "round {}: PutRecord {variant} {mode} → {name}",
                                round + 1
                            ));
                            let run = put_record::run(&client, &settings, &under.put_stream, param, pid);
                            let r = within(&mut stuck[i], throughput_limit, run, |why| {
                                given_up(why, throughput_limit)
                            })
                            .await;
                            ("put-record", variant, r)
                        }
                        _ => {
                            let variant = format!(
                                "{} × {} B, 1 reader/shard",
                                settings.drain_records, settings.record_bytes
                            );
                            progress
                                .set_message(format!("round {}: drain {variant} {mode} → {name}", round + 1));
                            let counts = under.drain.as_ref().expect("filled at set-up");
                            let run = get_records::drain(&client, DRAIN_STREAM, counts, pid);
                            let r = within(&mut stuck[i], DRAIN_LIMIT, run, |why| given_up(why, DRAIN_LIMIT))
                                .await;
                            ("get-records", variant, r)
                        }
                    };
                    samples.push(report::sample(
                        label,
                        &variant,
                        &mode.to_string(),
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
                    progress.set_message(format!("round {}: {label} at {rate} rec/s → {name}", round + 1));
                    let measurement = async {
                        if workload == Workload::PutToGet {
                            Ok(put_to_get::run(
                                &client,
                                &settings,
                                GET_STREAM,
                                &under.latency_shards,
                                rate,
                                epoch,
                            )
                            .await)
                        } else {
                            match &under.push {
                                Ok((arn, shards)) => {
                                    put_to_push::run(
                                        &client,
                                        &settings,
                                        PUSH_STREAM,
                                        arn,
                                        shards,
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
                            let key = (label, rate, name);
                            match latency_results.iter_mut().find(|(k, _)| *k == key) {
                                Some((_, v)) => v.push(r),
                                None => latency_results.push((key, vec![r])),
                            }
                        }
                        Err(reason) => {
                            if !unsupported.iter().any(|u| u.0 == label && u.1 == rate && u.2 == name) {
                                unsupported.push((label, rate, name, reason));
                            }
                        }
                    }
                    progress.inc(1);
                }
            }
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
        .map(|((label, rate, name), results)| {
            report::latency_row(label, *rate, &settings.latency_mode.to_string(), name, results)
        })
        .collect();
    for (label, rate, name, reason) in unsupported {
        latency_rows.push(LatencyRow {
            workload: label.into(),
            rate,
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
    let throughput = report::aggregate(&samples, reference.as_deref(), ceiling);
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
/// How long filling the drain stream may take; a slower endpoint is drained with what it took.
const FILL_LIMIT: Duration = Duration::from_secs(300);
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
