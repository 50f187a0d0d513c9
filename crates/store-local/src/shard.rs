//! One shard's log: its segments, the group-commit appender, reads, recovery and retention.
//!
//! Invariants:
//! * Records are visible (to `read`, `seek_time`, `tip`) only once durable: the state holds
//!   the *committed* end of the active segment, advanced only after the write and sync.
//! * Exactly one thread appends at a time (the flusher, see [`Shard::append`]); only it
//!   changes the active segment. `trim` only removes sealed segments from the front.
//! * Sealed segments are never empty and are immutable; their `.idx` is whole or absent.
//! * Memory per shard is O(1) per sealed segment plus the active segment's sparse index
//!   (bounded by the segment size); record data is never cached here.

use std::collections::VecDeque;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use kinesin_engine::storage::{Appended, Clock, NewRecord, Position, ReadBatch, ShardKey, StoreError, StoredRecord, Tip};
use tokio::sync::oneshot;

use crate::frame;
use crate::index::{self, IndexEntry, SparseIndex, Summary};
use crate::segment::{self, idx_path, log_path, FrameCursor, Step};
use crate::vfs::{OpenMode, Vfs, VfsFile};
use crate::{Durability, StoreOptions};

/// What every shard shares: the file system, the clock and the options.
pub(crate) struct Env {
    pub fs: Arc<dyn Vfs>,
    pub clock: Arc<dyn Clock>,
    pub options: StoreOptions,
}

impl Env {
    /// Whether to fdatasync (durability `fsync`) or leave it to the OS.
    pub fn sync(&self) -> bool {
        self.options.durability == Durability::Fsync
    }
}

/// The most bytes of frames one group commit writes.
const MAX_BATCH_BYTES: u64 = 8 << 20;
/// How much a read fetches from a segment file at a time.
const READ_CHUNK: usize = 256 << 10;

pub(crate) struct Shard {
    key: ShardKey,
    dir: PathBuf,
    env: Arc<Env>,
    queue: Mutex<Queue>,
    state: RwLock<State>,
    /// Serializes rebuilding a missing `.idx`.
    repair: Mutex<()>,
}

/// Appends waiting for the flusher.
#[derive(Default)]
struct Queue {
    waiting: VecDeque<Request>,
    /// A flusher is running; it will take everything in `waiting`.
    flushing: bool,
}

struct Request {
    records: Vec<NewRecord>,
    frame_bytes: u64,
    reply: oneshot::Sender<Result<Appended, StoreError>>,
}

struct State {
    sealed: VecDeque<Sealed>,
    active: Active,
    /// Arrival time of the newest committed record.
    last_arrival: Option<i64>,
    deleted: bool,
    /// The active file may hold bytes past `active.len` (a failed write that could not be cut
    /// off); the flusher cuts them before writing.
    dirty_tail: bool,
}

/// A sealed segment: records `first_seq..end_seq`.
struct Sealed {
    first_seq: u64,
    end_seq: u64,
    /// Loaded from the `.idx` on first need.
    summary: OnceLock<Summary>,
}

/// The segment being appended to: committed records `first_seq..end_seq` in `len` bytes.
struct Active {
    first_seq: u64,
    end_seq: u64,
    len: u64,
    first_arrival: Option<i64>,
    index: SparseIndex,
    file: Arc<dyn VfsFile>,
}

/// Hints are `segment tag << 40 | (offset + 1)`, where the tag is the low 23 bits of the
/// segment's first sequence index: a hint names a byte offset in one segment, so a read that
/// continues where the last one stopped needs no index lookup. A hint is only trusted if the
/// frame at its offset is whole and carries the expected sequence index.
const HINT_OFFSET_BITS: u32 = 40;
/// Segments must stay below this size for their offsets to fit a hint.
pub(crate) const MAX_SEGMENT_BYTES: u64 = 1 << 39;

fn hint(segment_first_seq: u64, offset: u64) -> u64 {
    ((segment_first_seq & 0x7f_ffff) << HINT_OFFSET_BITS) | (offset + 1)
}

/// The offset a hint names in the segment starting at `segment_first_seq`, if it is for it.
fn hint_offset(hint: u64, segment_first_seq: u64) -> Option<u64> {
    let offset = hint & ((1 << HINT_OFFSET_BITS) - 1);
    (offset != 0 && hint >> HINT_OFFSET_BITS == segment_first_seq & 0x7f_ffff).then(|| offset - 1)
}

/// A segment to read from, resolved under the state lock.
struct Target {
    first_seq: u64,
    end_seq: u64,
    /// The active segment's file and committed length; `None` for a sealed segment.
    active: Option<(Arc<dyn VfsFile>, u64)>,
    /// For the active segment: the index entry at or before the wanted record.
    entry: Option<IndexEntry>,
}

enum Located {
    /// Nothing to read at or after the position; continue from this one.
    Tip(Position),
    /// Record `seq` is in `target`.
    At { seq: u64, hint: u64, target: Target },
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// A copy of an error for every request of a failed batch.
fn replicate(e: &StoreError) -> StoreError {
    match e {
        StoreError::Io(e) => StoreError::Io(io::Error::new(e.kind(), e.to_string())),
        StoreError::NoSuchShard(key) => StoreError::NoSuchShard(*key),
        StoreError::Catalog(s) => StoreError::Catalog(s.clone()),
        StoreError::Corrupt(s) => StoreError::Corrupt(s.clone()),
    }
}

fn is_not_found(e: &StoreError) -> bool {
    matches!(e, StoreError::Io(e) if e.kind() == io::ErrorKind::NotFound)
}

impl Shard {
    /// Opens the shard log in `dir` (creating an empty one if `dir` has no segment), scanning
    /// only the last segment: a torn tail — never acknowledged — is cut off.
    pub fn open(env: Arc<Env>, key: ShardKey, dir: PathBuf) -> Result<Shard, StoreError> {
        let fs = &*env.fs;
        let sync = env.sync();
        let mut logs = Vec::new();
        let mut others = Vec::new();
        for entry in fs.list_dir(&dir)? {
            match segment::parse_name(&entry.name) {
                Some((seq, "log")) if !entry.is_dir => logs.push(seq),
                Some((seq, "idx")) => others.push((entry.name, Some(seq))),
                Some((_, "idx.tmp")) => others.push((entry.name, None)),
                _ => {}
            }
        }
        logs.sort_unstable();
        let mut dir_changed = false;
        if logs.is_empty() {
            fs.open(&log_path(&dir, 0), OpenMode::Create)?;
            logs.push(0);
            dir_changed = true;
        }
        let (file, scanned) = loop {
            let first = *logs.last().expect("at least one segment");
            let file = fs.open(&log_path(&dir, first), OpenMode::Existing)?;
            let scanned = segment::scan(&*file, first)?;
            if scanned.end_seq == first && logs.len() > 1 {
                // A roll created this segment but its first batch never landed: the previous
                // segment is the active one again.
                fs.remove_file(&log_path(&dir, first))?;
                logs.pop();
                dir_changed = true;
                continue;
            }
            break (file, scanned);
        };
        if let Some(reason) = scanned.stopped {
            tracing::warn!(shard = ?key, offset = scanned.len, reason, "cutting off the torn tail of a segment");
            file.set_len(scanned.len)?;
            if sync {
                file.sync_data()?;
            }
        }
        // Temp files, and indexes of segments that are gone or active again, are leftovers.
        let sealed_seqs = &logs[..logs.len() - 1];
        for (name, seq) in others {
            if seq.is_none_or(|seq| sealed_seqs.binary_search(&seq).is_err()) {
                fs.remove_file(&dir.join(name))?;
                dir_changed = true;
            }
        }
        if dir_changed && sync {
            fs.sync_dir(&dir)?;
        }
        let sealed = logs
            .windows(2)
            .map(|w| Sealed { first_seq: w[0], end_seq: w[1], summary: OnceLock::new() })
            .collect();
        let active = Active {
            first_seq: *logs.last().expect("at least one segment"),
            end_seq: scanned.end_seq,
            len: scanned.len,
            first_arrival: scanned.first_arrival,
            index: scanned.index,
            file,
        };
        let state = State { sealed, active, last_arrival: scanned.last_arrival, deleted: false, dirty_tail: false };
        Ok(Shard {
            key,
            dir,
            env,
            queue: Mutex::default(),
            state: RwLock::new(state),
            repair: Mutex::new(()),
        })
    }

    fn read_state(&self) -> Result<RwLockReadGuard<'_, State>, StoreError> {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        if state.deleted {
            return Err(StoreError::NoSuchShard(self.key));
        }
        Ok(state)
    }

    fn write_state(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes every later call fail with `NoSuchShard` (the stream was deleted).
    pub fn mark_deleted(&self) {
        self.write_state().deleted = true;
    }

    pub fn tip(&self) -> Result<Tip, StoreError> {
        let state = self.read_state()?;
        Ok(Tip { next_seq_ix: state.active.end_seq, last_arrival_ms: state.last_arrival })
    }

    // ---- appending ----

    /// Appends `records` and resolves once they are durable.
    ///
    /// Group commit: the request joins the queue; if no flusher is running, this call starts
    /// one on a blocking thread. The flusher repeatedly takes everything waiting (up to
    /// [`MAX_BATCH_BYTES`]) and writes it with one write and one fdatasync, so every request
    /// that arrived while a sync ran shares the next one. It stops when the queue is empty.
    pub async fn append(self: Arc<Self>, records: Vec<NewRecord>) -> Result<Appended, StoreError> {
        if records.iter().any(|r| !frame::fits(&r.partition_key, &r.data)) {
            return Err(StoreError::Io(io::Error::new(io::ErrorKind::InvalidInput, "record too large")));
        }
        if records.is_empty() {
            let tip = self.tip()?;
            let arrival_ms = tip.last_arrival_ms.unwrap_or_else(|| self.env.clock.now_ms());
            return Ok(Appended { first_seq_ix: tip.next_seq_ix, arrival_ms });
        }
        let frame_bytes = records.iter().map(|r| frame::frame_len(&r.partition_key, &r.data) as u64).sum();
        let (reply, answer) = oneshot::channel();
        let start_flusher = {
            let mut queue = lock(&self.queue);
            queue.waiting.push_back(Request { records, frame_bytes, reply });
            !std::mem::replace(&mut queue.flushing, true)
        };
        if start_flusher {
            let shard = self.clone();
            tokio::task::spawn_blocking(move || shard.flush());
        }
        answer.await.unwrap_or_else(|_| Err(StoreError::Io(io::Error::other("the shard appender stopped"))))
    }

    /// The flusher: commits batches until the queue is empty.
    fn flush(&self) {
        /// Lets a later append start a new flusher if this one panics.
        struct Reset<'a>(&'a Mutex<Queue>);
        impl Drop for Reset<'_> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    lock(self.0).flushing = false;
                }
            }
        }
        let _reset = Reset(&self.queue);
        let budget = MAX_BATCH_BYTES.min(self.env.options.segment_bytes);
        loop {
            let batch = {
                let mut queue = lock(&self.queue);
                let mut bytes = 0;
                let mut n = 0;
                for request in &queue.waiting {
                    if n > 0 && bytes + request.frame_bytes > budget {
                        break;
                    }
                    bytes += request.frame_bytes;
                    n += 1;
                }
                if n == 0 {
                    queue.flushing = false;
                    return;
                }
                queue.waiting.drain(..n).collect::<Vec<_>>()
            };
            match self.commit(&batch) {
                Ok(appended) => {
                    for (request, appended) in batch.into_iter().zip(appended) {
                        let _ = request.reply.send(Ok(appended));
                    }
                }
                Err(e) => {
                    tracing::warn!(shard = ?self.key, error = %e, "append failed");
                    for request in batch {
                        let _ = request.reply.send(Err(replicate(&e)));
                    }
                }
            }
        }
    }

    /// Writes one batch and makes it durable and visible. On failure nothing of the batch is
    /// visible, and the file is cut back to the committed length.
    fn commit(&self, batch: &[Request]) -> Result<Vec<Appended>, StoreError> {
        let (dirty_tail, needs_roll) = {
            let state = self.read_state()?;
            let active = &state.active;
            let has_records = active.end_seq > active.first_seq;
            (state.dirty_tail, has_records && active.len >= self.env.options.segment_bytes)
        };
        if dirty_tail {
            let state = self.read_state()?;
            state.active.file.set_len(state.active.len)?;
            drop(state);
            self.write_state().dirty_tail = false;
        }
        if needs_roll {
            self.roll()?;
        }
        let (file, offset, first_seq, arrival) = {
            let state = self.read_state()?;
            let arrival = self.env.clock.now_ms().max(state.last_arrival.unwrap_or(i64::MIN));
            (state.active.file.clone(), state.active.len, state.active.end_seq, arrival)
        };

        let total: u64 = batch.iter().map(|r| r.frame_bytes).sum();
        let mut buf = Vec::with_capacity(total as usize);
        let mut frames = Vec::new();
        let mut appended = Vec::with_capacity(batch.len());
        let mut seq = first_seq;
        for request in batch {
            appended.push(Appended { first_seq_ix: seq, arrival_ms: arrival });
            for record in &request.records {
                frames.push((seq, offset + buf.len() as u64));
                frame::encode(&mut buf, seq, arrival, &record.partition_key, &record.data);
                seq += 1;
            }
        }

        let written = file.write_all_at(&buf, offset).and_then(|()| if self.env.sync() { file.sync_data() } else { Ok(()) });
        if let Err(e) = written {
            if file.set_len(offset).is_err() {
                self.write_state().dirty_tail = true;
            }
            return Err(e.into());
        }

        let mut state = self.write_state();
        let active = &mut state.active;
        for (seq, offset) in frames {
            active.index.note(seq, arrival, offset);
        }
        active.len = offset + buf.len() as u64;
        active.end_seq = seq;
        active.first_arrival.get_or_insert(arrival);
        state.last_arrival = Some(arrival);
        Ok(appended)
    }

    /// Seals the active segment (writing its `.idx`) and starts a new, empty one.
    fn roll(&self) -> Result<(), StoreError> {
        let fs = &*self.env.fs;
        let sync = self.env.sync();
        let (summary, index) = {
            let state = self.read_state()?;
            let active = &state.active;
            let summary = Summary {
                first_seq: active.first_seq,
                end_seq: active.end_seq,
                first_arrival: active.first_arrival.expect("a segment with records"),
                last_arrival: state.last_arrival.expect("a segment with records"),
                log_len: active.len,
            };
            (summary, active.index.clone())
        };
        index::write(fs, &idx_path(&self.dir, summary.first_seq), &summary, &index, sync)?;
        let file = fs.open(&log_path(&self.dir, summary.end_seq), OpenMode::Truncate)?;
        if sync {
            fs.sync_dir(&self.dir)?;
        }
        let mut state = self.write_state();
        state.sealed.push_back(Sealed {
            first_seq: summary.first_seq,
            end_seq: summary.end_seq,
            summary: OnceLock::from(summary),
        });
        state.active = Active {
            first_seq: summary.end_seq,
            end_seq: summary.end_seq,
            len: 0,
            first_arrival: None,
            index: SparseIndex::default(),
            file,
        };
        Ok(())
    }

    // ---- sealed segments ----

    /// A sealed segment's summary and index, from its `.idx`, or rebuilt by scanning the
    /// segment if the `.idx` is missing or damaged.
    fn sealed_index(&self, first_seq: u64, end_seq: u64) -> Result<(Summary, SparseIndex), StoreError> {
        let fs = &*self.env.fs;
        let path = idx_path(&self.dir, first_seq);
        if let Some(found) = index::read(fs, &path, first_seq, end_seq)? {
            return Ok(found);
        }
        let _repair = lock(&self.repair);
        if let Some(found) = index::read(fs, &path, first_seq, end_seq)? {
            return Ok(found);
        }
        let log = log_path(&self.dir, first_seq);
        let file = fs.open(&log, OpenMode::Existing)?;
        let scanned = segment::scan(&*file, first_seq)?;
        let (Some(first_arrival), Some(last_arrival), None) = (scanned.first_arrival, scanned.last_arrival, scanned.stopped)
        else {
            return Err(corrupt(format!("sealed segment {} is damaged: {:?}", log.display(), scanned.stopped)));
        };
        if scanned.end_seq != end_seq {
            return Err(corrupt(format!("sealed segment {} ends at {} instead of {end_seq}", log.display(), scanned.end_seq)));
        }
        let summary = Summary { first_seq, end_seq, first_arrival, last_arrival, log_len: scanned.len };
        index::write(fs, &path, &summary, &scanned.index, self.env.sync())?;
        if self.env.sync() {
            fs.sync_dir(&self.dir)?;
        }
        tracing::info!(shard = ?self.key, segment = first_seq, "rebuilt a missing segment index");
        Ok((summary, scanned.index))
    }

    /// A sealed segment's summary, loaded once and then kept.
    fn summary(&self, first_seq: u64, end_seq: u64) -> Result<Summary, StoreError> {
        let find = |state: &State| state.sealed.binary_search_by_key(&first_seq, |s| s.first_seq).ok();
        {
            let state = self.read_state()?;
            if let Some(summary) = find(&state).and_then(|i| state.sealed[i].summary.get()) {
                return Ok(*summary);
            }
        }
        let (summary, _) = self.sealed_index(first_seq, end_seq)?;
        let state = self.read_state()?;
        if let Some(i) = find(&state) {
            let _ = state.sealed[i].summary.set(summary);
        }
        Ok(summary)
    }

    // ---- reading ----

    /// Runs a read-side operation again if it failed because `trim` removed a segment under
    /// it (the state no longer lists the segment by the time the file is gone).
    fn retry_after_trim<T>(&self, op: impl Fn() -> Result<T, StoreError>) -> Result<T, StoreError> {
        match op() {
            Err(e) if is_not_found(&e) => op(),
            other => other,
        }
    }

    /// Where record `pos.seq_ix` (or the first retained one after it) is.
    fn locate(&self, pos: Position) -> Result<Located, StoreError> {
        let state = self.read_state()?;
        let active = &state.active;
        let first_retained = state.sealed.front().map_or(active.first_seq, |s| s.first_seq);
        let (seq, hint_value) = if pos.seq_ix < first_retained { (first_retained, 0) } else { (pos.seq_ix, pos.hint) };
        if seq >= active.end_seq {
            let next = if seq == active.end_seq { hint(active.first_seq, active.len) } else { hint_value };
            return Ok(Located::Tip(Position { seq_ix: seq, hint: next }));
        }
        let target = if seq >= active.first_seq {
            Target {
                first_seq: active.first_seq,
                end_seq: active.end_seq,
                active: Some((active.file.clone(), active.len)),
                entry: active.index.for_seq(seq),
            }
        } else {
            let i = state.sealed.partition_point(|s| s.first_seq <= seq) - 1;
            let sealed = &state.sealed[i];
            Target { first_seq: sealed.first_seq, end_seq: sealed.end_seq, active: None, entry: None }
        };
        Ok(Located::At { seq, hint: hint_value, target })
    }

    /// Reads committed records from `from` on; see `ShardLog::read`.
    pub fn read(&self, from: Position, max_records: usize, max_bytes: usize) -> Result<ReadBatch, StoreError> {
        self.retry_after_trim(|| self.read_once(from, max_records, max_bytes))
    }

    fn read_once(&self, from: Position, max_records: usize, max_bytes: usize) -> Result<ReadBatch, StoreError> {
        let mut records: Vec<StoredRecord> = Vec::new();
        let mut bytes = 0;
        let mut pos = from;
        while records.len() < max_records {
            let (seq, hint_value, target) = match self.locate(pos)? {
                Located::Tip(next) => {
                    pos = next;
                    break;
                }
                Located::At { seq, hint, target } => (seq, hint, target),
            };
            let (file, end) = self.segment_file(&target)?;
            let mut cursor = self.cursor_at(&*file, end, &target, seq, hint_value)?;
            let mut expected = seq;
            let stopped = loop {
                let offset = cursor.offset();
                let record = match cursor.next()? {
                    Step::Frame(record) => record,
                    Step::End => break false,
                    Step::Bad(why) => return Err(self.damaged(&target, offset, why)),
                };
                if record.seq_ix != expected {
                    return Err(self.damaged(&target, offset, "sequence index out of order"));
                }
                let size = record.partition_key.len() + record.data.len();
                if !records.is_empty() && bytes + size > max_bytes {
                    pos = Position { seq_ix: expected, hint: hint(target.first_seq, offset) };
                    break true;
                }
                bytes += size;
                records.push(record);
                expected += 1;
                if records.len() >= max_records {
                    let next = cursor.offset();
                    let next_hint = match target.active {
                        // The next record starts the next segment.
                        None if next == end => hint(expected, 0),
                        _ => hint(target.first_seq, next),
                    };
                    pos = Position { seq_ix: expected, hint: next_hint };
                    break true;
                }
            };
            if stopped {
                break;
            }
            if expected != target.end_seq {
                return Err(self.damaged(&target, end, "segment ends early"));
            }
            if target.active.is_some() {
                pos = Position { seq_ix: expected, hint: hint(target.first_seq, end) };
                break;
            }
            // The next segment starts with record `expected`, at offset 0.
            pos = Position { seq_ix: expected, hint: hint(expected, 0) };
        }
        Ok(ReadBatch { records, next: pos })
    }

    fn damaged(&self, target: &Target, offset: u64, why: &str) -> StoreError {
        let path = log_path(&self.dir, target.first_seq);
        corrupt(format!("{} at offset {offset}: {why}", path.display()))
    }

    /// The target's file and how far its committed frames go.
    fn segment_file(&self, target: &Target) -> Result<(Arc<dyn VfsFile>, u64), StoreError> {
        if let Some((file, len)) = &target.active {
            return Ok((file.clone(), *len));
        }
        let file = self.env.fs.open(&log_path(&self.dir, target.first_seq), OpenMode::Existing)?;
        let len = file.len()?;
        Ok((file, len))
    }

    /// A cursor at the frame of record `seq`: at the hint if the frame there is that record,
    /// else from the sparse index entry before it, scanning forward.
    fn cursor_at<'f>(
        &self,
        file: &'f dyn VfsFile,
        end: u64,
        target: &Target,
        seq: u64,
        hint_value: u64,
    ) -> Result<FrameCursor<'f>, StoreError> {
        let mut cursor = FrameCursor::new(file, 0, end, READ_CHUNK);
        if let Some(offset) = hint_offset(hint_value, target.first_seq).filter(|o| *o < end) {
            cursor.seek(offset);
            if matches!(cursor.next()?, Step::Frame(r) if r.seq_ix == seq) {
                cursor.seek(offset);
                return Ok(cursor);
            }
        }
        let entry = match target.active {
            Some(_) => target.entry,
            None => self.sealed_index(target.first_seq, target.end_seq)?.1.for_seq(seq),
        };
        cursor.seek(entry.map_or(0, |e| e.offset));
        loop {
            let offset = cursor.offset();
            match cursor.next()? {
                Step::Frame(r) if r.seq_ix < seq => {}
                Step::Frame(r) if r.seq_ix == seq => {
                    cursor.seek(offset);
                    return Ok(cursor);
                }
                Step::Frame(_) | Step::End => return Err(self.damaged(target, offset, "record missing")),
                Step::Bad(why) => return Err(self.damaged(target, offset, why)),
            }
        }
    }

    /// The position of the first retained record that arrived at or after `arrival_ms`, or
    /// the tip if there is none.
    pub fn seek_time(&self, arrival_ms: i64) -> Result<Position, StoreError> {
        self.retry_after_trim(|| self.seek_time_once(arrival_ms))
    }

    fn seek_time_once(&self, arrival_ms: i64) -> Result<Position, StoreError> {
        let sealed: Vec<(u64, u64)> = {
            let state = self.read_state()?;
            if state.last_arrival.is_none_or(|last| last < arrival_ms) {
                let active = &state.active;
                return Ok(Position { seq_ix: active.end_seq, hint: hint(active.first_seq, active.len) });
            }
            state.sealed.iter().map(|s| (s.first_seq, s.end_seq)).collect()
        };
        // Arrival times never decrease: the first segment whose newest record is not older
        // than `arrival_ms` holds the answer.
        let mut lo = 0;
        let mut hi = sealed.len();
        while lo < hi {
            let mid = (lo + hi) / 2;
            let (first, end) = sealed[mid];
            if self.summary(first, end)?.last_arrival >= arrival_ms {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        if let Some(&(first_seq, end_seq)) = sealed.get(lo) {
            let target = Target { first_seq, end_seq, active: None, entry: None };
            let (_, index) = self.sealed_index(first_seq, end_seq)?;
            if let Some(pos) = self.scan_for_time(&target, index.before_time(arrival_ms), arrival_ms)? {
                return Ok(pos);
            }
        }
        let (target, tip) = {
            let state = self.read_state()?;
            let active = &state.active;
            let target = Target {
                first_seq: active.first_seq,
                end_seq: active.end_seq,
                active: Some((active.file.clone(), active.len)),
                entry: active.index.before_time(arrival_ms),
            };
            (target, Position { seq_ix: active.end_seq, hint: hint(active.first_seq, active.len) })
        };
        Ok(self.scan_for_time(&target, target.entry, arrival_ms)?.unwrap_or(tip))
    }

    /// Scans `target` from `entry` for the first record at or after `arrival_ms`.
    fn scan_for_time(&self, target: &Target, entry: Option<IndexEntry>, arrival_ms: i64) -> Result<Option<Position>, StoreError> {
        let (file, end) = self.segment_file(target)?;
        let mut cursor = FrameCursor::new(&*file, entry.map_or(0, |e| e.offset), end, READ_CHUNK);
        loop {
            let offset = cursor.offset();
            match cursor.next()? {
                Step::Frame(r) if r.arrival_ms >= arrival_ms => {
                    return Ok(Some(Position { seq_ix: r.seq_ix, hint: hint(target.first_seq, offset) }))
                }
                Step::Frame(_) => {}
                Step::End => return Ok(None),
                Step::Bad(why) => return Err(self.damaged(target, offset, why)),
            }
        }
    }

    // ---- retention ----

    /// Deletes sealed segments, oldest first, whose newest record arrived before `cutoff`.
    /// The newest segment holding records is always kept: recovery restores the tip's
    /// arrival time from it.
    pub fn trim(&self, cutoff: i64) -> Result<(), StoreError> {
        let fs = &*self.env.fs;
        let mut removed = false;
        loop {
            let (first_seq, end_seq) = {
                let state = self.read_state()?;
                let Some(front) = state.sealed.front() else { break };
                let later_has_records = state.sealed.len() > 1 || state.active.end_seq > state.active.first_seq;
                if !later_has_records {
                    break;
                }
                (front.first_seq, front.end_seq)
            };
            if self.summary(first_seq, end_seq)?.last_arrival >= cutoff {
                break;
            }
            {
                let mut state = self.write_state();
                if state.sealed.front().map(|s| s.first_seq) != Some(first_seq) {
                    continue; // another trim got there first
                }
                state.sealed.pop_front();
            }
            fs.remove_file(&log_path(&self.dir, first_seq))?;
            match fs.remove_file(&idx_path(&self.dir, first_seq)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
            removed = true;
        }
        if removed && self.env.sync() {
            fs.sync_dir(&self.dir)?;
        }
        Ok(())
    }
}
