//! Workload 1: PutRecords, `batch` records of `record_bytes` each, `in_flight` requests at once
//! (closed loop). The requests are built once per measurement and cycled.

use std::sync::Arc;
use std::time::Duration;

use super::client::Client;
use super::load::{closed_loop, LoopResult};
use super::Settings;

pub async fn run(
    client: &Client,
    settings: &Settings,
    stream: &str,
    record_bytes: usize,
    pid: Option<u32>,
) -> LoopResult {
    // Twice as many distinct requests as are in flight, each with random partition keys.
    let batches: Vec<_> = (0..settings.in_flight * 2)
        .map(|_| client.prepare_batch(stream, &super::random_entries(settings.batch, record_bytes)))
        .collect();
    let batches = Arc::new(batches);
    let (client, stream) = (client.clone(), Arc::<str>::from(stream));
    let in_flight = settings.in_flight;
    let op = Arc::new(move |worker: usize, n: u64| {
        let (client, stream, batches) = (client.clone(), stream.clone(), batches.clone());
        Box::pin(async move {
            let batch = &batches[(worker + n as usize * in_flight) % batches.len()];
            let out = client.put_batch(&stream, batch, false).await?;
            Ok(out.ok)
        }) as super::load::BoxFuture<_>
    });
    closed_loop(
        settings.in_flight,
        Duration::from_secs_f64(settings.warmup),
        Duration::from_secs_f64(settings.seconds),
        pid,
        record_bytes as u64,
        op,
    )
    .await
}
