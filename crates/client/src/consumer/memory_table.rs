//! An in-memory lease table with the same conditions as the real one, for unit tests of the
//! lease logic (the real table is tested end to end in tests/client_consumer.rs).

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::lease::Lease;
use super::lease_table::{BoxFuture, LeaseTable, TableResult};

#[derive(Debug, Default)]
pub(crate) struct MemoryLeaseTable {
    leases: Mutex<BTreeMap<String, Lease>>,
}

impl MemoryLeaseTable {
    pub fn snapshot(&self, key: &str) -> Option<Lease> {
        self.leases.lock().unwrap().get(key).cloned()
    }

    /// Applies `change` to the stored lease if `condition` holds for it.
    fn write_if(
        &self,
        key: &str,
        condition: impl FnOnce(&Lease) -> bool,
        change: impl FnOnce(&mut Lease),
    ) -> TableResult<bool> {
        let mut leases = self.leases.lock().unwrap();
        Ok(match leases.get_mut(key) {
            Some(stored) if condition(stored) => {
                change(stored);
                true
            }
            _ => false,
        })
    }
}

impl LeaseTable for MemoryLeaseTable {
    fn ensure_exists(&self) -> BoxFuture<'_, TableResult<()>> {
        Box::pin(async { Ok(()) })
    }

    fn list(&self) -> BoxFuture<'_, TableResult<Vec<Lease>>> {
        let leases = self.leases.lock().unwrap().values().cloned().collect();
        Box::pin(async move { Ok(leases) })
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, TableResult<Option<Lease>>> {
        let lease = self.snapshot(key);
        Box::pin(async move { Ok(lease) })
    }

    fn create<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, TableResult<bool>> {
        let mut leases = self.leases.lock().unwrap();
        let created = !leases.contains_key(&lease.key);
        if created {
            leases.insert(lease.key.clone(), lease.clone());
        }
        Box::pin(async move { Ok(created) })
    }

    fn renew<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, TableResult<bool>> {
        let result = self.write_if(&lease.key, |s| s.counter == lease.counter, |s| s.counter += 1);
        Box::pin(async move { result })
    }

    fn take<'a>(&'a self, lease: &'a Lease, new_owner: &'a str) -> BoxFuture<'a, TableResult<bool>> {
        let result = self.write_if(
            &lease.key,
            |s| s.counter == lease.counter,
            |s| {
                s.counter += 1;
                if s.owner.as_deref() != Some(new_owner) {
                    s.owner_switches_since_checkpoint += 1;
                }
                s.owner = Some(new_owner.to_owned());
            },
        );
        Box::pin(async move { result })
    }

    fn evict<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, TableResult<bool>> {
        let result = self.write_if(
            &lease.key,
            |s| s.owner == lease.owner,
            |s| {
                s.counter += 1;
                s.owner = None;
            },
        );
        Box::pin(async move { result })
    }

    fn update<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, TableResult<bool>> {
        let result = self.write_if(
            &lease.key,
            |s| s.counter == lease.counter,
            |s| {
                s.counter += 1;
                s.checkpoint = lease.checkpoint.clone();
                s.owner_switches_since_checkpoint = lease.owner_switches_since_checkpoint;
                s.child_shard_ids = lease.child_shard_ids.clone();
                s.hash_range = lease.hash_range.clone();
            },
        );
        Box::pin(async move { result })
    }
}
