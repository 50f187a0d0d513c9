//! One shard's log: its segments and their state, recovery at open, and retention. Writing
//! frames is in [`append`] (the committer, [`crate::commit`], groups and syncs them), reading
//! in [`read`].
//!
//! Invariants:
//! * Records are visible (to `read`, `seek_time`, `tip`) only once durable: the state holds
//!   the *committed* end of the active segment, advanced only after the group commit that
//!   wrote them is synced (with durability `fsync`: in the journal, or in the segment for a
//!   large share).
//! * Only the committer thread writes and only it changes the active segment (replay at open
//!   happens before it starts). `trim` only removes sealed segments from the front.
//! * Writes go to the *written* end, which runs ahead of the committed end while group commits
//!   are in flight (written, not yet synced); the two are equal when the shard is quiet. Only a
//!   quiet shard rolls its segment.
//! * Sealed segments are synced: the journal no longer covers them.
//! * Sealed segments are never empty and are immutable; their `.idx` is whole or absent.
//! * Memory per shard is O(1) per sealed segment plus the active segment's sparse index
//!   (bounded by the segment size); record data is never cached here.

mod append;
mod read;

use std::collections::VecDeque;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use kinesin_engine::storage::{Clock, ShardKey, StoreError, Tip};

use crate::index::{self, SparseIndex, Summary};
use crate::keys::{Keys, ShardCipher};
use crate::segment::{self, idx_path, log_path};
use crate::segment_files::{SegmentFile, SegmentFiles};
use crate::segment_sync::SegmentSyncs;
use crate::vfs::{ensure_dir, OpenMode, Vfs, VfsFile};
use crate::{Durability, StoreOptions};

pub(crate) use append::{Replay, Written};
pub(crate) use read::MAX_SEGMENT_BYTES;

/// What every shard shares: the file system, the clock, the options, the data key, how
/// segment syncs have gone, and the open segment files.
pub(crate) struct Env {
    pub fs: Arc<dyn Vfs>,
    pub clock: Arc<dyn Clock>,
    pub options: StoreOptions,
    pub keys: Keys,
    pub segment_syncs: Arc<SegmentSyncs>,
    pub files: Arc<SegmentFiles>,
    /// An append failed during this run: what it wrote to a segment may differ between the
    /// page cache and the disk, so the stop leaves no clean-stop mark (see `LocalSegmentLog`).
    pub append_failed: AtomicBool,
}

impl Env {
    /// Whether to fdatasync (durability `fsync`) or leave it to the OS.
    pub fn sync(&self) -> bool {
        self.options.durability == Durability::Fsync
    }

    pub fn note_append_failed(&self) {
        self.append_failed.store(true, Ordering::Release);
    }

    pub fn any_append_failed(&self) -> bool {
        self.append_failed.load(Ordering::Acquire)
    }
}

pub(crate) struct Shard {
    key: ShardKey,
    dir: PathBuf,
    env: Arc<Env>,
    /// Encrypts and decrypts this shard's encrypted frames.
    cipher: ShardCipher,
    state: RwLock<State>,
    /// Serializes rebuilding a missing `.idx`.
    repair: Mutex<()>,
    /// Whether the shard's directory and first segment exist (durably): a new shard has none
    /// until its first append ([`Shard::create_files`]).
    on_disk: AtomicBool,
    /// Serializes creating them.
    creating: Mutex<()>,
}

struct State {
    sealed: VecDeque<Sealed>,
    active: Active,
    /// Arrival time of the newest committed record.
    last_arrival: Option<i64>,
    /// The end of the frames written to the active segment, committed or in flight: where the
    /// next write goes.
    written: End,
    deleted: bool,
    /// The active file may hold bytes past `written.len` (a failed write or group commit); the
    /// next write cuts them off first.
    dirty_tail: bool,
    /// The bytes to cut off hold encrypted frames: their sequence indices are encrypted again
    /// after the cut, which needs a new nonce epoch.
    dirty_tail_encrypted: bool,
}

/// The end of a run of frames in the active segment: its length, the next sequence index,
/// and the newest arrival time so far (arrival times never go back within a shard).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct End {
    len: u64,
    seq: u64,
    arrival: Option<i64>,
}

impl State {
    /// The end of the committed (visible) records.
    fn committed(&self) -> End {
        End { len: self.active.len, seq: self.active.end_seq, arrival: self.last_arrival }
    }

    /// No group commit in flight: everything written is committed.
    fn quiet(&self) -> bool {
        self.written == self.committed()
    }

    /// The active segment holds records and has reached its size: the next write seals it.
    fn roll_due(&self, segment_bytes: u64) -> bool {
        self.written.seq > self.active.first_seq && self.written.len >= segment_bytes
    }
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
    /// Opened through the cache of open files when needed.
    segment: Arc<SegmentFile>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

impl Shard {
    /// Records that an append to this shard failed (see [`Env::append_failed`]).
    pub(crate) fn note_append_failed(&self) {
        self.env.note_append_failed();
    }

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
        let (segment_file, file, scanned) = loop {
            let first = *logs.last().expect("at least one segment");
            let segment_file = SegmentFile::new(key, log_path(&dir, first));
            let file = env.files.get(&segment_file)?;
            let scanned = segment::scan(&*file, first)?;
            if scanned.end_seq == first && logs.len() > 1 {
                // A roll created this segment but its first batch never landed: the previous
                // segment is the active one again.
                drop(file);
                env.files.close(&segment_file);
                fs.remove_file(&log_path(&dir, first))?;
                logs.pop();
                dir_changed = true;
                continue;
            }
            break (segment_file, file, scanned);
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
            segment: segment_file,
        };
        Ok(Shard::with_state(env, key, dir, sealed, active, scanned.last_arrival, true))
    }

    /// A new, empty shard whose files do not exist yet: nothing is read or written until
    /// [`Self::create_files`], which its first append calls.
    pub fn unwritten(env: Arc<Env>, key: ShardKey, dir: PathBuf) -> Shard {
        let active = Active {
            first_seq: 0,
            end_seq: 0,
            len: 0,
            first_arrival: None,
            index: SparseIndex::default(),
            segment: SegmentFile::new(key, log_path(&dir, 0)),
        };
        Shard::with_state(env, key, dir, VecDeque::new(), active, None, false)
    }

    fn with_state(
        env: Arc<Env>,
        key: ShardKey,
        dir: PathBuf,
        sealed: VecDeque<Sealed>,
        active: Active,
        last_arrival: Option<i64>,
        on_disk: bool,
    ) -> Shard {
        let written = End { len: active.len, seq: active.end_seq, arrival: last_arrival };
        let state = State {
            sealed,
            active,
            last_arrival,
            written,
            deleted: false,
            dirty_tail: false,
            dirty_tail_encrypted: false,
        };
        Shard {
            key,
            dir,
            cipher: env.keys.shard_cipher(key),
            env,
            state: RwLock::new(state),
            repair: Mutex::new(()),
            on_disk: AtomicBool::new(on_disk),
            creating: Mutex::new(()),
        }
    }

    /// Whether the shard's files exist; see [`Self::create_files`].
    pub fn is_on_disk(&self) -> bool {
        self.on_disk.load(Ordering::Acquire)
    }

    /// Creates the shard's directory and its first, empty segment, and makes both durable
    /// (syncing the shard's and the stream's directories), unless they exist: before the
    /// first append to the shard is written, so that the journal's entries for it always
    /// find it after a crash, and the segment's name is durable before its frames are
    /// (docs/storage.md, *Shards without files*). A deleted shard gets `NoSuchShard`; the
    /// caller keeps the stream's directory from being removed meanwhile.
    pub fn create_files(&self) -> Result<(), StoreError> {
        let _creating = lock(&self.creating);
        if self.is_on_disk() {
            return Ok(());
        }
        drop(self.read_state()?);
        let fs = &*self.env.fs;
        let stream_dir = self.dir.parent().expect("a shard directory is in its stream's");
        ensure_dir(fs, stream_dir, self.env.sync())?;
        fs.create_dir_all(&self.dir)?;
        fs.open(&log_path(&self.dir, 0), OpenMode::Create)?;
        if self.env.sync() {
            fs.sync_dir(&self.dir)?;
            fs.sync_dir(stream_dir)?;
        }
        self.on_disk.store(true, Ordering::Release);
        Ok(())
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

    pub fn key(&self) -> ShardKey {
        self.key
    }

    /// Makes every later call fail with `NoSuchShard` (the stream was deleted).
    pub fn mark_deleted(&self) {
        self.write_state().deleted = true;
    }

    pub fn tip(&self) -> Result<Tip, StoreError> {
        let state = self.read_state()?;
        Ok(Tip { next_seq_ix: state.active.end_seq, last_arrival_ms: state.last_arrival })
    }

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
        let (Some(first_arrival), Some(last_arrival), None) =
            (scanned.first_arrival, scanned.last_arrival, scanned.stopped)
        else {
            return Err(corrupt(format!(
                "sealed segment {} is damaged: {:?}",
                log.display(),
                scanned.stopped
            )));
        };
        if scanned.end_seq != end_seq {
            return Err(corrupt(format!(
                "sealed segment {} ends at {} instead of {end_seq}",
                log.display(),
                scanned.end_seq
            )));
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

    /// Deletes sealed segments, oldest first, whose newest record arrived before `cutoff`.
    /// The newest segment holding records is always kept: recovery restores the tip's
    /// arrival time from it.
    pub fn trim(&self, cutoff: i64) -> Result<(), StoreError> {
        let fs = &*self.env.fs;
        let mut removed = false;
        loop {
            let (first_seq, end_seq) = {
                let state = self.read_state()?;
                let Some(front) = state.sealed.front() else {
                    break;
                };
                let later_has_records =
                    state.sealed.len() > 1 || state.active.end_seq > state.active.first_seq;
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
