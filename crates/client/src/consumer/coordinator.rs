//! One worker's side of the lease protocol: renewing what it holds, watching the table, taking
//! expired or unowned leases and stealing to balance (docs/client.md#the-lease-algorithm).
//! It knows nothing of Kinesis: the scheduler starts a shard consumer for each lease it takes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::held_lease::HeldLease;
use super::lease::Lease;
use super::lease_table::{LeaseTable, TableResult};
use super::taker::{leases_to_take, Observations};

pub(crate) struct LeaseCoordinator {
    table: Arc<dyn LeaseTable>,
    worker_id: String,
    failover: Duration,
    max_leases_to_steal: usize,
    observations: Observations,
    held: HashMap<String, Arc<HeldLease>>,
    /// The earliest time a lease of another worker expires, as of the last scan.
    next_expiry: Option<Instant>,
}

impl LeaseCoordinator {
    pub fn new(
        table: Arc<dyn LeaseTable>,
        worker_id: String,
        failover: Duration,
        max_leases_to_steal: usize,
    ) -> LeaseCoordinator {
        LeaseCoordinator {
            table,
            worker_id,
            failover,
            max_leases_to_steal,
            observations: Observations::default(),
            held: HashMap::new(),
            next_expiry: None,
        }
    }

    /// Renews every held lease. A lease whose renewal finds another owner is marked lost; its
    /// shard consumer notices and stops.
    pub async fn renew_all(&self) {
        for held in self.held.values() {
            // A failed call is retried at the next renewal; the lease expires if they all fail.
            let _ = held.renew(self.table.as_ref()).await;
        }
    }

    /// Scans the table and takes what the lease taker says this worker should; returns the
    /// leases newly taken.
    pub async fn take_leases(&mut self) -> TableResult<Vec<(String, Arc<HeldLease>)>> {
        let mut leases = self.table.list().await?;
        let now = Instant::now();
        self.observations.observe(&leases, now);
        // Finished shards need nobody. The leases held here count as this worker's (they are
        // live: the scans see our renewals) and are never taken again.
        leases.retain(|lease| !lease.is_finished());
        let candidates: Vec<Lease> = leases_to_take(
            &leases,
            &self.observations,
            &self.worker_id,
            now,
            self.failover,
            self.max_leases_to_steal,
        )
        .into_iter()
        .filter(|lease| !self.held.contains_key(&lease.key))
        .cloned()
        .collect();
        self.next_expiry = leases
            .iter()
            .filter(|lease| !self.held.contains_key(&lease.key))
            .filter_map(|lease| self.observations.expires_at(lease, self.failover))
            .filter(|expiry| *expiry >= now)
            .min();
        let mut taken = Vec::new();
        for lease in candidates {
            if self.table.take(&lease, &self.worker_id).await? {
                let mut lease = lease;
                lease.counter += 1;
                if lease.owner.as_deref() != Some(self.worker_id.as_str()) {
                    lease.owner_switches_since_checkpoint += 1;
                }
                lease.owner = Some(self.worker_id.clone());
                let held = Arc::new(HeldLease::new(lease.clone()));
                self.held.insert(lease.key.clone(), Arc::clone(&held));
                taken.push((lease.key, held));
            }
        }
        Ok(taken)
    }

    /// When the next scan could find an expired lease to take (a dead worker's shards move on
    /// this soon after their failover time, not up to a round later).
    pub fn next_expiry(&self) -> Option<Instant> {
        self.next_expiry
    }

    /// Stops renewing a lease (its consumer has ended, lost or released it).
    pub fn forget(&mut self, key: &str) {
        self.held.remove(key);
    }

    pub fn held(&self) -> impl Iterator<Item = (&String, &Arc<HeldLease>)> {
        self.held.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumer::lease::Checkpoint;
    use crate::consumer::memory_table::MemoryLeaseTable;

    const FAILOVER: Duration = Duration::from_secs(3);

    async fn table_with(shards: usize) -> Arc<MemoryLeaseTable> {
        let table = Arc::new(MemoryLeaseTable::default());
        for i in 0..shards {
            assert!(table
                .create(&Lease::new(format!("shardId-{i:012}"), Checkpoint::TrimHorizon))
                .await
                .unwrap());
        }
        table
    }

    fn worker(table: &Arc<MemoryLeaseTable>, id: &str) -> LeaseCoordinator {
        LeaseCoordinator::new(Arc::clone(table) as Arc<dyn LeaseTable>, id.to_owned(), FAILOVER, 1)
    }

    /// One round of a worker's loop: renew, then scan and take.
    async fn round(worker: &mut LeaseCoordinator) -> usize {
        worker.renew_all().await;
        worker.take_leases().await.unwrap().len()
    }

    async fn tick() {
        tokio::time::advance(FAILOVER / 3).await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_second_worker_steals_until_the_counts_are_even() {
        let table = table_with(4).await;
        let mut a = worker(&table, "a");
        assert_eq!(round(&mut a).await, 4);
        let mut b = worker(&table, "b");
        // b first sees a's leases alive, then steals one per round.
        let mut stolen = 0;
        for _ in 0..4 {
            tick().await;
            stolen += round(&mut b).await;
            round(&mut a).await;
        }
        assert_eq!(stolen, 2);
        let lost = a.held().filter(|(_, held)| held.is_lost(FAILOVER)).count();
        assert_eq!(lost, 2, "a's renewals of the stolen leases failed");
        let owners: Vec<_> =
            (0..4).map(|i| table.snapshot(&format!("shardId-{i:012}")).unwrap().owner.unwrap()).collect();
        assert_eq!(owners.iter().filter(|o| *o == "b").count(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_dead_workers_leases_are_taken_after_the_failover_time() {
        let table = table_with(2).await;
        let mut a = worker(&table, "a");
        round(&mut a).await;
        let mut b = worker(&table, "b");
        // b stole one lease from a; both are alive; then a dies (no more renewals).
        for _ in 0..3 {
            tick().await;
            round(&mut b).await;
            round(&mut a).await;
        }
        assert_eq!(b.held().count(), 1);
        let died = Instant::now();
        let mut taken_at = None;
        while taken_at.is_none() {
            tick().await;
            if round(&mut b).await > 0 {
                taken_at = Some(Instant::now());
            }
        }
        let after = taken_at.unwrap() - died;
        assert!(after > FAILOVER && after <= FAILOVER + FAILOVER / 3 * 2, "taken {after:?} after a died");
    }

    #[tokio::test(start_paused = true)]
    async fn a_released_lease_is_taken_at_the_next_scan() {
        let table = table_with(1).await;
        let mut a = worker(&table, "a");
        round(&mut a).await;
        let mut b = worker(&table, "b");
        tick().await;
        assert_eq!(round(&mut b).await, 0, "alive and a holds only the target");
        let (_, held) = a.held().next().unwrap();
        held.release(table.as_ref()).await.unwrap();
        assert_eq!(round(&mut b).await, 1, "unowned: taken at once");
        assert_eq!(table.snapshot("shardId-000000000000").unwrap().owner.as_deref(), Some("b"));
    }

    #[tokio::test(start_paused = true)]
    async fn finished_leases_are_not_taken() {
        let table = table_with(0).await;
        table.create(&Lease::new("shardId-000000000000", Checkpoint::ShardEnd)).await.unwrap();
        assert_eq!(round(&mut worker(&table, "a")).await, 0);
    }
}
