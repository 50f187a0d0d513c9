//! [`Tails`]: waking readers that wait for a shard's next records, for backends whose appends
//! happen in this process (`ShardLog::wait_for`).

use std::collections::HashMap;
use std::sync::RwLock;

use tokio::sync::watch;

use crate::storage::{ShardKey, StoreError};

/// One signal per shard that has waiters. A shard without waiters has no entry, so notifying
/// it costs one map lookup under a read lock, and nothing is allocated per append.
#[derive(Default)]
pub struct Tails {
    signals: RwLock<HashMap<ShardKey, watch::Sender<()>>>,
}

impl std::fmt::Debug for Tails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tails").finish_non_exhaustive()
    }
}

impl Tails {
    /// Something a waiter may be waiting for happened to `shard`: records were committed, it
    /// was sealed or removed.
    pub fn notify(&self, shard: ShardKey) {
        if let Some(signal) = self.signals.read().unwrap_or_else(|e| e.into_inner()).get(&shard) {
            signal.send_replace(());
        }
    }

    /// Resolves once `ready` says so, asking it again after every notification of `shard`.
    /// It is first asked after the waiter is registered, so a notification cannot slip in
    /// between. Dropping the future (cancelling the wait) is fine.
    pub async fn wait_until(
        &self,
        shard: ShardKey,
        mut ready: impl FnMut() -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        let mut waiter = Waiter { tails: self, shard, rx: Some(self.register(shard)) };
        loop {
            if ready()? {
                return Ok(());
            }
            waiter.changed().await;
        }
    }

    fn register(&self, shard: ShardKey) -> watch::Receiver<()> {
        let mut signals = self.signals.write().unwrap_or_else(|e| e.into_inner());
        signals.entry(shard).or_insert_with(|| watch::channel(()).0).subscribe()
    }
}

/// A registered waiter; dropping it removes the shard's signal once nobody waits on it.
struct Waiter<'a> {
    tails: &'a Tails,
    shard: ShardKey,
    /// `None` only while being dropped.
    rx: Option<watch::Receiver<()>>,
}

impl Waiter<'_> {
    async fn changed(&mut self) {
        // The sender stays in the map while a receiver exists (see `Drop`), so this cannot
        // fail; if it did, nothing would wake this shard again and waiting forever is right.
        let fired = match &mut self.rx {
            Some(rx) => rx.changed().await.is_ok(),
            None => false,
        };
        if !fired {
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        drop(self.rx.take());
        let mut signals = self.tails.signals.write().unwrap_or_else(|e| e.into_inner());
        if signals.get(&self.shard).is_some_and(|signal| signal.receiver_count() == 0) {
            signals.remove(&self.shard);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    const SHARD: ShardKey = ShardKey { stream_id: 1, shard_index: 0 };

    #[tokio::test]
    async fn a_waiter_wakes_on_notification_and_leaves_no_signal_behind() {
        let tails = Arc::new(Tails::default());
        let tip = Arc::new(AtomicU64::new(0));
        let waiting = {
            let (tails, tip) = (tails.clone(), tip.clone());
            tokio::spawn(async move { tails.wait_until(SHARD, || Ok(tip.load(Ordering::SeqCst) > 0)).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        // Another shard's notification does not satisfy it.
        tails.notify(ShardKey { stream_id: 1, shard_index: 1 });
        tip.store(1, Ordering::SeqCst);
        tails.notify(SHARD);
        tokio::time::timeout(Duration::from_secs(5), waiting).await.unwrap().unwrap().unwrap();
        assert!(tails.signals.read().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_cancelled_wait_leaves_no_signal_behind() {
        let tails = Tails::default();
        let wait = tails.wait_until(SHARD, || Ok(false));
        assert!(tokio::time::timeout(Duration::from_millis(10), wait).await.is_err());
        assert!(tails.signals.read().unwrap().is_empty());
        tails.wait_until(SHARD, || Ok(true)).await.unwrap();
    }
}
