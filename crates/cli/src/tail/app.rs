//! `kinesin tail STREAM --app NAME`: the tail as one worker of a consumer application, on
//! kinesin-client's consumer (`docs/cli.md`, "kinesin tail --app"). Processors hand their
//! batches to one printer and checkpoint only what it has written to stdout, so a worker that
//! dies costs its successor only duplicates after the last checkpoint, never a gap. SIGINT and
//! SIGTERM stop the worker gracefully: its leases go to the other workers at once.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use kinesin_client::consumer::{
    Checkpointer, Consumer, InitialPosition, ProcessRecordsInput, RecordProcessor, Retrieval,
};
use kinesin_client::deaggregation::UserRecord;
use tokio::sync::{mpsc, oneshot};

use super::{write_record, Start, TailArgs, IDLE_POLL};
use crate::CliError;

/// A batch of one shard for the printer, which answers how many of its records it wrote.
struct Batch {
    shard: String,
    records: Arc<[UserRecord]>,
    printed: oneshot::Sender<usize>,
}

pub(super) async fn run(args: &TailArgs, application: &str) -> Result<(), CliError> {
    let kinesis = args.connection.client().await;
    let dynamodb = args.connection.dynamodb_client().await;
    let mut consumer = Consumer::builder(kinesis, dynamodb, application, &args.stream)
        .failover_time(Duration::from_millis(args.failover_ms))
        .initial_position(initial_position(&args.from)?)
        .idle_time_between_reads(IDLE_POLL);
    if let Some(consumer_name) = &args.efo {
        consumer = consumer.retrieval(Retrieval::FanOut { consumer_name: consumer_name.clone() });
    }
    let (batches, mut received) = mpsc::channel::<Batch>(16);
    let consumer = consumer
        .start(move |_shard: &str| Printer { batches: batches.clone(), all_printed: true })
        .await
        .map_err(|e| CliError::Stopped(format!("cannot start a worker of application {application}: {e}")))?;
    let printing = print(args, &mut received);
    let stopped = stop_requested();
    let result = tokio::select! {
        result = printing => result,
        stopped = stopped => stopped,
    };
    // Processors waiting for the printer give up (and do not checkpoint); then the worker
    // checkpoints nothing more and releases its leases.
    drop(received);
    consumer.shutdown().await;
    result
}

/// Prints batches until `--max-records` are printed.
async fn print(args: &TailArgs, received: &mut mpsc::Receiver<Batch>) -> Result<(), CliError> {
    let mut printed = 0u64;
    let mut out = std::io::stdout().lock();
    while let Some(batch) = received.recv().await {
        let room = args.max_records.map_or(usize::MAX, |max| (max - printed) as usize);
        let records = &batch.records[..batch.records.len().min(room)];
        for record in records {
            write_record(&mut out, args.format, &batch.shard, record).map_err(CliError::Output)?;
        }
        out.flush().map_err(CliError::Output)?;
        printed += records.len() as u64;
        let _ = batch.printed.send(records.len());
        if args.max_records.is_some_and(|max| printed >= max) {
            break;
        }
    }
    Ok(())
}

/// Resolves at SIGINT or SIGTERM.
async fn stop_requested() -> Result<(), CliError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate())
        .map_err(|e| CliError::Stopped(format!("cannot watch for SIGTERM: {e}")))?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    Ok(())
}

fn initial_position(from: &Start) -> Result<InitialPosition, CliError> {
    Ok(match from {
        Start::TrimHorizon => InitialPosition::TrimHorizon,
        Start::Latest => InitialPosition::Latest,
        Start::At(time) => InitialPosition::AtTimestamp(
            SystemTime::try_from(*time).map_err(|e| CliError::Usage(format!("--from: {e}")))?,
        ),
    })
}

/// One shard's processor: sends each batch to the printer and checkpoints what was printed.
struct Printer {
    batches: mpsc::Sender<Batch>,
    /// Every record delivered so far was printed (and checkpointed): only then may the shard's
    /// end be checkpointed.
    all_printed: bool,
}

impl RecordProcessor for Printer {
    async fn process_records(&mut self, input: ProcessRecordsInput, checkpointer: &mut Checkpointer) {
        let records: Arc<[UserRecord]> = input.records.into();
        let (printed, was_printed) = oneshot::channel();
        let batch = Batch { shard: input.shard_id, records: Arc::clone(&records), printed };
        let count = match self.batches.send(batch).await {
            Ok(()) => was_printed.await.unwrap_or(0),
            Err(_) => 0,
        };
        self.all_printed &= count == records.len();
        if let Some(last) = count.checked_sub(1).map(|i| &records[i]) {
            let _ = checkpointer.checkpoint_record(last).await;
        }
    }

    async fn shard_ended(&mut self, checkpointer: &mut Checkpointer) {
        if self.all_printed {
            let _ = checkpointer.checkpoint().await;
        }
    }

    /// Everything printed is checkpointed already; what was not printed must be read again.
    async fn shutdown_requested(&mut self, _checkpointer: &mut Checkpointer) {}
}
