//! A small load generator for measuring a running server: concurrent PutRecords through the
//! official SDK, then the server's RSS from /proc. The full benchmark harness (`kinesin bench`)
//! supersedes it; this is what the figures in the issue notes were measured with.
//!
//! ```sh
//! cargo run --release --example put_load -- --endpoint http://127.0.0.1:4567 \
//!     --shards 4 --in-flight 8 --record-bytes 100 --seconds 10 [--server-pid PID] [--total-mib 2048]
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use clap::Parser;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:4567")]
    endpoint: String,
    #[arg(long, default_value = "put-load")]
    stream: String,
    #[arg(long, default_value_t = 4)]
    shards: i32,
    /// PutRecords requests in flight at once.
    #[arg(long, default_value_t = 8)]
    in_flight: usize,
    #[arg(long, default_value_t = 500)]
    batch: usize,
    #[arg(long, default_value_t = 100)]
    record_bytes: usize,
    /// Stop after this many seconds...
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// ...or after this much data, whichever comes first.
    #[arg(long)]
    total_mib: Option<u64>,
    /// Print this process's RSS before and after.
    #[arg(long)]
    server_pid: Option<u32>,
}

fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let config = aws_sdk_kinesis::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&args.endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .build();
    let client = aws_sdk_kinesis::Client::from_conf(config);
    if client.describe_stream_summary().stream_name(&args.stream).send().await.is_err() {
        client
            .create_stream()
            .stream_name(&args.stream)
            .shard_count(args.shards)
            .send()
            .await
            .expect("create stream");
        loop {
            let d =
                client.describe_stream_summary().stream_name(&args.stream).send().await.expect("describe");
            if d.stream_description_summary().map(|s| s.stream_status().as_str() == "ACTIVE").unwrap_or(false)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    if let Some(pid) = args.server_pid {
        println!("server RSS before: {:.1} MiB", rss_mib(pid).unwrap_or(f64::NAN));
    }
    let records = Arc::new(AtomicU64::new(0));
    let limit_bytes = args.total_mib.map(|m| m * 1024 * 1024);
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let payload = Blob::new(vec![b'x'; args.record_bytes]);
    let mut workers = Vec::new();
    for worker in 0..args.in_flight {
        let (client, records, payload) = (client.clone(), records.clone(), payload.clone());
        let (stream, batch, record_bytes) = (args.stream.clone(), args.batch, args.record_bytes as u64);
        workers.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline
                && limit_bytes.is_none_or(|l| records.load(Ordering::Relaxed) * record_bytes < l)
            {
                let entries = (0..batch)
                    .map(|i| {
                        PutRecordsRequestEntry::builder()
                            .partition_key(format!("{worker}-{n}-{i}"))
                            .data(payload.clone())
                            .build()
                            .unwrap()
                    })
                    .collect();
                n += 1;
                let out = client.put_records().stream_name(&stream).set_records(Some(entries)).send().await;
                let out = out.expect("PutRecords");
                records.fetch_add(
                    (batch as u64) - out.failed_record_count().unwrap_or(0) as u64,
                    Ordering::Relaxed,
                );
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total = records.load(Ordering::Relaxed);
    println!(
        "{total} records of {} B in {elapsed:.2} s: {:.0} records/s, {:.1} MiB/s",
        args.record_bytes,
        total as f64 / elapsed,
        (total * args.record_bytes as u64) as f64 / elapsed / 1048576.0
    );
    if let Some(pid) = args.server_pid {
        println!("server RSS after: {:.1} MiB", rss_mib(pid).unwrap_or(f64::NAN));
    }
}
