//! The fan-out hub: what SubscribeToShard needs besides the catalog.
//!
//! * **Shard signals.** Each shard that has subscribers has a signal. Every metadata change of
//!   a stream (a reshard closing a shard, a consumer deregistered, the stream deleted; made
//!   here or, through the catalog's change feed, on another node) raises the signals of all its
//!   shards, and so does a lease take-over. A subscription sleeps on its shard's signal and on
//!   the log's `ShardLog::wait_for` (new records, appended by any node), and re-reads the log
//!   and the metadata only when one fires: no polling interval stands between a put and its
//!   push.
//! * **Leases.** At most one live subscription per (consumer, shard). A new one within
//!   [`RESUBSCRIBE_AFTER_MS`] of the last successful one is refused with
//!   ResourceInUseException; a later one takes the lease over, and the subscription it
//!   replaces notices at its next wake-up (taking over raises the shard's signal).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use kinesin_wire::ApiError;
use tokio::sync::watch;

use crate::lookup::shard_id;
use crate::storage::ShardKey;

/// A second SubscribeToShard for the same consumer and shard within this long of a successful
/// one gets ResourceInUseException (AWS's rule).
pub const RESUBSCRIBE_AFTER_MS: i64 = 5_000;

#[derive(Default)]
pub(crate) struct Fanout {
    /// One sender per watched shard. An entry exists only while some subscription watches the
    /// shard, so an append to an unwatched shard costs one map lookup.
    signals: RwLock<HashMap<ShardKey, watch::Sender<()>>>,
    leases: Mutex<HashMap<LeaseKey, Grant>>,
    next_lease_id: AtomicU64,
}

/// Who may read a shard through SubscribeToShard: one consumer, one shard.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct LeaseKey {
    pub shard: ShardKey,
    pub consumer_arn: String,
}

/// A granted lease; it stays granted until another subscription takes it over.
#[derive(Debug)]
pub(crate) struct Lease {
    pub key: LeaseKey,
    id: u64,
}

struct Grant {
    id: u64,
    granted_ms: i64,
    /// The subscription holding it is still running.
    live: bool,
}

impl Fanout {
    /// Starts watching `shard`: the returned signal fires for every change after this call.
    pub(crate) fn watch(self: &Arc<Self>, shard: ShardKey) -> ShardSignal {
        let mut signals = self.signals.write().unwrap_or_else(|e| e.into_inner());
        let rx = signals.entry(shard).or_insert_with(|| watch::channel(()).0).subscribe();
        ShardSignal { fanout: self.clone(), shard, rx: Some(rx) }
    }

    /// Wakes the subscription of `shard` (its lease was taken over).
    fn wake(&self, shard: ShardKey) {
        if let Some(signal) = self.signals.read().unwrap_or_else(|e| e.into_inner()).get(&shard) {
            signal.send_replace(());
        }
    }

    /// A stream's metadata changed, or the stream is gone: every subscriber of it looks again.
    pub(crate) fn stream_changed(&self, stream_id: u64) {
        let signals = self.signals.read().unwrap_or_else(|e| e.into_inner());
        for (_, signal) in signals.iter().filter(|(shard, _)| shard.stream_id == stream_id) {
            signal.send_replace(());
        }
    }

    /// Grants the lease on `key` unless it was granted less than [`RESUBSCRIBE_AFTER_MS`] ago.
    pub(crate) fn acquire(&self, key: LeaseKey, now_ms: i64) -> Result<Lease, ApiError> {
        let recent = |grant: &Grant| now_ms - grant.granted_ms < RESUBSCRIBE_AFTER_MS;
        let mut leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
        // Forget leases that can neither refuse a subscription nor be taken over any more.
        leases.retain(|_, grant| grant.live || recent(grant));
        if leases.get(&key).is_some_and(recent) {
            return Err(ApiError::resource_in_use(format!(
                "Another active subscription exists for consumer {} and shard {}. A new SubscribeToShard may take \
                 it over {} seconds after it started.",
                key.consumer_arn,
                shard_id(key.shard.shard_index),
                RESUBSCRIBE_AFTER_MS / 1000
            )));
        }
        let id = self.next_lease_id.fetch_add(1, Ordering::Relaxed);
        let replaced = leases.insert(key.clone(), Grant { id, granted_ms: now_ms, live: true });
        drop(leases);
        if replaced.is_some_and(|grant| grant.live) {
            self.wake(key.shard);
        }
        Ok(Lease { key, id })
    }

    /// Whether `lease` is still the current grant for its consumer and shard.
    pub(crate) fn holds(&self, lease: &Lease) -> bool {
        let leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
        leases.get(&lease.key).is_some_and(|grant| grant.id == lease.id)
    }

    /// How many subscriptions are running, by stream id (for `/metrics`).
    pub(crate) fn live_subscriptions(&self) -> HashMap<u64, u64> {
        let leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
        let mut live = HashMap::new();
        for (key, _) in leases.iter().filter(|(_, grant)| grant.live) {
            *live.entry(key.shard.stream_id).or_default() += 1;
        }
        live
    }

    /// The subscription holding `lease` has ended; the grant still refuses newcomers until
    /// [`RESUBSCRIBE_AFTER_MS`] after it was made.
    pub(crate) fn release(&self, lease: &Lease) {
        let mut leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(grant) = leases.get_mut(&lease.key).filter(|grant| grant.id == lease.id) {
            grant.live = false;
        }
    }
}

/// A subscription's hold on its shard's signal. Dropping it removes the signal once no
/// subscription watches the shard any more.
pub(crate) struct ShardSignal {
    fanout: Arc<Fanout>,
    shard: ShardKey,
    /// `None` only while being dropped.
    rx: Option<watch::Receiver<()>>,
}

impl ShardSignal {
    /// Marks every signal so far as seen: a later one makes [`ShardSignal::changed`] return.
    /// Call it before looking at the log, so that nothing committed after the look is missed.
    pub(crate) fn mark_seen(&mut self) {
        if let Some(rx) = &mut self.rx {
            rx.borrow_and_update();
        }
    }

    /// Waits for a signal not yet marked seen.
    pub(crate) async fn changed(&mut self) {
        // The sender outlives every receiver (see `Drop`), so an error cannot happen; if it
        // did, waiting forever is right: nothing will signal this shard again.
        let fired = match &mut self.rx {
            Some(rx) => rx.changed().await.is_ok(),
            None => false,
        };
        if !fired {
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for ShardSignal {
    fn drop(&mut self) {
        drop(self.rx.take());
        let mut signals = self.fanout.signals.write().unwrap_or_else(|e| e.into_inner());
        if signals.get(&self.shard).is_some_and(|signal| signal.receiver_count() == 0) {
            signals.remove(&self.shard);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(consumer: &str) -> LeaseKey {
        LeaseKey { shard: ShardKey { stream_id: 1, shard_index: 0 }, consumer_arn: consumer.to_owned() }
    }

    #[test]
    fn a_lease_refuses_newcomers_for_five_seconds_then_is_taken_over() {
        let fanout = Fanout::default();
        let first = fanout.acquire(key("c"), 1_000).unwrap();
        let err = fanout.acquire(key("c"), 1_000 + RESUBSCRIBE_AFTER_MS - 1).unwrap_err();
        assert_eq!(err.code, "ResourceInUseException");
        // Other consumers and shards are independent.
        fanout.acquire(key("other"), 1_001).unwrap();
        let second = fanout.acquire(key("c"), 1_000 + RESUBSCRIBE_AFTER_MS).unwrap();
        assert!(!fanout.holds(&first));
        assert!(fanout.holds(&second));
        // Releasing the replaced lease does not disturb the new holder.
        fanout.release(&first);
        assert!(fanout.holds(&second));
    }

    #[test]
    fn live_subscriptions_are_counted_by_stream_until_released() {
        let fanout = Fanout::default();
        let first = fanout.acquire(key("a"), 0).unwrap();
        let _second = fanout.acquire(key("b"), 0).unwrap();
        assert_eq!(fanout.live_subscriptions(), HashMap::from([(1, 2)]));
        fanout.release(&first);
        assert_eq!(fanout.live_subscriptions(), HashMap::from([(1, 1)]));
    }

    #[test]
    fn an_ended_subscription_still_counts_for_five_seconds() {
        let fanout = Fanout::default();
        let lease = fanout.acquire(key("c"), 0).unwrap();
        fanout.release(&lease);
        assert!(fanout.acquire(key("c"), 10).is_err());
        assert!(fanout.acquire(key("c"), RESUBSCRIBE_AFTER_MS).is_ok());
    }

    #[tokio::test]
    async fn signals_wake_watchers_and_vanish_with_them() {
        let fanout = Arc::new(Fanout::default());
        let shard = ShardKey { stream_id: 7, shard_index: 3 };
        let mut signal = fanout.watch(shard);
        signal.mark_seen();
        fanout.wake(shard);
        tokio::time::timeout(std::time::Duration::from_secs(1), signal.changed()).await.unwrap();
        signal.mark_seen();
        fanout.stream_changed(7);
        tokio::time::timeout(std::time::Duration::from_secs(1), signal.changed()).await.unwrap();
        signal.mark_seen();
        fanout.stream_changed(8);
        assert!(tokio::time::timeout(std::time::Duration::from_millis(20), signal.changed()).await.is_err());
        drop(signal);
        assert!(fanout.signals.read().unwrap().is_empty());
    }
}
