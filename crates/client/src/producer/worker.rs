//! The producer's worker: one task that owns the shard map and the per-shard queues, starts
//! PutRecords requests and settles their answers (docs/client.md, "Design").
//!
//! Invariants that keep per-key order (docs/client.md, "Ordering"):
//! - a shard has at most one request in flight, so nothing of a shard is sent while an earlier
//!   batch of it may still fail;
//! - failed records go back to the head of their queue, in their order;
//! - within a request, a key's records share one Kinesis record ([`super::packing`]);
//! - the shard map is only replaced while no request is in flight, and re-routing keeps each
//!   queue's order.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Instant;

use aws_sdk_kinesis::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_kinesis::operation::put_records::{PutRecordsError, PutRecordsOutput};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use aws_sdk_kinesis::Client;
use tokio::sync::{mpsc, oneshot};
use tokio::task::{Id, JoinSet};
use tokio::time::sleep_until;

use super::packing::{pack, Budget, Entry};
use super::record::{Acked, Pending};
use super::settings::Settings;
use super::shard_map::ShardMap;
use crate::error::Error;

pub(super) enum Command {
    Put(Pending),
    /// Answer once every record accepted before it is settled.
    Flush(oneshot::Sender<()>),
}

/// The records of one shard, waiting or in flight.
#[derive(Debug, Default)]
struct ShardQueue {
    records: VecDeque<Pending>,
    /// The size of `records`, to send a full batch without waiting out the linger.
    bytes: usize,
    /// A request with records of this shard is in flight.
    busy: bool,
    /// Failed attempts in a row; the next send waits for a backoff until `not_before`.
    failures: u32,
    not_before: Option<Instant>,
}

impl ShardQueue {
    fn push_back(&mut self, record: Pending) {
        self.bytes += record.size();
        self.records.push_back(record);
    }

    /// Puts failed records back at the head, in their order.
    fn push_front_all(&mut self, records: Vec<Pending>) {
        for record in records.into_iter().rev() {
            self.bytes += record.size();
            self.records.push_front(record);
        }
    }
}

/// The shard's Kinesis records in a request in flight, in request order.
struct Group {
    shard_id: String,
    entries: Vec<Entry>,
}

/// An aggregated record written to another shard than predicted. Whether each of its records
/// counts as put depends on that shard's hash range, which the refreshed map will tell.
struct Misrouted {
    predicted_shard: String,
    shard_id: String,
    sequence_number: String,
    users: Vec<Pending>,
}

pub(super) struct Worker {
    client: Client,
    stream: String,
    settings: Settings,
    map: ShardMap,
    queues: HashMap<String, ShardQueue>,
    in_flight: JoinSet<Result<PutRecordsOutput, SdkError<PutRecordsError>>>,
    requests: HashMap<Id, Vec<Group>>,
    /// An answer named a shard the map did not predict: refresh it once nothing is in flight.
    map_is_stale: bool,
    /// After a failed refresh: failures in a row, and when to try again.
    map_failures: u32,
    map_retry_at: Option<Instant>,
    misrouted: Vec<Misrouted>,
    /// The ids of accepted records not yet settled, and the flushes waiting for them.
    unsettled: BTreeSet<u64>,
    flushes: Vec<(u64, oneshot::Sender<()>)>,
    next_id: u64,
    /// Every handle is gone: send everything now, then stop.
    draining: bool,
}

impl Worker {
    pub fn new(client: Client, stream: String, settings: Settings, map: ShardMap) -> Worker {
        Worker {
            client,
            stream,
            settings,
            map,
            queues: HashMap::new(),
            in_flight: JoinSet::new(),
            requests: HashMap::new(),
            map_is_stale: false,
            map_failures: 0,
            map_retry_at: None,
            misrouted: Vec::new(),
            unsettled: BTreeSet::new(),
            flushes: Vec::new(),
            next_id: 0,
            draining: false,
        }
    }

    pub async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        loop {
            let now = Instant::now();
            if self.map_is_stale && self.in_flight.is_empty() && self.map_retry_at.is_none_or(|at| at <= now)
            {
                self.refresh_map().await;
            }
            let now = Instant::now();
            self.dispatch(now);
            self.answer_flushes();
            if self.draining && self.unsettled.is_empty() {
                return;
            }
            let wake = self.next_wake(now);
            tokio::select! {
                command = commands.recv(), if !self.draining => match command {
                    Some(command) => self.accept(command),
                    None => self.draining = true,
                },
                Some(done) = self.in_flight.join_next_with_id() => match done {
                    Ok((id, answer)) => self.settle(id, answer),
                    Err(failed) => {
                        let groups = self.requests.remove(&failed.id()).expect("an in-flight request");
                        self.retry(groups, "the request task failed");
                    }
                },
                _ = sleep_until(wake.unwrap_or(now).into()), if wake.is_some() => {}
            }
        }
    }

    fn accept(&mut self, command: Command) {
        match command {
            Command::Put(mut record) => {
                record.id = self.next_id;
                self.next_id += 1;
                self.unsettled.insert(record.id);
                let shard = self.map.route(record.hash_key).to_owned();
                self.queues.entry(shard).or_default().push_back(record);
            }
            Command::Flush(answer) => self.flushes.push((self.next_id, answer)),
        }
    }

    fn settle_record(&mut self, record: Pending, outcome: Result<Acked, Error>) {
        self.unsettled.remove(&record.id);
        // The caller may have dropped its Delivery: the record is settled all the same.
        let _ = record.reply.send(outcome);
    }

    fn answer_flushes(&mut self) {
        let oldest = self.unsettled.first().copied().unwrap_or(u64::MAX);
        for (_, answer) in self.flushes.extract_if(.., |(mark, _)| *mark <= oldest) {
            let _ = answer.send(());
        }
    }

    /// Flushes and draining skip the linger.
    fn urgent(&self) -> bool {
        self.draining || !self.flushes.is_empty()
    }

    /// When the queue may send next (`None`: it has nothing to send or is waiting for an answer).
    fn ready_at(&self, queue: &ShardQueue) -> Option<Instant> {
        let oldest = queue.records.front()?;
        if queue.busy {
            return None;
        }
        let full = queue.records.len() >= self.settings.max_records_per_request
            || queue.bytes >= self.settings.max_bytes_per_request;
        let batched =
            if self.urgent() || full { oldest.accepted } else { oldest.accepted + self.settings.linger };
        Some(queue.not_before.map_or(batched, |backoff| backoff.max(batched)))
    }

    fn next_wake(&self, now: Instant) -> Option<Instant> {
        if self.map_is_stale {
            // Nothing is sent until the map is refreshed: wait for the answers in flight, or for
            // the next attempt at listing the shards.
            return if self.in_flight.is_empty() { self.map_retry_at.map(|at| at.max(now)) } else { None };
        }
        if self.in_flight.len() >= self.settings.max_requests_in_flight {
            return None; // an answer will wake the worker
        }
        self.queues.values().filter_map(|q| self.ready_at(q)).min().map(|at| at.max(now))
    }

    /// Starts requests while shards are ready and the in-flight limit allows, the shards that
    /// have waited longest first.
    fn dispatch(&mut self, now: Instant) {
        while !self.map_is_stale && self.in_flight.len() < self.settings.max_requests_in_flight {
            let mut ready: Vec<(Instant, String)> = self
                .queues
                .iter()
                .filter(|(_, q)| self.ready_at(q).is_some_and(|at| at <= now))
                .map(|(shard, q)| (q.records[0].accepted, shard.clone()))
                .collect();
            if ready.is_empty() {
                return;
            }
            ready.sort();
            let mut budget = Budget {
                records: self.settings.max_records_per_request,
                bytes: self.settings.max_bytes_per_request,
            };
            let mut groups = Vec::new();
            for (_, shard_id) in ready {
                let queue = self.queues.get_mut(&shard_id).expect("a ready queue");
                let packed = pack(
                    &mut queue.records,
                    &mut budget,
                    self.settings.aggregation,
                    now,
                    self.settings.record_ttl,
                );
                queue.bytes -= packed.taken_bytes();
                if !packed.entries.is_empty() {
                    queue.busy = true;
                    groups.push(Group { shard_id, entries: packed.entries });
                }
                for record in packed.expired {
                    let outcome = Err(Error::Expired {
                        attempts: record.attempts,
                        last_failure: record.last_failure.clone().unwrap_or_else(|| "never sent".to_owned()),
                    });
                    self.settle_record(record, outcome);
                }
                if budget.records == 0 {
                    break;
                }
            }
            if !groups.is_empty() {
                self.send(groups);
            }
        }
    }

    fn send(&mut self, mut groups: Vec<Group>) {
        let mut request = self.client.put_records().stream_name(&self.stream);
        for entry in groups.iter_mut().flat_map(|g| &mut g.entries) {
            for user in &mut entry.users {
                user.attempts += 1;
            }
            request = request.records(
                PutRecordsRequestEntry::builder()
                    .partition_key(&entry.partition_key)
                    .set_explicit_hash_key(entry.explicit_hash_key.clone())
                    .data(Blob::new(std::mem::take(&mut entry.data)))
                    .build()
                    .expect("partition key and data are set"),
            );
        }
        let handle = self.in_flight.spawn(request.send());
        self.requests.insert(handle.id(), groups);
    }

    /// Settles the records of an answered request; failed ones go back to their queues.
    fn settle(&mut self, id: Id, answer: Result<PutRecordsOutput, SdkError<PutRecordsError>>) {
        let groups = self.requests.remove(&id).expect("an in-flight request");
        let output = match answer {
            Ok(output) => output,
            Err(error) => return self.request_failed(groups, error),
        };
        let sent: usize = groups.iter().map(|g| g.entries.len()).sum();
        if output.records.len() != sent {
            return self
                .retry(groups, &format!("PutRecords answered {} records for {sent}", output.records.len()));
        }
        let mut results = output.records.into_iter();
        for group in groups {
            let mut failed = Vec::new();
            for entry in group.entries {
                let result = results.next().expect("one result per entry");
                match (result.shard_id, result.sequence_number) {
                    (Some(shard_id), Some(sequence_number)) => {
                        if shard_id != group.shard_id {
                            self.map_is_stale = true;
                            if entry.aggregated {
                                self.misrouted.push(Misrouted {
                                    predicted_shard: group.shard_id.clone(),
                                    shard_id,
                                    sequence_number,
                                    users: entry.users,
                                });
                                continue;
                            }
                        }
                        self.acknowledge(entry, &shard_id, &sequence_number);
                    }
                    _ => {
                        let code = result.error_code.unwrap_or_else(|| "UnknownError".to_owned());
                        let message = result.error_message.unwrap_or_default();
                        if is_retryable_code(&code) {
                            let why = format!("{code}: {message}");
                            failed.extend(entry.users.into_iter().map(|u| with_failure(u, &why)));
                        } else {
                            for user in entry.users {
                                self.settle_record(
                                    user,
                                    Err(Error::Rejected { code: code.clone(), message: message.clone() }),
                                );
                            }
                        }
                    }
                }
            }
            self.requeue(&group.shard_id, failed);
        }
    }

    fn acknowledge(&mut self, entry: Entry, shard_id: &str, sequence_number: &str) {
        for (i, user) in (0..).zip(entry.users) {
            let acked = Acked {
                shard_id: shard_id.to_owned(),
                sequence_number: sequence_number.to_owned(),
                sub_sequence_number: entry.aggregated.then_some(i),
                attempts: user.attempts,
            };
            self.settle_record(user, Ok(acked));
        }
    }

    /// Frees the shard for its next request: after a backoff if any record failed.
    fn requeue(&mut self, shard_id: &str, failed: Vec<Pending>) {
        let queue = self.queues.get_mut(shard_id).expect("the queue of a shard in flight");
        queue.busy = false;
        if failed.is_empty() {
            queue.failures = 0;
            queue.not_before = None;
        } else {
            queue.not_before = Some(Instant::now() + self.settings.backoff(queue.failures));
            queue.failures += 1;
            queue.push_front_all(failed);
        }
    }

    fn request_failed(&mut self, groups: Vec<Group>, error: SdkError<PutRecordsError>) {
        let code = error.code().map(str::to_owned);
        let status = error.raw_response().map(|r| r.status().as_u16());
        let rejected = match (&code, status) {
            // A client error that retrying will not fix (missing stream, access denied, ...).
            (Some(code), Some(400..=499)) if !is_retryable_code(code) => Some(Error::Rejected {
                code: code.clone(),
                message: error.message().unwrap_or_default().to_owned(),
            }),
            _ => None,
        };
        match rejected {
            Some(rejected) => {
                for group in groups {
                    self.requeue(&group.shard_id, Vec::new());
                    for user in group.entries.into_iter().flat_map(|e| e.users) {
                        self.settle_record(user, Err(rejected.clone()));
                    }
                }
            }
            None => self.retry(groups, &DisplayErrorContext(error).to_string()),
        }
    }

    /// Puts every record of a failed request back at the head of its queue.
    fn retry(&mut self, groups: Vec<Group>, why: &str) {
        for group in groups {
            let users =
                group.entries.into_iter().flat_map(|e| e.users).map(|u| with_failure(u, why)).collect();
            self.requeue(&group.shard_id, users);
        }
    }

    /// Lists the shards again, settles the misrouted aggregates, and re-routes every queued
    /// record. If listing fails, records whose time to live has run out fail, and the worker
    /// tries again after a backoff, accepting records meanwhile.
    async fn refresh_map(&mut self) {
        match ShardMap::load(&self.client, &self.stream).await {
            Ok(map) => self.map = map,
            Err(why) => {
                self.expire_all(&format!("listing shards: {why}"));
                self.map_retry_at = Some(Instant::now() + self.settings.backoff(self.map_failures));
                self.map_failures += 1;
                return;
            }
        }
        (self.map_is_stale, self.map_failures, self.map_retry_at) = (false, 0, None);
        for misrouted in std::mem::take(&mut self.misrouted) {
            self.settle_misrouted(misrouted);
        }
        for (_, queue) in std::mem::take(&mut self.queues) {
            for record in queue.records {
                let shard = self.map.route(record.hash_key).to_owned();
                self.queues.entry(shard).or_default().push_back(record);
            }
        }
    }

    /// A sub-record inside the hash range of the shard that took the aggregate is put: a consumer
    /// reading that shard keeps it. One outside is dropped by the KCL's shard-range filter, so it
    /// is sent again, to the shard that owns it now.
    fn settle_misrouted(&mut self, misrouted: Misrouted) {
        let range = self.map.range_of(&misrouted.shard_id).cloned();
        let mut resend = Vec::new();
        for (i, user) in (0..).zip(misrouted.users) {
            match &range {
                Some(range) if range.contains(&user.hash_key) => {
                    let acked = Acked {
                        shard_id: misrouted.shard_id.clone(),
                        sequence_number: misrouted.sequence_number.clone(),
                        sub_sequence_number: Some(i),
                        attempts: user.attempts,
                    };
                    self.settle_record(user, Ok(acked));
                }
                _ => resend.push(user),
            }
        }
        self.queues.entry(misrouted.predicted_shard).or_default().push_front_all(resend);
    }

    fn expire_all(&mut self, why: &str) {
        let now = Instant::now();
        let ttl = self.settings.record_ttl;
        let mut expired = Vec::new();
        for queue in self.queues.values_mut() {
            let (over, within): (VecDeque<_>, VecDeque<_>) =
                queue.records.drain(..).partition(|r| r.accepted + ttl <= now);
            expired.extend(over);
            queue.records = within;
            queue.bytes = queue.records.iter().map(Pending::size).sum();
        }
        for record in expired {
            let outcome = Err(Error::Expired { attempts: record.attempts, last_failure: why.to_owned() });
            self.settle_record(record, outcome);
        }
    }
}

/// Per-record and request error codes worth retrying: throttling and the service's own failures.
fn is_retryable_code(code: &str) -> bool {
    matches!(
        code,
        "ProvisionedThroughputExceededException"
            | "InternalFailure"
            | "InternalServerError"
            | "ServiceUnavailable"
            | "ThrottlingException"
            | "LimitExceededException"
            | "KMSThrottlingException"
    )
}

fn with_failure(mut user: Pending, why: &str) -> Pending {
    user.last_failure = Some(why.to_owned());
    user
}
