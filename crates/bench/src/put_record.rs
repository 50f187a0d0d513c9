//! Workload 2: PutRecord, one record of `record_bytes` per request, from `clients` concurrent
//! clients (closed loop). Each client cycles through a few pre-built requests.

use std::sync::Arc;
use std::time::Duration;

use super::client::Client;
use super::load::{closed_loop, LoopResult};
use super::Settings;

pub async fn run(
    client: &Client,
    settings: &Settings,
    stream: &str,
    clients: usize,
    pid: Option<u32>,
) -> LoopResult {
    const PER_CLIENT: usize = 8;
    let records: Vec<_> = super::random_entries(clients * PER_CLIENT, settings.record_bytes)
        .into_iter()
        .map(|entry| client.prepare_record(stream, entry))
        .collect();
    let records = Arc::new(records);
    let (client, stream) = (client.clone(), Arc::<str>::from(stream));
    let op = Arc::new(move |worker: usize, n: u64| {
        let (client, stream, records) = (client.clone(), stream.clone(), records.clone());
        Box::pin(async move {
            let record = &records[worker * PER_CLIENT + n as usize % PER_CLIENT];
            client.put_prepared(&stream, record).await?;
            Ok(1u64)
        }) as super::load::BoxFuture<_>
    });
    closed_loop(
        clients,
        Duration::from_secs_f64(settings.warmup),
        Duration::from_secs_f64(settings.seconds),
        pid,
        settings.record_bytes as u64,
        op,
    )
    .await
}
