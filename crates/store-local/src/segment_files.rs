//! A bounded cache of open segment files, so that the descriptors the store holds do not grow
//! with the shard count (`StoreOptions::max_open_files`).
//!
//! A shard names its active segment by a [`SegmentFile`], which holds no descriptor of its own
//! unless the cache has it open. [`SegmentFiles::get`] returns the open file, opening it on a
//! miss; once more files are open than the cache allows, a clock sweep closes files that
//! nobody used since the hand last passed and nobody holds.
//!
//! **Holding a file pins it.** A holder — a write, a read, a sync in progress — keeps its file
//! open until it is done, and the committer holds the file of every group in flight
//! (`Written`) until the group is published or failed and cut off. So a file the cache closes
//! holds exactly its shard's committed frames, or a failed tail already cut off in the page
//! cache — never the frames of a group whose fate is still open.
//!
//! **A file is never closed with unsynced writes** (durability `fsync`): a victim written
//! since its last sync is synced first, through [`SegmentSyncs`], so a failure stops its shard
//! as any failed segment sync does. Closing a file with dirty pages could lose a writeback
//! error with the descriptor, and a sync through a new one would then succeed over lost data.
//! While that sync runs the file is *closing*: opening it again waits until the sync is done,
//! so that no write lands in a file a sync other than its group's own is running on.
//!
//! Together: the syncs the cache adds only make durable what is committed (or a cut). See
//! `docs/storage.md`, *Open files*.

use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use kinesin_engine::exhaustion::Exhausted;
use kinesin_engine::storage::ShardKey;

use crate::segment_sync::SegmentSyncs;
use crate::vfs::{OpenMode, Vfs, VfsFile};

/// How many threads sync the files one sweep closes.
const CLOSING_THREADS: usize = 16;

/// A segment file of a shard, open or not.
#[derive(Debug)]
pub(crate) struct SegmentFile {
    key: ShardKey,
    path: PathBuf,
    slot: Mutex<Slot>,
    /// Used since the clock hand last passed it.
    referenced: AtomicBool,
    /// Has an entry in the clock's ring (changed only under the clock's lock).
    in_ring: AtomicBool,
}

#[derive(Debug, Default)]
enum Slot {
    #[default]
    Closed,
    Open(Arc<OpenSegment>),
    /// Taken out of the cache; its sync before closing is running.
    Closing,
}

impl SegmentFile {
    pub fn new(key: ShardKey, path: PathBuf) -> Arc<SegmentFile> {
        Arc::new(SegmentFile {
            key,
            path,
            slot: Mutex::default(),
            referenced: AtomicBool::new(false),
            in_ring: AtomicBool::new(false),
        })
    }

    pub fn key(&self) -> ShardKey {
        self.key
    }

    fn slot(&self) -> MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An open segment file that knows whether it was written since its last successful sync.
#[derive(Debug)]
pub(crate) struct OpenSegment {
    key: ShardKey,
    file: Arc<dyn VfsFile>,
    unsynced: AtomicBool,
}

impl OpenSegment {
    pub fn key(&self) -> ShardKey {
        self.key
    }

    fn unsynced(&self) -> bool {
        self.unsynced.load(Ordering::Acquire)
    }
}

impl VfsFile for OpenSegment {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }

    fn read_cached_at(&self, buf: &mut [u8], offset: u64) -> io::Result<bool> {
        self.file.read_cached_at(buf, offset)
    }

    // Marked after the change, cleared before the sync: a change the sync may miss leaves the
    // mark set.
    fn write_all_at(&self, data: &[u8], offset: u64) -> io::Result<()> {
        let written = self.file.write_all_at(data, offset);
        self.unsynced.store(true, Ordering::Release);
        written
    }

    fn len(&self) -> io::Result<u64> {
        self.file.len()
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let set = self.file.set_len(len);
        self.unsynced.store(true, Ordering::Release);
        set
    }

    fn sync_data(&self) -> io::Result<()> {
        self.unsynced.store(false, Ordering::Release);
        self.file.sync_data().inspect_err(|_| self.unsynced.store(true, Ordering::Release))
    }
}

/// A file taken out of the cache, to be synced (if written since its last sync) and closed.
type Victim = (Arc<SegmentFile>, Arc<OpenSegment>);

/// The cache. Lock order: the clock, then a segment's slot; `closing`, then a segment's slot.
pub(crate) struct SegmentFiles {
    fs: Arc<dyn Vfs>,
    syncs: Arc<SegmentSyncs>,
    /// Durability `fsync`: sync a file written since its last sync before closing it.
    sync: bool,
    capacity: usize,
    clock: Mutex<Clock>,
    /// Guards the end of a closing (a slot leaving `Closing`), so that waiters miss no wake-up.
    closing: Mutex<()>,
    closed: Condvar,
}

#[derive(Debug, Default)]
struct Clock {
    /// Segments with an entry; the hand is the front. Entries whose segment was closed by
    /// other means are dropped when the hand reaches them.
    ring: VecDeque<Arc<SegmentFile>>,
    /// How many segments are open.
    open: usize,
}

impl SegmentFiles {
    /// A cache keeping at most `capacity` (at least 1) files open, apart from those held.
    pub fn new(fs: Arc<dyn Vfs>, syncs: Arc<SegmentSyncs>, sync: bool, capacity: usize) -> SegmentFiles {
        SegmentFiles {
            fs,
            syncs,
            sync,
            capacity: capacity.max(1),
            clock: Mutex::default(),
            closing: Mutex::new(()),
            closed: Condvar::new(),
        }
    }

    /// How many files the cache keeps open, apart from those held.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many files are open now, held ones included.
    #[cfg(test)]
    fn open_count(&self) -> usize {
        self.clock().open
    }

    fn clock(&self) -> MutexGuard<'_, Clock> {
        self.clock.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The open file of an existing segment.
    pub fn get(&self, segment: &Arc<SegmentFile>) -> io::Result<Arc<OpenSegment>> {
        self.open(segment, OpenMode::Existing)
    }

    /// The open file of `segment`, only if the cache has it open: never waits for the disk.
    pub fn get_if_open(&self, segment: &SegmentFile) -> Option<Arc<OpenSegment>> {
        match &*segment.slot() {
            Slot::Open(open) => {
                segment.referenced.store(true, Ordering::Relaxed);
                Some(open.clone())
            }
            Slot::Closed | Slot::Closing => None,
        }
    }

    /// The open file of `segment`, opening it with `mode` on a miss (which may close other
    /// files, syncing those written since their last sync first). Waits while it is closing.
    pub fn open(&self, segment: &Arc<SegmentFile>, mode: OpenMode) -> io::Result<Arc<OpenSegment>> {
        loop {
            if let Some(open) = self.get_if_open(segment) {
                return Ok(open);
            }
            self.wait_until_closed(segment);
            let file = self.open_file(&segment.path, mode)?;
            let open = Arc::new(OpenSegment { key: segment.key, file, unsynced: AtomicBool::new(false) });
            let victims = {
                let mut clock = self.clock();
                {
                    let mut slot = segment.slot();
                    if !matches!(*slot, Slot::Closed) {
                        // Another thread opened it meanwhile (and maybe closes it already):
                        // ours closes unused, and the lookup starts over.
                        continue;
                    }
                    *slot = Slot::Open(open.clone());
                }
                segment.referenced.store(true, Ordering::Relaxed);
                clock.open += 1;
                if !segment.in_ring.swap(true, Ordering::Relaxed) {
                    clock.ring.push_back(segment.clone());
                }
                // Once full, down to a sixteenth below: the files to sync before closing are
                // synced together, which costs a disk little more than one of them.
                match clock.open > self.capacity {
                    true => self.sweep(&mut clock, self.capacity - self.capacity / 16),
                    false => Vec::new(),
                }
            };
            self.close_all(victims);
            return Ok(open);
        }
    }

    fn wait_until_closed(&self, segment: &SegmentFile) {
        let mut closing = self.closing.lock().unwrap_or_else(PoisonError::into_inner);
        while matches!(*segment.slot(), Slot::Closing) {
            closing = self.closed.wait(closing).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Opens a file, closing cached ones and trying again if the process is out of
    /// descriptors (sockets and other files share the limit with the cache).
    fn open_file(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn VfsFile>> {
        match self.fs.open(path, mode) {
            Err(e) if Exhausted::of(&e) == Some(Exhausted::Descriptors) => {
                let victims = {
                    let mut clock = self.clock();
                    let keep = clock.open.saturating_sub(clock.open / 8 + 1);
                    self.sweep(&mut clock, keep)
                };
                if victims.is_empty() {
                    return Err(e);
                }
                self.close_all(victims);
                self.fs.open(path, mode)
            }
            opened => opened,
        }
    }

    /// Moves the hand until at most `keep` files are open, taking the files to close: each
    /// unused since the hand last passed and held by nobody (not pinned). Gives up after two
    /// turns (everything in use). Compacts the ring when it holds many closed entries.
    fn sweep(&self, clock: &mut Clock, keep: usize) -> Vec<Victim> {
        let mut victims = Vec::new();
        let mut steps = 2 * clock.ring.len();
        while clock.open > keep && steps > 0 {
            steps -= 1;
            let Some(segment) = clock.ring.pop_front() else { break };
            let mut slot = segment.slot();
            let Slot::Open(open) = &*slot else {
                segment.in_ring.store(false, Ordering::Relaxed);
                continue;
            };
            // Clones are made under the slot's lock: a count of one means nobody holds it.
            if segment.referenced.swap(false, Ordering::Relaxed) || Arc::strong_count(open) > 1 {
                drop(slot);
                clock.ring.push_back(segment);
                continue;
            }
            let open = open.clone();
            *slot = Slot::Closing;
            drop(slot);
            segment.in_ring.store(false, Ordering::Relaxed);
            clock.open -= 1;
            victims.push((segment, open));
        }
        if clock.ring.len() > 2 * clock.open + 64 {
            clock.ring.retain(|segment| {
                let live = matches!(*segment.slot(), Slot::Open(_));
                segment.in_ring.store(live, Ordering::Relaxed);
                live
            });
        }
        victims
    }

    /// Closes `segment` if it is open, syncing it first if it was written since its last sync.
    pub fn close(&self, segment: &Arc<SegmentFile>) {
        let victim = {
            let mut clock = self.clock();
            let mut slot = segment.slot();
            match std::mem::take(&mut *slot) {
                Slot::Open(open) => {
                    *slot = Slot::Closing;
                    drop(slot);
                    clock.open -= 1;
                    Some((segment.clone(), open))
                }
                other => {
                    *slot = other;
                    None
                }
            }
        };
        self.close_all(victim.into_iter().collect());
    }

    /// Closes the open files of the stream's segments without syncing them: the stream is
    /// deleted. (One closing already syncs a file that is gone, which is harmless.)
    pub fn forget_stream(&self, stream_id: u64) {
        let mut closed = Vec::new();
        let mut clock = self.clock();
        let mut open = clock.open;
        clock.ring.retain(|segment| {
            if segment.key.stream_id != stream_id {
                return true;
            }
            let mut slot = segment.slot();
            if matches!(*slot, Slot::Open(_)) {
                closed.push(std::mem::take(&mut *slot));
                open -= 1;
            }
            segment.in_ring.store(false, Ordering::Relaxed);
            false
        });
        clock.open = open;
        drop(clock);
        drop(closed);
    }

    /// Syncs `segment` through [`SegmentSyncs`]. A segment that no longer exists (its stream
    /// was deleted) has nothing to sync.
    pub fn sync(&self, segment: &Arc<SegmentFile>) -> io::Result<()> {
        match self.get(segment) {
            Ok(file) => self.syncs.sync(segment.key, &*file),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Syncs the victims that need it, many at once, then marks them closed (their
    /// descriptors close once their last holder is done) and wakes whoever waits to open one.
    fn close_all(&self, victims: Vec<Victim>) {
        if victims.is_empty() {
            return;
        }
        let unsynced: Vec<&OpenSegment> = match self.sync {
            true => victims.iter().map(|(_, open)| &**open).filter(|open| open.unsynced()).collect(),
            false => Vec::new(),
        };
        // A failure is recorded, and its shard stopped, by `SegmentSyncs`; the journal keeps
        // the records.
        let sync_each = |files: &[&OpenSegment]| {
            for file in files {
                let _ = self.syncs.sync(file.key, *file);
            }
        };
        match unsynced.len() {
            0 => {}
            1 => sync_each(&unsynced),
            n => std::thread::scope(|scope| {
                for files in unsynced.chunks(n.div_ceil(CLOSING_THREADS)) {
                    scope.spawn(move || sync_each(files));
                }
            }),
        }
        let _closing = self.closing.lock().unwrap_or_else(PoisonError::into_inner);
        for (segment, _) in &victims {
            *segment.slot() = Slot::Closed;
        }
        self.closed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SimFs;
    use std::time::Duration;

    fn segment(stream_id: u64, i: u32) -> Arc<SegmentFile> {
        SegmentFile::new(
            ShardKey { stream_id, shard_index: i },
            PathBuf::from(format!("/{stream_id}-{i}.log")),
        )
    }

    fn cache(fs: &SimFs, capacity: usize) -> SegmentFiles {
        SegmentFiles::new(Arc::new(fs.clone()), Arc::default(), true, capacity)
    }

    fn contents(file: &dyn VfsFile) -> Vec<u8> {
        let mut buf = vec![0; file.len().unwrap() as usize];
        file.read_exact_at(&mut buf, 0).unwrap();
        buf
    }

    #[test]
    fn keeps_at_most_its_capacity_open_and_reopens_on_a_miss() {
        let fs = SimFs::new();
        let files = cache(&fs, 3);
        let segments: Vec<_> = (0..10).map(|i| segment(1, i)).collect();
        for (i, s) in segments.iter().enumerate() {
            files
                .open(s, OpenMode::Create)
                .unwrap()
                .write_all_at(format!("segment {i}").as_bytes(), 0)
                .unwrap();
            assert!(files.open_count() <= 3);
        }
        assert!(files.get_if_open(&segments[0]).is_none(), "the oldest was closed");
        for (i, s) in segments.iter().enumerate().rev() {
            assert_eq!(contents(&*files.get(s).unwrap()), format!("segment {i}").as_bytes());
            assert!(files.open_count() <= 3);
        }
    }

    #[test]
    fn a_file_written_since_its_last_sync_is_synced_before_it_closes() {
        let fs = SimFs::new();
        let files = cache(&fs, 1);
        let (a, b, c) = (segment(1, 0), segment(1, 1), segment(1, 2));
        files.open(&a, OpenMode::Create).unwrap().write_all_at(b"a", 0).unwrap();
        let clean = files.open(&b, OpenMode::Create).unwrap();
        clean.write_all_at(b"b", 0).unwrap();
        clean.sync_data().unwrap();
        drop(clean);
        fs.sync_dir(Path::new("/")).unwrap();
        let syncs = fs.sync_count();
        files.open(&c, OpenMode::Create).unwrap();
        assert_eq!(fs.sync_count(), syncs, "a synced file closes without another sync");
        let after = fs.power_cut();
        for (path, expected) in [("/1-0.log", b"a"), ("/1-1.log", b"b")] {
            let file = after.open(Path::new(path), OpenMode::Existing).unwrap();
            assert_eq!(contents(&*file), expected, "{path}");
        }
    }

    /// A held file is pinned: however many others are opened, it is neither closed nor
    /// synced, so what is written to it is made durable by its holder's sync alone.
    #[test]
    fn a_held_file_is_neither_closed_nor_synced() {
        let fs = SimFs::new();
        let files = cache(&fs, 2);
        let held = segment(1, 0);
        let file = files.open(&held, OpenMode::Create).unwrap();
        fs.sync_dir(Path::new("/")).unwrap();
        file.write_all_at(b"in flight", 0).unwrap();
        for i in 1..20 {
            files.open(&segment(1, i), OpenMode::Create).unwrap();
        }
        let again = files.get_if_open(&held).expect("held files are not closed");
        assert!(Arc::ptr_eq(&file, &again));
        let disk = fs.kill_process().power_cut();
        assert_eq!(contents(&*disk.open(Path::new("/1-0.log"), OpenMode::Existing).unwrap()), b"");
    }

    #[test]
    fn a_released_file_closes_like_the_others() {
        let fs = SimFs::new();
        let files = cache(&fs, 2);
        let held = segment(1, 0);
        let file = files.open(&held, OpenMode::Create).unwrap();
        for i in 1..20 {
            files.open(&segment(1, i), OpenMode::Create).unwrap();
        }
        drop(file);
        for i in 20..40 {
            files.open(&segment(1, i), OpenMode::Create).unwrap();
        }
        assert!(files.get_if_open(&held).is_none(), "released, it is closed like the others");
        assert!(files.open_count() <= 2);
    }

    /// While a closing file's sync runs, opening it again waits: nothing is written to a file
    /// whose closing sync could make it durable.
    #[test]
    fn a_closing_file_is_opened_again_only_once_its_sync_is_done() {
        let fs = SimFs::new();
        let files = cache(&fs, 1);
        let (a, b) = (segment(1, 0), segment(1, 1));
        files.open(&a, OpenMode::Create).unwrap().write_all_at(b"committed", 0).unwrap();
        fs.sync_dir(Path::new("/")).unwrap();
        fs.set_sync_delay(Duration::from_millis(200));
        std::thread::scope(|scope| {
            // Opening b closes a, syncing it for 200 ms.
            scope.spawn(|| files.open(&b, OpenMode::Create).unwrap());
            while !matches!(*a.slot(), Slot::Closing) {
                std::thread::yield_now();
            }
            let reopened = files.get(&a).unwrap();
            assert_eq!(fs.sync_count(), 1, "the closing sync finished first");
            reopened.write_all_at(b" in flight", 9).unwrap();
        });
        let disk = fs.power_cut();
        assert_eq!(contents(&*disk.open(Path::new("/1-0.log"), OpenMode::Existing).unwrap()), b"committed");
    }

    #[test]
    fn a_deleted_stream_s_files_close_and_are_not_synced() {
        let fs = SimFs::new();
        let files = cache(&fs, 10);
        let (gone, kept) = (segment(1, 0), segment(2, 0));
        files.open(&gone, OpenMode::Create).unwrap().write_all_at(b"x", 0).unwrap();
        files.open(&kept, OpenMode::Create).unwrap();
        let syncs = fs.sync_count();
        files.forget_stream(1);
        assert_eq!(fs.sync_count(), syncs);
        assert!(files.get_if_open(&gone).is_none());
        assert!(files.get_if_open(&kept).is_some());
        assert_eq!(files.open_count(), 1);
        fs.remove_file(gone.path.as_path()).unwrap();
        assert!(files.sync(&gone).is_ok(), "a segment that is gone has nothing to sync");
    }

    /// Threads writing and reading more segments than may be open: every write is read back
    /// through whatever descriptor is open, the bound holds once they are done, and a power cut
    /// keeps every file that was synced or closed.
    #[test]
    fn concurrent_use_keeps_every_write() {
        let fs = SimFs::new();
        let files = cache(&fs, 4);
        let segments: Vec<_> = (0..16).map(|i| segment(1, i)).collect();
        for s in &segments {
            files.open(s, OpenMode::Create).unwrap();
        }
        fs.sync_dir(Path::new("/")).unwrap();
        std::thread::scope(|scope| {
            for t in 0..4usize {
                let (files, segments) = (&files, &segments);
                scope.spawn(move || {
                    for round in 0..200usize {
                        let i = (t * 7 + round * 5) % segments.len();
                        let file = files.get(&segments[i]).unwrap();
                        let offset = (t * 1000 + round) as u64;
                        file.write_all_at(&[round as u8], offset).unwrap();
                        drop(file);
                        let mut byte = [0];
                        files.get(&segments[i]).unwrap().read_exact_at(&mut byte, offset).unwrap();
                        assert_eq!(byte[0], round as u8);
                    }
                });
            }
        });
        assert!(files.open_count() <= 4);
        for s in &segments {
            files.close(s);
        }
        assert_eq!(files.open_count(), 0);
        let after = fs.power_cut();
        for t in 0..4usize {
            for round in 0..200usize {
                let i = (t * 7 + round * 5) % segments.len();
                let file = after.open(&segments[i].path, OpenMode::Existing).unwrap();
                let mut byte = [0];
                file.read_exact_at(&mut byte, (t * 1000 + round) as u64).unwrap();
                assert_eq!(byte[0], round as u8, "thread {t}, round {round}");
            }
        }
    }
}
