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
