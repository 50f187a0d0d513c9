//! A worker's main loop (docs/client.md#the-lease-algorithm): every failover/3 it renews its
//! leases, scans the table and takes what the lease taker says, starting a shard consumer for
//! each lease taken — and scans again just after another worker's lease could expire; now and
//! then it syncs leases with the stream's shards. On a graceful stop
//! it lets every shard consumer checkpoint and release its lease, renewing them meanwhile.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::{Id, JoinSet};
use tokio::time::Instant;

use super::coordinator::LeaseCoordinator;
use super::processor::RecordProcessor;
use super::shard_consumer::consume_shard;
use super::shard_sync::sync_shards;
use super::Context;
use crate::list_shards::list_shards;

/// The KCL's margin that makes renewals land before the failover time is up.
const EPSILON: Duration = Duration::from_millis(25);

/// Runs until `shutdown` turns true, then stops gracefully.
pub(crate) async fn run<P: RecordProcessor>(
    ctx: Arc<Context<P>>,
    mut coordinator: LeaseCoordinator,
    mut shutdown: watch::Receiver<bool>,
) {
    let tick = (ctx.settings.failover_time / 3).saturating_sub(EPSILON).max(Duration::from_millis(10));
    let (stop_consumers, stop) = watch::channel(false);
    let mut consumers = ShardConsumers::default();
    let mut next_sync = Instant::now() + ctx.settings.shard_sync_interval;
    let mut next_renewal = Instant::now();
    loop {
        if Instant::now() >= next_renewal {
            coordinator.renew_all().await;
            next_renewal = Instant::now() + tick;
        }
        // A failed scan is tried again at the next round.
        if let Ok(taken) = coordinator.take_leases().await {
            for (key, held) in taken {
                consumers.start(key, consume_shard(Arc::clone(&ctx), held, stop.clone()));
            }
        }
        if Instant::now() >= next_sync {
            if let Ok(shards) = list_shards(&ctx.kinesis, &ctx.stream).await {
                let _ = sync_shards(ctx.table.as_ref(), &shards, &ctx.settings.initial_position).await;
            }
            next_sync = Instant::now() + ctx.settings.shard_sync_interval;
        }
        // The next round: the next renewal, or just after the next lease could expire.
        let next_round = match coordinator.next_expiry() {
            Some(expiry) => next_renewal.min(expiry + EPSILON),
            None => next_renewal,
        };
        let next_round = tokio::time::sleep_until(next_round);
        tokio::pin!(next_round);
        loop {
            tokio::select! {
                _ = &mut next_round => break,
                Some(key) = consumers.next_finished() => coordinator.forget(&key),
                _ = shutdown.changed() => {
                    let _ = stop_consumers.send(true);
                    return stop_gracefully(&ctx, coordinator, consumers, tick).await;
                }
            }
        }
    }
}

/// Waits for every shard consumer to checkpoint and release its lease, renewing the leases
/// until then; releases whatever is left (a processor that panicked).
async fn stop_gracefully<P>(
    ctx: &Context<P>,
    mut coordinator: LeaseCoordinator,
    mut consumers: ShardConsumers,
    tick: Duration,
) {
    let mut next_renewal = Instant::now() + tick;
    while !consumers.is_empty() {
        tokio::select! {
            _ = tokio::time::sleep_until(next_renewal) => {
                coordinator.renew_all().await;
                next_renewal = Instant::now() + tick;
            }
            Some(key) = consumers.next_finished() => coordinator.forget(&key),
        }
    }
    for (_, held) in coordinator.held() {
        let _ = held.release(ctx.table.as_ref()).await;
    }
}

/// The running shard consumers, by lease key. Dropping it aborts them (a worker that dies
/// says no goodbye).
#[derive(Default)]
struct ShardConsumers {
    tasks: JoinSet<()>,
    keys: HashMap<Id, String>,
}

impl ShardConsumers {
    fn start(&mut self, key: String, consumer: impl std::future::Future<Output = ()> + Send + 'static) {
        let handle = self.tasks.spawn(consumer);
        self.keys.insert(handle.id(), key);
    }

    fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// The lease key of the next consumer to end, whether it returned or panicked; `None` when
    /// there are none.
    async fn next_finished(&mut self) -> Option<String> {
        let id = match self.tasks.join_next_with_id().await? {
            Ok((id, ())) => id,
            Err(e) => e.id(),
        };
        self.keys.remove(&id)
    }
}
