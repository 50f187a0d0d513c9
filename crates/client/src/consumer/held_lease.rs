//! A lease this worker holds, shared by the coordinator (which renews it) and the shard's
//! consumer (whose checkpoints write it). Both write under one lock, so a renewal and a
//! checkpoint never race each other's counter.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::lease::Lease;
use super::lease_table::{LeaseTable, TableResult};

#[derive(Debug)]
pub(crate) struct HeldLease {
    lease: tokio::sync::Mutex<Lease>,
    /// A conditional write failed: another worker owns the lease now.
    lost: AtomicBool,
    /// Released on purpose (shard finished, worker stopping): no more renewals.
    released: AtomicBool,
    /// The last time a write of ours moved the counter.
    last_renewed: Mutex<Instant>,
}

impl HeldLease {
    /// A lease just taken (the counter in `lease` is the one the take wrote).
    pub fn new(lease: Lease) -> HeldLease {
        HeldLease {
            lease: tokio::sync::Mutex::new(lease),
            lost: AtomicBool::new(false),
            released: AtomicBool::new(false),
            last_renewed: Mutex::new(Instant::now()),
        }
    }

    pub async fn snapshot(&self) -> Lease {
        self.lease.lock().await.clone()
    }

    /// Lost to another worker, or not renewed for the failover time (so others may have taken
    /// it): either way this worker must stop processing the shard.
    pub fn is_lost(&self, failover: Duration) -> bool {
        self.lost.load(Ordering::SeqCst) || self.last_renewed.lock().unwrap().elapsed() > failover
    }

    pub fn is_released(&self) -> bool {
        self.released.load(Ordering::SeqCst)
    }

    /// Moves the counter, so that other workers see the lease alive. A failed condition means
    /// the lease was taken; a failed call is tried again at the next renewal.
    pub async fn renew(&self, table: &dyn LeaseTable) -> TableResult<()> {
        let mut lease = self.lease.lock().await;
        if self.is_released() || self.lost.load(Ordering::SeqCst) {
            return Ok(());
        }
        if table.renew(&lease).await? {
            lease.counter += 1;
            *self.last_renewed.lock().unwrap() = Instant::now();
        } else {
            self.lost.store(true, Ordering::SeqCst);
        }
        Ok(())
    }

    /// Writes `change` applied to the lease, conditional on its counter. `Ok(false)`: the lease
    /// was lost (and is marked so).
    pub async fn update(&self, table: &dyn LeaseTable, change: impl FnOnce(&mut Lease)) -> TableResult<bool> {
        let mut lease = self.lease.lock().await;
        if self.lost.load(Ordering::SeqCst) || self.is_released() {
            return Ok(false);
        }
        let mut changed = lease.clone();
        change(&mut changed);
        if table.update(&changed).await? {
            changed.counter += 1;
            *lease = changed;
            *self.last_renewed.lock().unwrap() = Instant::now();
            Ok(true)
        } else {
            self.lost.store(true, Ordering::SeqCst);
            Ok(false)
        }
    }

    /// Gives the lease up (no owner), so that any worker can take it at once.
    pub async fn release(&self, table: &dyn LeaseTable) -> TableResult<()> {
        let lease = self.lease.lock().await;
        if self.lost.load(Ordering::SeqCst) || self.is_released() {
            return Ok(());
        }
        self.released.store(true, Ordering::SeqCst);
        table.evict(&lease).await.map(|_| ())
    }
}
