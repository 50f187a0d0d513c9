//! The committer: one thread that performs every append of the store, in group commits whose
//! writes overlap the previous group's sync.
//!
//! Appends queue up; the thread takes everything waiting (up to [`MAX_GROUP_BYTES`]), writes
//! each shard's frames to its segment, writes the same frames to the journal in one write, and
//! hands the sync to a second thread, the syncer. While a sync runs, the groups that arrive are
//! written at once and gathered into the next batch, synced as soon as the running sync ends:
//! a request waits for the sync in progress and its own, not also for the writes in between.
//! One fdatasync of the journal makes a whole batch durable, however many shards and groups it
//! holds. A shard's share of a group of [`DIRECT_SYNC_BYTES`] or more skips the journal and is
//! synced in its segment instead (big writes are limited by disk bandwidth, not by syncs). Only
//! once durable do the records become visible and the appends get their answers, batch by
//! batch, in the order written: the syncer publishes a batch whose syncs all succeeded itself,
//! and hands one with a failed sync back to the committer. With durability `os` there is no
//! journal and no sync: a group is published as soon as it is written.
//!
//! With writes running ahead of syncs, three rules keep a power cut or a failed sync from
//! bringing back anything but whole, acknowledged groups:
//! * A batch with a failed sync fails the batch written after it too, and the journal is cut
//!   back to its durable end: that batch's entries follow the failed ones, in the journal and
//!   in the segments.
//! * A shard whose share is in flight to be synced in its segment has its next shares synced in
//!   their segment too. A journal entry must never become durable before the frames it follows
//!   (replay would find the journal continuing past the segment's end), nor when the frames it
//!   follows failed to sync (replay would bring back a failed group over newer records).
//! * A shard due to roll its segment, and a journal due to rotate, first wait until nothing
//!   is in flight: a roll seals what is committed, and a rotation lets the checkpointer delete
//!   the old journal once the segments it covers are synced.
//!
//! A failed *segment* sync costs more: its shard takes no appends for the rest of the run, and
//! the journals holding its entries are kept (see [`crate::segment_sync`]).
//!
//! Every `StoreOptions::journal_bytes` the journal is rotated: the checkpointer thread syncs
//! the segments the old journal covered and then deletes it, while appends go on into the new
//! one. A clean stop does the same one last time and waits for it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kinesin_engine::log_limit::LogLimit;
use kinesin_engine::storage::{Appended, NewRecord, ShardKey, StoreError};

use crate::commit_metrics::{CommitMetrics, SyncedFile};
use crate::commit_reply::{self, Reply};
use crate::frame;
use crate::journal::{self, Journal, Retired};
use crate::parallel;
use crate::segment_files::{OpenSegment, SegmentFile, SegmentFiles};
use crate::segment_sync::SegmentSyncs;
use crate::shard::{Shard, Written};
use crate::vfs::VfsFile;

/// The most bytes of frames one group commit writes (a single larger append still goes alone).
const MAX_GROUP_BYTES: u64 = 16 << 20;

/// A shard's share of a group from this size on is made durable by syncing its segment
/// rather than through the journal: writing it twice would cost more disk bandwidth than the
/// extra sync costs (a sync is worth roughly 100 KiB of sequential writing on a typical disk).
const DIRECT_SYNC_BYTES: usize = 128 << 10;

/// How long after a failed journal rotation the next attempt waits.
const ROTATE_RETRY: Duration = Duration::from_secs(1);

/// Hands appends to the committer thread; the thread stops once this is dropped, after
/// finishing what it was given.
pub(crate) struct Committer {
    inbox: mpsc::Sender<Message>,
    thread: Option<JoinHandle<Option<u64>>>,
}

/// What the committer thread receives: appends from the store, outcomes from the syncer.
enum Message {
    /// One call's appends, one request per shard.
    Append(Vec<Request>),
    Synced(SyncOutcome),
    Stop,
}

struct Request {
    shard: Arc<Shard>,
    records: Vec<NewRecord>,
    frame_bytes: u64,
    reply: Reply,
}

impl Request {
    fn answer(self, result: Result<Appended, StoreError>) {
        self.reply.send(result, self.records);
    }
}

/// A copy of an error for every request of a failed group.
fn replicate(e: &StoreError) -> StoreError {
    match e {
        StoreError::Io(e) => StoreError::Io(io::Error::new(e.kind(), e.to_string())),
        StoreError::NoSuchShard(key) => StoreError::NoSuchShard(*key),
        StoreError::Catalog(s) => StoreError::Catalog(s.clone()),
        StoreError::Corrupt(s) => StoreError::Corrupt(s.clone()),
        StoreError::Sealed(key) => StoreError::Sealed(*key),
    }
}

impl Committer {
    /// Starts the committer thread (and, with a journal, the syncer and the checkpointer).
    pub fn start(
        journal: Option<Journal>,
        segment_syncs: Arc<SegmentSyncs>,
        files: Arc<SegmentFiles>,
    ) -> io::Result<Committer> {
        let (inbox, received) = mpsc::channel();
        let (syncer, checkpointer) = match journal {
            Some(_) => (
                Some(start_syncer(inbox.clone(), segment_syncs.clone())?),
                Some(start_checkpointer(files.clone())?),
            ),
            None => (None, None),
        };
        // Every share in flight holds its shard's file open: the shards in flight are half the
        // cache at most, so that the descriptors stay bounded however many shards the appends
        // spread over.
        let max_shards_in_flight = (files.capacity() / 2).max(1);
        let thread = CommitThread {
            inbox: received,
            waiting: VecDeque::new(),
            stopping: false,
            journal,
            syncer,
            syncing: None,
            written: Batch::default(),
            checkpointer,
            covered: HashMap::new(),
            rotate_retry_at: None,
            segment_syncs,
            max_shards_in_flight,
        };
        let thread = std::thread::Builder::new().name("kinesin-commit".into()).spawn(move || thread.run())?;
        Ok(Committer { inbox, thread: Some(thread) })
    }

    /// Appends each batch's records to its shard and resolves once all are durable and
    /// visible, with each batch's outcome in order. The batches go to the committer in one
    /// message, and the caller is woken once, however many shards they touch.
    pub async fn append(
        &self,
        batches: Vec<(Arc<Shard>, Vec<NewRecord>)>,
    ) -> Vec<Result<Appended, StoreError>> {
        let mut results: Vec<Option<Result<Appended, StoreError>>> =
            (0..batches.len()).map(|_| None).collect();
        let mut slots = Vec::with_capacity(batches.len());
        let mut to_write = Vec::with_capacity(batches.len());
        for (slot, (shard, records)) in batches.into_iter().enumerate() {
            if records.iter().any(|r| !frame::fits(&r.partition_key, &r.data)) {
                let too_large = io::Error::new(io::ErrorKind::InvalidInput, "record too large");
                results[slot] = Some(Err(StoreError::Io(too_large)));
            } else if records.is_empty() {
                results[slot] = Some(shard.append_nothing());
            } else {
                slots.push(slot);
                to_write.push((shard, records));
            }
        }
        if !to_write.is_empty() {
            let (replies, gathered) = commit_reply::gather(to_write.len());
            let requests = to_write
                .into_iter()
                .zip(replies)
                .map(|((shard, records), reply)| {
                    let frame_bytes = records
                        .iter()
                        .map(|r| frame::frame_len(&r.partition_key, &r.data, r.encrypted) as u64)
                        .sum();
                    Request { shard, records, frame_bytes, reply }
                })
                .collect();
            // Were the thread gone, the requests come back in the error and are dropped
            // unanswered, which fails each of them: the gathered answers say so.
            let _ = self.inbox.send(Message::Append(requests));
            let gathered = gathered.await.map(|gathered| gathered.results).unwrap_or_else(|_| {
                let stopped = || StoreError::Io(io::Error::other("the committer stopped"));
                slots.iter().map(|_| Err(stopped())).collect()
            });
            for (slot, result) in slots.into_iter().zip(gathered) {
                results[slot] = Some(result);
            }
        }
        results.into_iter().map(|result| result.expect("every batch is answered")).collect()
    }
}

impl Committer {
    /// Lets the thread finish what it was given and waits for it: a store opened again on the
    /// same directory right after must not race its last writes. Returns the generation of
    /// the journal left, if it is empty (the last checkpoint went through); `None` without a
    /// journal, or when already stopped.
    pub fn stop(&mut self) -> Option<u64> {
        // The syncer holds a sender too, so the thread is told rather than left to notice.
        let _ = self.inbox.send(Message::Stop);
        self.thread.take().and_then(|thread| thread.join().ok().flatten())
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What makes a part durable.
#[derive(Clone, Copy, PartialEq, Eq)]
enum DurableBy {
    /// Durability `os`: nothing; it is published once written.
    Nothing,
    /// The journal's sync.
    Journal,
    /// Its segment's sync.
    Segment,
}

/// One shard's share of a group commit, written to its segment and waiting to be durable.
struct Part {
    shard: Arc<Shard>,
    requests: Vec<Request>,
    written: Written,
    durable_by: DurableBy,
}

impl Part {
    fn publish(self) {
        let appended = self.shard.publish(self.written);
        for (request, appended) in self.requests.into_iter().zip(appended) {
            request.answer(Ok(appended));
        }
    }

    fn abandon(self, e: &StoreError) {
        self.withdraw();
        self.shard.cut_failed_frames(&self.written.file);
        fail(&self.shard, self.requests, e);
    }

    /// Takes its frames back from the shard (they are cut off later); its requests are still
    /// to be answered.
    fn withdraw(&self) {
        self.shard.abandon(&self.written);
    }
}

/// Failed appends, and failed journal writes, come in floods (a full disk fails every group):
/// one line of each a second, counting the lines held back since the last.
static APPEND_FAILED: LogLimit = LogLimit::new(Duration::from_secs(1));
static JOURNAL_WRITE_FAILED: LogLimit = LogLimit::new(Duration::from_secs(1));

fn fail(shard: &Shard, requests: Vec<Request>, e: &StoreError) {
    shard.note_append_failed();
    if let Some(held_back) = APPEND_FAILED.pass() {
        tracing::warn!(shard = ?shard.key(), error = %e, held_back, "append failed");
    }
    for request in requests {
        request.answer(Err(replicate(e)));
    }
}

/// Group commits written and made durable together by one round of syncs.
#[derive(Default)]
struct Batch {
    /// In the order written.
    parts: Vec<Part>,
    /// The journal's written length after this batch's last entry, if it has any.
    journal_end: Option<u64>,
}

impl Batch {
    /// Its parts synced in their segments.
    fn direct_parts(&self) -> impl Iterator<Item = &Part> {
        self.parts.iter().filter(|p| p.durable_by == DurableBy::Segment)
    }

    /// The segment files to sync for its direct parts, each file once (held open by the
    /// parts).
    fn segments(&self) -> Vec<Arc<OpenSegment>> {
        let mut files: Vec<Arc<OpenSegment>> = Vec::new();
        for part in self.direct_parts() {
            if !files.iter().any(|f| Arc::ptr_eq(f, &part.written.file)) {
                files.push(part.written.file.clone());
            }
        }
        files
    }
}

/// A batch handed to the syncer, with the files it needs synced.
struct SyncJob {
    batch: Batch,
    journal: Option<Arc<dyn VfsFile>>,
    segments: Vec<Arc<OpenSegment>>,
}

/// How each sync of a batch went.
struct Synced {
    journal: io::Result<()>,
    /// In the order of [`SyncJob::segments`].
    segments: Vec<(Arc<OpenSegment>, io::Result<()>)>,
}

impl Synced {
    fn all_ok(&self) -> bool {
        self.journal.is_ok() && self.segments.iter().all(|(_, synced)| synced.is_ok())
    }
}

/// What the syncer reports about a batch.
enum SyncOutcome {
    /// Every sync succeeded, and the syncer published the batch: what the committer keeps.
    Published { journal_end: Option<u64>, journaled: Vec<Arc<SegmentFile>> },
    /// A sync failed: the committer sorts the batch out.
    Failed(Batch, Synced),
}

impl SyncJob {
    /// Syncs every file at once (a disk works through concurrent syncs faster than through
    /// the same in a row), then publishes the batch — from this thread, so that answers do not
    /// wait for the committer thread to wake up — unless a sync failed.
    fn run(self, segment_syncs: &SegmentSyncs) -> SyncOutcome {
        let synced = std::thread::scope(|scope| {
            let syncs: Vec<_> = self
                .segments
                .iter()
                .map(|file| {
                    scope.spawn(move || {
                        CommitMetrics::timed(SyncedFile::Segment, || segment_syncs.sync(file.key(), &**file))
                    })
                })
                .collect();
            let journal = self
                .journal
                .as_ref()
                .map_or(Ok(()), |file| CommitMetrics::timed(SyncedFile::Journal, || file.sync_data()));
            let segments = self
                .segments
                .iter()
                .zip(syncs)
                .map(|(file, sync)| {
                    let synced =
                        sync.join().unwrap_or_else(|_| Err(io::Error::other("a segment sync panicked")));
                    (file.clone(), synced)
                })
                .collect();
            Synced { journal, segments }
        });
        if !synced.all_ok() {
            return SyncOutcome::Failed(self.batch, synced);
        }
        let journaled = self
            .batch
            .parts
            .iter()
            .filter(|p| p.durable_by == DurableBy::Journal)
            .map(|p| p.written.segment.clone())
            .collect();
        self.batch.parts.into_iter().for_each(Part::publish);
        SyncOutcome::Published { journal_end: self.batch.journal_end, journaled }
    }
}

/// The syncer: runs each batch's syncs, publishes it, and reports back to the committer thread.
fn start_syncer(
    results: mpsc::Sender<Message>,
    segment_syncs: Arc<SegmentSyncs>,
) -> io::Result<mpsc::Sender<SyncJob>> {
    let (jobs, received) = mpsc::channel::<SyncJob>();
    std::thread::Builder::new().name("kinesin-sync".into()).spawn(move || {
        for job in received {
            // A panic here could leave a batch half published, its journal entries durable:
            // nothing is safe to write after that, while a restart recovers exactly what was
            // acknowledged. So the process stops.
            let Ok(outcome) = catch_unwind(AssertUnwindSafe(|| job.run(&segment_syncs))) else {
                tracing::error!(
                    "publishing a synced batch panicked; stopping so that a restart recovers the log"
                );
                std::process::abort();
            };
            if results.send(Message::Synced(outcome)).is_err() {
                break;
            }
        }
    })?;
    Ok(jobs)
}

/// The batch the syncer has, as far as the committer needs to know.
struct Syncing {
    /// Shards with a part being synced in its segment.
    direct: Vec<ShardKey>,
    /// The shards it has parts of.
    shards: HashSet<ShardKey>,
}

struct CommitThread {
    inbox: mpsc::Receiver<Message>,
    /// Appends received and not yet written.
    waiting: VecDeque<Request>,
    /// The store is closing: finish what was received, then stop.
    stopping: bool,
    journal: Option<Journal>,
    /// Present with a journal (durability `fsync`).
    syncer: Option<mpsc::Sender<SyncJob>>,
    /// The batch whose syncs are running.
    syncing: Option<Syncing>,
    /// The batch written since, synced next.
    written: Batch,
    checkpointer: Option<Checkpointer>,
    /// The segments written since the journal was last rotated, per shard: the next
    /// checkpoint syncs them (opening them again if the cache closed them).
    covered: HashMap<ShardKey, Arc<SegmentFile>>,
    /// A rotation failed: not tried again before then.
    rotate_retry_at: Option<Instant>,
    /// Shards whose segment failed to sync take no appends.
    segment_syncs: Arc<SegmentSyncs>,
    /// The most shards with shares (each holding its segment file open) written and not yet
    /// finished.
    max_shards_in_flight: usize,
}

impl CommitThread {
    fn run(mut self) -> Option<u64> {
        loop {
            if self.waiting.is_empty() {
                if self.stopping {
                    break;
                }
                let Ok(message) = self.inbox.recv() else { break };
                self.receive(message);
            }
            while let Ok(message) = self.inbox.try_recv() {
                self.receive(message);
            }
            // A finished sync lets the next batch go before anything new is written.
            self.start_sync();
            if let Some(group) = self.take_group() {
                CommitMetrics::group(group.iter().map(|r| (r.records.len(), r.frame_bytes)));
                self.write_guarded(group);
                self.start_sync();
            }
            if let Err(e) = self.rotate_if_full() {
                tracing::warn!(error = %e, "could not rotate the journal; will try again");
            }
        }
        self.settle();
        self.checkpoint_at_stop();
        self.journal.as_ref().filter(|journal| journal.is_empty()).map(Journal::generation)
    }

    /// Rotates the journal one last time and waits for the checkpointer: a clean stop leaves
    /// no entries for the next start to replay.
    fn checkpoint_at_stop(&mut self) {
        if self.journal.as_ref().is_some_and(|journal| !journal.is_empty()) {
            if let Err(e) = self.rotate() {
                tracing::warn!(error = %e, "could not rotate the journal at stop; the next start replays it");
            }
        }
        if let Some(checkpointer) = self.checkpointer.take() {
            checkpointer.finish();
        }
    }

    fn receive(&mut self, message: Message) {
        match message {
            Message::Append(requests) => self.waiting.extend(requests),
            Message::Synced(outcome) => {
                self.syncing = None;
                match outcome {
                    SyncOutcome::Published { journal_end, journaled } => {
                        if let (Some(end), Some(journal)) = (journal_end, &mut self.journal) {
                            journal.synced(end);
                        }
                        self.covered.extend(journaled.into_iter().map(|segment| (segment.key(), segment)));
                    }
                    SyncOutcome::Failed(batch, synced) => self.finish_failed(batch, synced),
                }
            }
            Message::Stop => self.stopping = true,
        }
    }

    /// Everything waiting, up to [`MAX_GROUP_BYTES`] and to as many shards as may be in
    /// flight (at least one request).
    fn take_group(&mut self) -> Option<Vec<Request>> {
        let first = self.waiting.pop_front()?;
        let mut bytes = first.frame_bytes;
        let mut shards = HashSet::from([first.shard.key()]);
        let mut group = vec![first];
        while bytes < MAX_GROUP_BYTES {
            let Some(next) = self.waiting.front() else { break };
            if shards.len() >= self.max_shards_in_flight && !shards.contains(&next.shard.key()) {
                break;
            }
            let request = self.waiting.pop_front().expect("a request is waiting");
            shards.insert(request.shard.key());
            bytes += request.frame_bytes;
            group.push(request);
        }
        Some(group)
    }

    /// Starts syncing the written batch if no sync is running; with nothing to sync
    /// (durability `os`), publishes it at once.
    fn start_sync(&mut self) {
        if self.syncing.is_some() || self.written.parts.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.written);
        let (Some(syncer), Some(journal)) = (&self.syncer, &self.journal) else {
            batch.parts.into_iter().for_each(Part::publish);
            return;
        };
        let syncing = Syncing {
            direct: batch.direct_parts().map(|p| p.shard.key()).collect(),
            shards: batch.parts.iter().map(|p| p.shard.key()).collect(),
        };
        let job =
            SyncJob { journal: batch.journal_end.map(|_| journal.file()), segments: batch.segments(), batch };
        if let Err(mpsc::SendError(job)) = syncer.send(job) {
            // The syncer outlives the committer thread; were it gone, nothing can be synced.
            let e = StoreError::Io(io::Error::other("the syncer stopped"));
            job.batch.parts.into_iter().for_each(|part| part.abandon(&e));
            if let Some(journal) = &mut self.journal {
                journal.forget_unsynced();
            }
            return;
        }
        self.syncing = Some(syncing);
    }

    /// Waits until nothing is in flight: every batch written is synced and finished.
    fn settle(&mut self) {
        loop {
            self.start_sync();
            if self.syncing.is_none() {
                return;
            }
            self.await_sync();
        }
    }

    /// Waits for the running sync (if any) to finish, keeping appends that arrive meanwhile.
    fn await_sync(&mut self) {
        while self.syncing.is_some() {
            match self.inbox.recv() {
                Ok(message) => self.receive(message),
                // The syncer holds a sender: it is gone only if the thread is.
                Err(_) => return,
            }
        }
    }

    /// Sorts out a batch with a failed sync: publishes its parts in order, failing those whose
    /// sync failed and any later ones of their shards; then fails the batch written since
    /// (see the module documentation).
    fn finish_failed(&mut self, batch: Batch, synced: Synced) {
        if let (Some(end), Some(journal), Ok(())) = (batch.journal_end, &mut self.journal, &synced.journal) {
            journal.synced(end);
        }
        let mut failed: HashSet<ShardKey> = HashSet::new();
        let mut failures: Vec<(Part, StoreError)> = Vec::new();
        for part in batch.parts {
            let result = match part.durable_by {
                DurableBy::Nothing => &Ok(()),
                DurableBy::Journal => &synced.journal,
                DurableBy::Segment => {
                    let (_, result) = synced
                        .segments
                        .iter()
                        .find(|(file, _)| Arc::ptr_eq(file, &part.written.file))
                        .expect("every segment of the batch was synced");
                    result
                }
            };
            let key = part.shard.key();
            match result {
                Ok(()) if !failed.contains(&key) => {
                    if part.durable_by == DurableBy::Journal {
                        self.covered.insert(key, part.written.segment.clone());
                    }
                    part.publish();
                }
                Ok(()) => {
                    let e = StoreError::Io(io::Error::other("an earlier write to the shard failed"));
                    failures.push((part, e));
                }
                Err(e) => {
                    failed.insert(key);
                    failures.push((part, StoreError::Io(io::Error::new(e.kind(), e.to_string()))));
                }
            }
        }
        let e = StoreError::Io(io::Error::other("a write before it failed to sync"));
        failures.extend(self.give_up_written().into_iter().map(|part| (part, replicate(&e))));
        for (part, _) in &failures {
            part.withdraw();
        }
        // Before they are answered, not only before the shard's next write (see
        // `Shard::cut_failed_frames`).
        let mut cut = HashSet::new();
        for (part, _) in &failures {
            if cut.insert(part.shard.key()) {
                part.shard.cut_failed_frames(&part.written.file);
            }
        }
        for (part, e) in failures {
            fail(&part.shard, part.requests, &e);
        }
    }

    /// Fails the written batch, which no sync has covered, and gives up its journal entries.
    /// Only with no sync running.
    fn fail_written(&mut self, e: &StoreError) {
        for part in self.give_up_written() {
            part.abandon(e);
        }
    }

    /// Takes the written batch, which no sync has covered, and gives up its journal entries.
    /// Only with no sync running.
    fn give_up_written(&mut self) -> Vec<Part> {
        let parts = std::mem::take(&mut self.written).parts;
        if let Some(journal) = &mut self.journal {
            journal.forget_unsynced();
            // At once, not at the next journal write: a group whose shares are all synced in
            // their segments writes no journal entry, and a kill -9 after it is acknowledged
            // would replay the failed entries behind it. (If this cut fails, the next group
            // retries it before writing anything.)
            if let Err(e) = journal.cut_dirty_tail() {
                tracing::warn!(error = %e, "could not cut failed entries off the journal; will try again");
            }
        }
        parts
    }

    /// Writes a group; a panic fails it and the batch written before it.
    fn write_guarded(&mut self, group: Vec<Request>) {
        let shards: Vec<Arc<Shard>> = group.iter().map(|r| r.shard.clone()).collect();
        if catch_unwind(AssertUnwindSafe(|| self.write(group))).is_err() {
            // The requests' answers were dropped with the group: they fail. What the running
            // sync covers finishes as usual; everything written after it is cut off before
            // the next write.
            tracing::error!("a group commit panicked; its appends failed");
            self.await_sync();
            self.fail_written(&StoreError::Io(io::Error::other("a group commit panicked")));
            for shard in shards {
                shard.note_append_failed();
                shard.abandon_after_panic();
            }
        }
    }

    /// Writes one group to the segments and the journal and adds it to the written batch.
    fn write(&mut self, group: Vec<Request>) {
        // Each shard's requests, in arrival order, shards in order of first appearance.
        let mut by_shard: Vec<(Arc<Shard>, Vec<Request>)> = Vec::new();
        let mut slot: HashMap<ShardKey, usize> = HashMap::new();
        for request in group {
            let i = *slot.entry(request.shard.key()).or_insert_with(|| {
                by_shard.push((request.shard.clone(), Vec::new()));
                by_shard.len() - 1
            });
            by_shard[i].1.push(request);
        }
        // Each share in flight holds its shard's file open: past the bound, the files wait for
        // what is in flight to finish rather than pile up.
        let in_flight = self.shards_in_flight();
        let more = by_shard.iter().filter(|(shard, _)| !in_flight.contains(&shard.key())).count();
        let files_bound = in_flight.len() + more > self.max_shards_in_flight;
        if files_bound || by_shard.iter().any(|(shard, _)| shard.must_settle()) {
            self.settle();
        }
        // What failed groups left in the journal goes before anything else is written, the
        // segments included: nothing written after it may be followed by it on a replay.
        if let Some(Err(e)) = self.journal.as_mut().map(Journal::cut_dirty_tail) {
            tracing::warn!(error = %e, "could not cut failed entries off the journal; the group's appends failed");
            let e = StoreError::Io(e);
            for (shard, requests) in by_shard {
                fail(&shard, requests, &e);
            }
            return;
        }

        let total: u64 = by_shard.iter().flat_map(|(_, rs)| rs).map(|r| r.frame_bytes).sum();
        let mut entries = Vec::with_capacity(total as usize + by_shard.len() * journal::HEADER_LEN);
        let mut parts = Vec::with_capacity(by_shard.len());
        for (shard, requests) in by_shard {
            if let Err(e) = self.segment_syncs.check(shard.key()) {
                fail(&shard, requests, &StoreError::Io(e));
                continue;
            }
            let start = journal::begin_entry(&mut entries, shard.key());
            match shard.write(requests.iter().map(|r| &r.records[..]), &mut entries) {
                Ok(written) => {
                    let durable_by = match self.journal {
                        None => DurableBy::Nothing,
                        Some(_)
                            if entries.len() - start >= DIRECT_SYNC_BYTES
                                || self.direct_in_flight(shard.key()) =>
                        {
                            DurableBy::Segment
                        }
                        Some(_) => DurableBy::Journal,
                    };
                    if durable_by == DurableBy::Journal {
                        journal::finish_entry(&mut entries, start);
                    } else {
                        entries.truncate(start);
                    }
                    parts.push(Part { shard, requests, written, durable_by });
                }
                Err(e) => {
                    entries.truncate(start);
                    fail(&shard, requests, &e);
                }
            }
        }

        if let (Some(journal), false) = (&mut self.journal, entries.is_empty()) {
            match journal.write(&entries) {
                Ok(end) => self.written.journal_end = Some(end),
                Err(e) => {
                    if let Some(held_back) = JOURNAL_WRITE_FAILED.pass() {
                        tracing::warn!(error = %e, held_back, "the journal write failed; the group's appends failed");
                    }
                    let e = StoreError::Io(e);
                    let (failed, kept): (Vec<Part>, Vec<Part>) =
                        parts.into_iter().partition(|p| p.durable_by == DurableBy::Journal);
                    failed.into_iter().for_each(|part| part.abandon(&e));
                    parts = kept;
                }
            }
        }
        self.written.parts.extend(parts);
    }

    /// The shards with parts written and not yet finished.
    fn shards_in_flight(&self) -> HashSet<ShardKey> {
        let mut shards = self.syncing.as_ref().map(|syncing| syncing.shards.clone()).unwrap_or_default();
        shards.extend(self.written.parts.iter().map(|p| p.shard.key()));
        shards
    }

    /// Whether a share of `key` is in flight to be synced in its segment.
    fn direct_in_flight(&self, key: ShardKey) -> bool {
        self.syncing.as_ref().is_some_and(|syncing| syncing.direct.contains(&key))
            || self.written.direct_parts().any(|p| p.shard.key() == key)
    }

    /// Rotates a full journal, once nothing is in flight, and hands the old one to the
    /// checkpointer.
    fn rotate_if_full(&mut self) -> io::Result<()> {
        let retry_later = self.rotate_retry_at.is_some_and(|at| Instant::now() < at);
        if retry_later || !self.journal.as_ref().is_some_and(Journal::is_full) {
            return Ok(());
        }
        self.rotate().inspect_err(|_| {
            // Each attempt waits until nothing is in flight: not after every group.
            self.rotate_retry_at = Some(Instant::now() + ROTATE_RETRY);
        })
    }

    /// Once nothing is in flight, starts a new journal and hands the old one to the
    /// checkpointer.
    fn rotate(&mut self) -> io::Result<()> {
        self.settle();
        let (Some(journal), Some(checkpointer)) = (&mut self.journal, &self.checkpointer) else {
            return Ok(());
        };
        let retired = journal.rotate(self.covered.values().cloned().collect())?;
        self.covered.clear();
        checkpointer.send(retired);
        Ok(())
    }
}

/// The checkpointer thread, which deletes retired journals once their segments are synced.
struct Checkpointer {
    retired: mpsc::Sender<Retired>,
    thread: JoinHandle<()>,
}

impl Checkpointer {
    fn send(&self, journal: Retired) {
        // The thread runs as long as this sender exists.
        let _ = self.retired.send(journal);
    }

    /// Waits until every journal sent is checkpointed (or kept).
    fn finish(self) {
        drop(self.retired);
        let _ = self.thread.join();
    }
}

/// The checkpointer: syncs the segments a retired journal covered (many at once), then deletes
/// it. A journal whose segments cannot be synced stays (a restart replays it, which is
/// harmless), as does one with entries of a shard whose segment failed to sync earlier (see
/// `segment_sync`).
fn start_checkpointer(files: Arc<SegmentFiles>) -> io::Result<Checkpointer> {
    let (sender, retired) = mpsc::channel::<Retired>();
    let thread = std::thread::Builder::new().name("kinesin-checkpoint".into()).spawn(move || {
        for journal in retired {
            let synced = parallel::map(&journal.segments, |segment| files.sync(segment)).map(|_| ());
            match synced.and_then(|()| journal.remove()) {
                Ok(()) => {}
                Err(e) => tracing::warn!(error = %e, "checkpoint failed: the old journal stays until the next start"),
            }
        }
    })?;
    Ok(Checkpointer { retired: sender, thread })
}
