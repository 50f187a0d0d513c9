//! `kinesin`: a durable, fast Amazon Kinesis Data Streams server in one binary.

mod admin;
mod cluster;
mod config;
mod console;
mod kinesis_metrics;
mod lifecycle;
mod metrics;
mod open_files;
mod serve;
mod startup_streams;

use clap::{Parser, Subcommand};

/// `kinesin --version`: the crate version and the git commit it was built from (see build.rs).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("KINESIN_GIT_COMMIT"), ")");

#[derive(Parser)]
#[command(name = "kinesin", version = VERSION, about = "A durable, fast Amazon Kinesis Data Streams server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the Kinesis API from an embedded store in a data directory, or as a node of a
    /// cluster on PostgreSQL and an S3 bucket (--metadata, --bucket).
    Serve(serve::ServeArgs),
    /// Benchmark Kinesis endpoints (kinesin, the built-in baseline, peers) with the same workloads.
    Bench(kinesin_bench::BenchArgs),
    /// List, create, describe (with the shard lineage), delete and scale streams.
    Streams(kinesin_cli::streams::StreamsArgs),
    /// Put records read from stdin or a file, through the batching producer.
    Put(kinesin_cli::put::PutArgs),
    /// Print a stream's records as they arrive, from every shard, following resharding.
    Tail(kinesin_cli::tail::TailArgs),
    /// Archive a stream into time-partitioned, compressed objects in a directory or an S3
    /// bucket: a consumer application that checkpoints only what is durably written.
    Archive(kinesin_cli::archive::ArchiveArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KINESIN_LOG").unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        // The arguments of `serve` start after the binary's name.
        Command::Serve(args) => {
            config::apply_config_file(args, std::env::args_os().skip(1)).and_then(serve::run)
        }
        Command::Bench(args) => kinesin_bench::run(args),
        Command::Streams(args) => kinesin_cli::block_on(kinesin_cli::streams::run(args)),
        Command::Put(args) => kinesin_cli::block_on(kinesin_cli::put::run(args)),
        Command::Tail(args) => kinesin_cli::block_on(kinesin_cli::tail::run(args)),
        Command::Archive(args) => kinesin_cli::block_on(kinesin_cli::archive::run(args)),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("kinesin: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}
