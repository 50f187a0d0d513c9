//! Turning the head of a shard's queue into the Kinesis records of one PutRecords request
//! (docs/client.md, "Ordering").
//!
//! The rule that keeps per-key order: **in one request, all the records of a partition key travel
//! in one Kinesis record.** PutRecords can fail any record and still write the ones after it, so
//! two Kinesis records of one key in one request could be written out of order; one Kinesis record
//! (a single user record, or an aggregate) is written or failed as a whole. Packing a shard stops
//! at the first record whose key is already in an earlier Kinesis record of the request.

use std::collections::{HashSet, VecDeque};
use std::time::Instant;

use super::record::Pending;
use crate::aggregation::Aggregate;

/// The partition key of every aggregated record: one byte, as the KPL sends.
pub const AGGREGATE_PARTITION_KEY: &str = "a";

/// What a request can still take.
#[derive(Debug)]
pub struct Budget {
    pub records: usize,
    pub bytes: usize,
}

/// One Kinesis record of a request and the user records it carries, in order.
#[derive(Debug)]
pub struct Entry {
    pub partition_key: String,
    pub explicit_hash_key: Option<String>,
    pub data: Vec<u8>,
    pub aggregated: bool,
    pub users: Vec<Pending>,
}

impl Entry {
    fn single(user: Pending) -> Entry {
        Entry {
            partition_key: user.partition_key.clone(),
            explicit_hash_key: user.explicit_hash_key.clone(),
            data: user.data.to_vec(),
            aggregated: false,
            users: vec![user],
        }
    }
}

#[derive(Debug, Default)]
pub struct Packed {
    pub entries: Vec<Entry>,
    /// Records found past their time to live; they were not packed.
    pub expired: Vec<Pending>,
}

impl Packed {
    /// The size of every record taken off the queue.
    pub fn taken_bytes(&self) -> usize {
        let packed = self.entries.iter().flat_map(|e| &e.users);
        packed.chain(&self.expired).map(Pending::size).sum()
    }
}

/// An aggregate being filled.
struct Open {
    aggregate: Aggregate,
    users: Vec<Pending>,
}

impl Open {
    /// Sends a lone record as it is: aggregation would only add bytes.
    fn seal(mut self) -> Entry {
        if self.users.len() == 1 {
            return Entry::single(self.users.pop().expect("one user record"));
        }
        Entry {
            partition_key: AGGREGATE_PARTITION_KEY.to_owned(),
            // Routes the aggregate with its first record, as the KPL does.
            explicit_hash_key: Some(self.users[0].hash_key.to_string()),
            data: self.aggregate.encode(),
            aggregated: true,
            users: self.users,
        }
    }
}

/// Takes records from the front of `queue` into Kinesis records that fit `budget`, aggregating
/// them into data of at most `max_aggregate` bytes if set.
pub fn pack(
    queue: &mut VecDeque<Pending>,
    budget: &mut Budget,
    max_aggregate: Option<usize>,
    now: Instant,
    ttl: std::time::Duration,
) -> Packed {
    let mut packed = Packed::default();
    let mut sealed_keys = HashSet::new();
    let mut open: Option<Open> = None;
    let seal = |open: Open, packed: &mut Packed, sealed_keys: &mut HashSet<String>| {
        let entry = open.seal();
        sealed_keys.extend(entry.users.iter().map(|u| u.partition_key.clone()));
        packed.entries.push(entry);
    };
    while let Some(next) = queue.front() {
        if next.accepted + ttl <= now {
            packed.expired.extend(queue.pop_front());
            continue;
        }
        if sealed_keys.contains(&next.partition_key) {
            break;
        }
        let ehk = next.explicit_hash_key.as_deref();
        if let Some(current) = &mut open {
            let grown = current.aggregate.encoded_len_with(&next.partition_key, ehk, next.data.len());
            let growth = grown - current.aggregate.encoded_len();
            if max_aggregate.is_some_and(|max| grown <= max) && growth <= budget.bytes {
                let user = queue.pop_front().expect("the front record");
                current.aggregate.push(&user.partition_key, ehk_of(&user), &user.data);
                current.users.push(user);
                budget.bytes -= growth;
                continue;
            }
            seal(open.take().expect("an open aggregate"), &mut packed, &mut sealed_keys);
            // Look at `next` again: its key may be in the aggregate just sealed.
            continue;
        }
        let alone = Aggregate::new().encoded_len_with(&next.partition_key, ehk, next.data.len());
        let aggregate = max_aggregate.is_some_and(|max| alone <= max);
        let cost = if aggregate { AGGREGATE_PARTITION_KEY.len() + alone } else { next.size() };
        if budget.records == 0 || budget.bytes < cost {
            break;
        }
        budget.records -= 1;
        budget.bytes -= cost;
        let user = queue.pop_front().expect("the front record");
        if aggregate {
            let mut aggregate = Aggregate::new();
            aggregate.push(&user.partition_key, ehk_of(&user), &user.data);
            open = Some(Open { aggregate, users: vec![user] });
        } else {
            sealed_keys.insert(user.partition_key.clone());
            packed.entries.push(Entry::single(user));
        }
    }
    if let Some(open) = open {
        seal(open, &mut packed, &mut sealed_keys);
    }
    packed
}

fn ehk_of(user: &Pending) -> Option<&str> {
    user.explicit_hash_key.as_deref()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use bytes::Bytes;
    use tokio::sync::{oneshot, Semaphore};

    use super::*;
    use crate::deaggregation::decode;
    use crate::hash_key;

    const TTL: Duration = Duration::from_secs(30);

    fn pending(key: &str, data: &str, accepted: Instant) -> Pending {
        let (reply, _) = oneshot::channel();
        Pending {
            id: 0,
            partition_key: key.into(),
            explicit_hash_key: None,
            hash_key: hash_key::of_partition_key(key),
            data: Bytes::from(data.to_owned()),
            accepted,
            attempts: 0,
            last_failure: None,
            reply,
            _buffer_space: Arc::new(Semaphore::new(1)).try_acquire_owned().unwrap(),
        }
    }

    fn queue(records: &[(&str, &str)]) -> VecDeque<Pending> {
        let now = Instant::now();
        records.iter().map(|(key, data)| pending(key, data, now)).collect()
    }

    fn roomy() -> Budget {
        Budget { records: 500, bytes: 5 << 20 }
    }

    fn keys(records: &VecDeque<Pending>) -> Vec<&str> {
        records.iter().map(|r| r.partition_key.as_str()).collect()
    }

    #[test]
    fn without_aggregation_a_key_appears_once_per_request() {
        let mut queue = queue(&[("a", "1"), ("b", "2"), ("a", "3"), ("c", "4")]);
        let packed = pack(&mut queue, &mut roomy(), None, Instant::now(), TTL);
        let sent: Vec<_> = packed.entries.iter().map(|e| (e.partition_key.as_str(), &e.data[..])).collect();
        assert_eq!(sent, [("a", &b"1"[..]), ("b", &b"2"[..])]);
        assert_eq!(keys(&queue), ["a", "c"]);
        assert_eq!(packed.taken_bytes(), 4);
    }

    #[test]
    fn an_aggregate_takes_a_keys_records_together_and_routes_by_the_first() {
        let mut queue = queue(&[("a", "1"), ("b", "2"), ("a", "3"), ("c", "4")]);
        let packed = pack(&mut queue, &mut roomy(), Some(51_200), Instant::now(), TTL);
        assert!(queue.is_empty());
        let [entry] = &packed.entries[..] else { panic!("one aggregate: {:?}", packed.entries) };
        assert!(entry.aggregated);
        assert_eq!(entry.partition_key, "a");
        assert_eq!(entry.explicit_hash_key, Some(hash_key::of_partition_key("a").to_string()));
        let data: Vec<_> = decode(&entry.data).unwrap().into_iter().map(|s| s.data).collect();
        assert_eq!(data, [b"1", b"2", b"3", b"4"]);
    }

    #[test]
    fn a_full_aggregate_is_sealed_and_its_keys_wait_for_the_next_request() {
        // Room for two small records per aggregate.
        let mut queue = queue(&[("a", "1"), ("b", "2"), ("c", "3"), ("a", "4")]);
        let two = {
            let mut aggregate = Aggregate::new();
            aggregate.push("a", None, b"1");
            aggregate.push("b", None, b"2");
            aggregate.encoded_len()
        };
        let packed = pack(&mut queue, &mut roomy(), Some(two), Instant::now(), TTL);
        let per_entry: Vec<_> = packed.entries.iter().map(|e| e.users.len()).collect();
        // [a, b] sealed, then c alone (sent as is) is stopped by nothing, then a is in a sealed one.
        assert_eq!(per_entry, [2, 1]);
        assert!(!packed.entries[1].aggregated);
        assert_eq!(keys(&queue), ["a"]);
    }

    #[test]
    fn the_budget_bounds_records_and_bytes() {
        let mut queue = queue(&[("a", "1"), ("b", "2"), ("c", "3")]);
        let mut budget = Budget { records: 2, bytes: 5 << 20 };
        assert_eq!(pack(&mut queue, &mut budget, None, Instant::now(), TTL).entries.len(), 2);
        assert_eq!(budget.records, 0);
        let mut budget = Budget { records: 500, bytes: 1 };
        assert_eq!(pack(&mut queue, &mut budget, None, Instant::now(), TTL).entries.len(), 0);
        assert_eq!(keys(&queue), ["c"]);
    }

    proptest::proptest! {
        /// Whatever the queue, budget and aggregate size: packing takes a prefix of the queue in
        /// order, no key is in two Kinesis records, the budget holds, and aggregates fit.
        #[test]
        fn packing_keeps_order_and_its_rules(
            records in proptest::collection::vec(("[a-e]", 0..300usize), 0..60),
            budget_records in 1..20usize,
            budget_bytes in 1..4000usize,
            max_aggregate in proptest::option::of(36..1000usize),
        ) {
            let now = Instant::now();
            let mut queue: VecDeque<_> = records.iter().map(|(key, len)| pending(key, &"x".repeat(*len), now)).collect();
            let mut budget = Budget { records: budget_records, bytes: budget_bytes };
            let packed = pack(&mut queue, &mut budget, max_aggregate, now, TTL);

            let taken: Vec<_> = packed.entries.iter().flat_map(|e| &e.users).map(|u| (u.partition_key.clone(), u.data.len())).collect();
            let rest: Vec<_> = queue.iter().map(|u| (u.partition_key.clone(), u.data.len())).collect();
            let original: Vec<_> = records.iter().map(|(key, len)| (key.clone(), *len)).collect();
            proptest::prop_assert_eq!([taken, rest].concat(), original);

            let mut keys_seen = HashSet::new();
            for entry in &packed.entries {
                let keys: HashSet<_> = entry.users.iter().map(|u| u.partition_key.clone()).collect();
                proptest::prop_assert!(keys.is_disjoint(&keys_seen), "a key in two Kinesis records");
                keys_seen.extend(keys);
                if entry.aggregated {
                    proptest::prop_assert!(entry.data.len() <= max_aggregate.unwrap());
                    let data: Vec<_> = decode(&entry.data).unwrap().into_iter().map(|s| s.data.len()).collect();
                    proptest::prop_assert_eq!(data, entry.users.iter().map(|u| u.data.len()).collect::<Vec<_>>());
                } else {
                    proptest::prop_assert_eq!(entry.users.len(), 1);
                }
            }
            let bytes: usize = packed.entries.iter().map(|e| e.partition_key.len() + e.data.len()).sum();
            proptest::prop_assert!(packed.entries.len() <= budget_records && bytes <= budget_bytes);
        }
    }

    #[test]
    fn records_past_their_time_to_live_are_taken_out_unsent() {
        let now = Instant::now();
        let mut queue: VecDeque<_> = [pending("a", "old", now - TTL), pending("b", "new", now)].into();
        let packed = pack(&mut queue, &mut roomy(), None, now, TTL);
        assert_eq!(packed.expired.len(), 1);
        assert_eq!(packed.entries.len(), 1);
        assert_eq!(packed.entries[0].partition_key, "b");
    }
}
