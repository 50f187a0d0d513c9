//! The committer: one thread that performs every append of the store, in group commits.
//!
//! Appends queue up while a group is being written; the thread then takes everything waiting
//! (up to [`MAX_GROUP_BYTES`]), writes each shard's frames to its segment, writes the same
//! frames to the journal in one write, and syncs the journal once: one fdatasync makes a whole
//! group durable, however many shards it touched. A shard's share of [`DIRECT_SYNC_BYTES`] or
//! more skips the journal and is synced in its segment instead (big writes are limited by disk
//! bandwidth, not by syncs). Only once durable do the records become visible and the appends
//! get their answers. With durability `os` there is no journal and no sync.
//!
//! Every `StoreOptions::journal_bytes` the journal is rotated: a second thread, the checkpointer,
//! syncs the segments the old journal covered and then deletes it, while appends go on into
//! the new one.

use std::collections::HashMap;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc};

use kinesin_engine::storage::{Appended, NewRecord, ShardKey, StoreError};
use tokio::sync::oneshot;

use crate::frame;
use crate::journal::{self, Journal, Retired};
use crate::shard::{Shard, Written};
use crate::vfs::VfsFile;

/// The most bytes of frames one group commit writes (a single larger append still goes alone).
const MAX_GROUP_BYTES: u64 = 16 << 20;

/// A shard's share of a group from this size on is made durable by syncing its segment
/// rather than through the journal: writing it twice would cost more disk bandwidth than the
/// extra sync costs (a sync is worth roughly 100 KiB of sequential writing on a typical disk).
const DIRECT_SYNC_BYTES: usize = 128 << 10;

/// Hands appends to the committer thread; the thread stops once this is dropped.
pub(crate) struct Committer {
    requests: mpsc::Sender<Request>,
}

struct Request {
    shard: Arc<Shard>,
    records: Vec<NewRecord>,
    frame_bytes: u64,
    reply: oneshot::Sender<Answer>,
}

/// A request's outcome, with its records handed back: they are freed by the task that made
/// them rather than by the committer thread, whose every microsecond delays a whole group
/// (freeing them, glibc's frees of other threads' allocations, was a fifth of its CPU time).
struct Answer {
    result: Result<Appended, StoreError>,
    _records: Vec<NewRecord>,
}

impl Request {
    fn answer(self, result: Result<Appended, StoreError>) {
        let _ = self.reply.send(Answer { result, _records: self.records });
    }
}

/// A copy of an error for every request of a failed group.
fn replicate(e: &StoreError) -> StoreError {
    match e {
        StoreError::Io(e) => StoreError::Io(io::Error::new(e.kind(), e.to_string())),
        StoreError::NoSuchShard(key) => StoreError::NoSuchShard(*key),
        StoreError::Catalog(s) => StoreError::Catalog(s.clone()),
        StoreError::Corrupt(s) => StoreError::Corrupt(s.clone()),
    }
}

impl Committer {
    /// Starts the committer thread (and, with a journal, the checkpointer).
    pub fn start(journal: Option<Journal>) -> io::Result<Committer> {
        let (requests, waiting) = mpsc::channel();
        let checkpoints = match journal {
            Some(_) => Some(start_checkpointer()?),
            None => None,
        };
        let mut thread = CommitThread { journal, checkpoints, covered: HashMap::new() };
        std::thread::Builder::new().name("kinesin-commit".into()).spawn(move || thread.run(waiting))?;
        Ok(Committer { requests })
    }

    /// Appends `records` to `shard` and resolves once they are durable and visible.
    pub async fn append(&self, shard: Arc<Shard>, records: Vec<NewRecord>) -> Result<Appended, StoreError> {
        if records.iter().any(|r| !frame::fits(&r.partition_key, &r.data)) {
            return Err(StoreError::Io(io::Error::new(io::ErrorKind::InvalidInput, "record too large")));
        }
        if records.is_empty() {
            return shard.append_nothing();
        }
        let frame_bytes =
            records.iter().map(|r| frame::frame_len(&r.partition_key, &r.data, r.encrypted) as u64).sum();
        let (reply, answer) = oneshot::channel();
        let stopped = || StoreError::Io(io::Error::other("the committer stopped"));
        self.requests.send(Request { shard, records, frame_bytes, reply }).map_err(|_| stopped())?;
        answer.await.map_or_else(|_| Err(stopped()), |answer| answer.result)
    }
}

/// One shard's share of a group commit, written to its segment and waiting to be durable.
struct Part {
    shard: Arc<Shard>,
    requests: Vec<Request>,
    written: Written,
    /// Made durable by the journal (else by syncing its segment).
    journaled: bool,
}

impl Part {
    fn publish(self) {
        let appended = self.shard.publish(self.written);
        for (request, appended) in self.requests.into_iter().zip(appended) {
            request.answer(Ok(appended));
        }
    }

    fn abandon(self, e: &StoreError) {
        self.shard.abandon(&self.written);
        fail(&self.shard, self.requests, e);
    }
}

/// Publishes the journaled parts of a group once the journal sync succeeded, or fails them.
fn finish_journaled(
    journaled: Vec<Part>,
    synced: io::Result<()>,
    covered: &mut HashMap<ShardKey, Arc<dyn VfsFile>>,
) {
    match synced {
        Ok(()) => {
            for part in journaled {
                covered.insert(part.shard.key(), part.written.file.clone());
                part.publish();
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "the journal write failed; the group's appends failed");
            let e = StoreError::Io(e);
            for part in journaled {
                part.abandon(&e);
            }
        }
    }
}

fn fail(shard: &Shard, requests: Vec<Request>, e: &StoreError) {
    tracing::warn!(shard = ?shard.key(), error = %e, "append failed");
    for request in requests {
        request.answer(Err(replicate(e)));
    }
}

struct CommitThread {
    journal: Option<Journal>,
    checkpoints: Option<mpsc::Sender<Retired>>,
    /// The segment files written since the journal was last rotated: the next checkpoint
    /// syncs them.
    covered: HashMap<ShardKey, Arc<dyn VfsFile>>,
}

impl CommitThread {
    fn run(&mut self, waiting: mpsc::Receiver<Request>) {
        while let Ok(first) = waiting.recv() {
            let mut bytes = first.frame_bytes;
            let mut group = vec![first];
            while bytes < MAX_GROUP_BYTES {
                let Ok(request) = waiting.try_recv() else { break };
                bytes += request.frame_bytes;
                group.push(request);
            }
            let shards: Vec<Arc<Shard>> = group.iter().map(|r| r.shard.clone()).collect();
            if catch_unwind(AssertUnwindSafe(|| self.commit(group))).is_err() {
                // The requests' answers were dropped with the group: they fail. What the
                // group may have written is cut off before the next write.
                tracing::error!("a group commit panicked; its appends failed");
                for shard in shards {
                    shard.abandon_after_panic();
                }
            }
            if let Err(e) = self.rotate_if_full() {
                tracing::warn!(error = %e, "could not rotate the journal; will try again");
            }
        }
    }

    /// Writes one group, makes it durable, publishes it and answers its requests.
    fn commit(&mut self, group: Vec<Request>) {
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

        let total: u64 = by_shard.iter().flat_map(|(_, rs)| rs).map(|r| r.frame_bytes).sum();
        let mut entries = Vec::with_capacity(total as usize + by_shard.len() * journal::HEADER_LEN);
        let mut parts = Vec::with_capacity(by_shard.len());
        for (shard, requests) in by_shard {
            let start = journal::begin_entry(&mut entries, shard.key());
            match shard.write(requests.iter().map(|r| &r.records[..]), &mut entries) {
                Ok(written) => {
                    let journaled = self.journal.is_some() && entries.len() - start < DIRECT_SYNC_BYTES;
                    if journaled {
                        journal::finish_entry(&mut entries, start);
                    } else {
                        entries.truncate(start);
                    }
                    parts.push(Part { shard, requests, written, journaled });
                }
                Err(e) => {
                    entries.truncate(start);
                    fail(&shard, requests, &e);
                }
            }
        }

        // Large parts are synced in their own segments, the rest by one journal sync, all at
        // once: a disk works through concurrent syncs faster than through the same in a row.
        let (direct, journaled): (Vec<Part>, Vec<Part>) = parts.into_iter().partition(|p| !p.journaled);
        let direct_synced: Vec<io::Result<()>> = match &mut self.journal {
            None => direct.iter().map(|_| Ok(())).collect(),
            Some(journal) => std::thread::scope(|scope| {
                let syncs: Vec<_> = direct
                    .iter()
                    .map(|part| {
                        let file = &part.written.file;
                        scope.spawn(move || file.sync_data())
                    })
                    .collect();
                let journaled_synced = if journaled.is_empty() { Ok(()) } else { journal.commit(&entries) };
                let direct_synced =
                    syncs.into_iter().map(|sync| sync.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect();
                finish_journaled(journaled, journaled_synced, &mut self.covered);
                direct_synced
            }),
        };
        for (part, synced) in direct.into_iter().zip(direct_synced) {
            match synced {
                Ok(()) => part.publish(),
                Err(e) => part.abandon(&StoreError::Io(e)),
            }
        }
    }

    /// Rotates a full journal and hands the old one to the checkpointer.
    fn rotate_if_full(&mut self) -> io::Result<()> {
        let (Some(journal), Some(checkpoints)) = (&mut self.journal, &self.checkpoints) else {
            return Ok(());
        };
        if !journal.is_full() {
            return Ok(());
        }
        let covered = std::mem::take(&mut self.covered);
        match journal.rotate(covered.values().cloned().collect()) {
            Ok(retired) => {
                let _ = checkpoints.send(retired);
                Ok(())
            }
            Err(e) => {
                self.covered = covered;
                Err(e)
            }
        }
    }
}

/// The checkpointer: syncs the segments a retired journal covered, then deletes it. A journal
/// whose segments cannot be synced stays (a restart replays it, which is harmless).
fn start_checkpointer() -> io::Result<mpsc::Sender<Retired>> {
    let (checkpoints, retired) = mpsc::channel::<Retired>();
    std::thread::Builder::new().name("kinesin-checkpoint".into()).spawn(move || {
        for journal in retired {
            let synced = journal.segments.iter().try_for_each(|segment| segment.sync_data());
            match synced.and_then(|()| journal.remove()) {
                Ok(()) => {}
                Err(e) => tracing::warn!(error = %e, "checkpoint failed: the old journal stays until the next start"),
            }
        }
    })?;
    Ok(checkpoints)
}
