//! The write-ahead journal: one file that the appends of every shard go through, so that one
//! fdatasync per group commit makes every shard's new records durable — instead of one
//! fdatasync per shard written to. Segment files are then written without a sync; they are
//! synced when a segment is sealed and at each checkpoint, after which the journal they were
//! covered by is deleted. Only durability `fsync` journals (`os` never syncs anything).
//!
//! ```text
//! DATA/journal/<generation, 20 digits>.jnl
//!
//! entry
//! offset  size  field
//! 0       4     len          u32 LE: bytes of frames that follow the header
//! 4       8     stream_id    u64 LE
//! 12      4     shard_index  u32 LE
//! 16      4     crc32c       u32 LE: CRC-32C of bytes 0..16
//! 20      len   frames       exactly the frames written to the shard's segment (their own crcs
//!                            cover them)
//! ```
//!
//! Invariants:
//! * A journal's entries are in commit order; per shard, their frames have consecutive
//!   sequence indices.
//! * Everything before the journal's durable length is durable; entries after it are written
//!   and being synced. What a failed write or sync may have left is cut off, and the cut
//!   synced, as soon as nothing is in flight and in any case before anything else is written
//!   (segments included): a failed group can never be replayed behind a later one.
//! * A journal file is deleted only after every segment it covers has been synced.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use kinesin_engine::storage::ShardKey;

use crate::frame::{self, Decoded};
use crate::segment_files::SegmentFile;
use crate::vfs::{OpenMode, Vfs, VfsFile};

pub(crate) const HEADER_LEN: usize = 20;

pub(crate) fn dir(root: &Path) -> PathBuf {
    root.join("journal")
}

fn path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("{generation:020}.jnl"))
}

/// The clean-stop mark, next to the journals (see [`mark_clean_stop`]).
const CLEAN_STOP: &str = "clean-stop";

/// What a clean stop left: the generation of the one, empty, journal, and a digest of every
/// shard's active segment (see `LocalSegmentLog`). Written as two decimal numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CleanStop {
    pub generation: u64,
    pub segments: u32,
}

/// Marks a clean stop with every shard's active segment on the disk: the next open need not
/// sync them, if it finds the journals and segments as `stop` describes them.
pub(crate) fn mark_clean_stop(fs: &dyn Vfs, dir: &Path, stop: CleanStop) -> io::Result<()> {
    let file = fs.open(&dir.join(CLEAN_STOP), OpenMode::Truncate)?;
    file.write_all_at(format!("{} {}", stop.generation, stop.segments).as_bytes(), 0)?;
    file.sync_data()?;
    fs.sync_dir(dir)
}

/// Removes the clean-stop mark, durably (with `sync`), so that a crash from now on is not
/// taken for a clean stop; returns what it said, if there was a readable one.
pub(crate) fn take_clean_stop(fs: &dyn Vfs, dir: &Path, sync: bool) -> io::Result<Option<CleanStop>> {
    let path = dir.join(CLEAN_STOP);
    let file = match fs.open(&path, OpenMode::Existing) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        opened => opened?,
    };
    let mut text = vec![0; file.len()? as usize];
    file.read_exact_at(&mut text, 0)?;
    fs.remove_file(&path)?;
    if sync {
        fs.sync_dir(dir)?;
    }
    let parsed = std::str::from_utf8(&text).ok().and_then(|text| {
        let (generation, segments) = text.split_once(' ')?;
        Some(CleanStop { generation: generation.parse().ok()?, segments: segments.parse().ok()? })
    });
    Ok(parsed)
}

/// Removes a journal file whose entries are in synced segments.
pub(crate) fn remove(fs: &dyn Vfs, dir: &Path, generation: u64) -> io::Result<()> {
    fs.remove_file(&path(dir, generation))
}

fn parse_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".jnl")?;
    (digits.len() == 20).then(|| digits.parse().ok()).flatten()
}

/// Starts an entry for `key` at the end of `buf`; the caller appends the frames, then calls
/// [`finish_entry`] with the returned start.
pub(crate) fn begin_entry(buf: &mut Vec<u8>, key: ShardKey) -> usize {
    let start = buf.len();
    buf.extend_from_slice(&[0; 4]);
    buf.extend_from_slice(&key.stream_id.to_le_bytes());
    buf.extend_from_slice(&key.shard_index.to_le_bytes());
    buf.extend_from_slice(&[0; 4]);
    start
}

/// Fills in the length and crc of the entry that starts at `start` and ends at `buf`'s end.
pub(crate) fn finish_entry(buf: &mut [u8], start: usize) {
    let frames_len = buf.len() - start - HEADER_LEN;
    let len = u32::try_from(frames_len).expect("a group's frames for one shard fit in u32");
    buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
    let crc = crc32c::crc32c(&buf[start..start + 16]);
    buf[start + 16..start + HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
}

/// One entry read back: the frames a group commit wrote for one shard.
#[derive(Debug)]
pub(crate) struct Entry {
    pub key: ShardKey,
    pub frames: Bytes,
}

/// Whether `frames` is a sequence of whole, valid frames and nothing else.
fn whole_frames(frames: &Bytes) -> bool {
    let mut at = 0;
    while at < frames.len() {
        match frame::decode(frames, at) {
            Decoded::Frame { len, .. } => at += len,
            _ => return false,
        }
    }
    true
}

/// The entries of a journal file, up to the first one that is torn or damaged (never
/// acknowledged: everything after it was never synced).
fn entries(contents: Bytes) -> (Vec<Entry>, Option<usize>) {
    let mut entries = Vec::new();
    let mut at = 0;
    while at < contents.len() {
        let Some(header) = contents.get(at..at + HEADER_LEN) else {
            return (entries, Some(at));
        };
        let crc = u32::from_le_bytes(header[16..20].try_into().expect("4 bytes"));
        if crc32c::crc32c(&header[..16]) != crc {
            return (entries, Some(at));
        }
        let len = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes")) as usize;
        let key = ShardKey {
            stream_id: u64::from_le_bytes(header[4..12].try_into().expect("8 bytes")),
            shard_index: u32::from_le_bytes(header[12..16].try_into().expect("4 bytes")),
        };
        let end = at + HEADER_LEN + len;
        if end > contents.len() {
            return (entries, Some(at));
        }
        let frames = contents.slice(at + HEADER_LEN..end);
        if !whole_frames(&frames) {
            return (entries, Some(at));
        }
        entries.push(Entry { key, frames });
        at = end;
    }
    (entries, None)
}

/// The journal files left in `dir` by earlier runs, oldest first: their generations and
/// entries. Torn tails are logged and skipped.
pub(crate) fn read_all(fs: &dyn Vfs, dir: &Path) -> io::Result<Vec<(u64, Vec<Entry>)>> {
    let mut generations: Vec<u64> = fs
        .list_dir(dir)?
        .into_iter()
        .filter(|entry| !entry.is_dir)
        .filter_map(|entry| parse_name(&entry.name))
        .collect();
    generations.sort_unstable();
    let mut journals = Vec::new();
    for generation in generations {
        let file = match fs.open(&path(dir, generation), OpenMode::Existing) {
            // A checkpoint of the last run finished meanwhile: its segments are synced.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            opened => opened?,
        };
        let mut contents = vec![0; file.len()? as usize];
        file.read_exact_at(&mut contents, 0)?;
        let (found, torn_at) = entries(contents.into());
        if let Some(offset) = torn_at {
            tracing::warn!(
                generation,
                offset,
                "the journal ends in a torn entry (never acknowledged); ignoring it"
            );
        }
        journals.push((generation, found));
    }
    Ok(journals)
}

/// The journal being written: owned by the committer thread, synced by its syncer.
pub(crate) struct Journal {
    fs: Arc<dyn Vfs>,
    dir: PathBuf,
    generation: u64,
    file: Arc<dyn VfsFile>,
    /// Everything before it is synced.
    durable_len: u64,
    /// Where the next entries go: entries between `durable_len` and here are being synced.
    written_len: u64,
    /// Rotate once `written_len` reaches this.
    rotate_at: u64,
    /// A failed write may have left bytes after `written_len`: cut them off before writing again.
    dirty_tail: bool,
}

/// A journal file that was replaced by a newer one: it can go once `segments` are synced.
pub(crate) struct Retired {
    fs: Arc<dyn Vfs>,
    path: PathBuf,
    /// Each shard's segment that holds its entries.
    pub segments: Vec<Arc<SegmentFile>>,
}

impl Retired {
    pub fn remove(self) -> io::Result<()> {
        self.fs.remove_file(&self.path)
    }
}

impl Journal {
    /// Starts a new, empty journal file `generation` in `dir`, which exists.
    pub fn start(fs: Arc<dyn Vfs>, dir: PathBuf, generation: u64, rotate_at: u64) -> io::Result<Journal> {
        let file = fs.open(&path(&dir, generation), OpenMode::Truncate)?;
        fs.sync_dir(&dir)?;
        Ok(Journal {
            fs,
            dir,
            generation,
            file,
            durable_len: 0,
            written_len: 0,
            rotate_at,
            dirty_tail: false,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.written_len == 0
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn is_full(&self) -> bool {
        self.written_len >= self.rotate_at
    }

    /// The file, for the syncer: a sync of it makes everything written so far durable.
    pub fn file(&self) -> Arc<dyn VfsFile> {
        self.file.clone()
    }

    /// Appends `entries`, without a sync; returns the written length after them, which
    /// [`Journal::synced`] takes once a sync that started after this write succeeded. After a
    /// failed write, the next call first cuts off (durably) whatever the failed one may have
    /// written, and fails if it cannot.
    pub fn write(&mut self, entries: &[u8]) -> io::Result<u64> {
        self.cut_dirty_tail()?;
        if let Err(e) = self.file.write_all_at(entries, self.written_len) {
            self.dirty_tail = true;
            return Err(e);
        }
        self.written_len += entries.len() as u64;
        Ok(self.written_len)
    }

    /// Cuts off, durably, whatever failed writes or syncs left after the written length.
    pub fn cut_dirty_tail(&mut self) -> io::Result<()> {
        if self.dirty_tail {
            self.file.set_len(self.written_len)?;
            self.file.sync_data()?;
            self.dirty_tail = false;
        }
        Ok(())
    }

    /// Everything up to `end` (a length [`Journal::write`] returned) is durable.
    pub fn synced(&mut self, end: u64) {
        self.durable_len = self.durable_len.max(end);
    }

    /// A sync failed: the entries after the durable length are given up, and cut off before the
    /// next write. Only with no sync in flight.
    pub fn forget_unsynced(&mut self) {
        self.written_len = self.durable_len;
        self.dirty_tail = true;
    }

    /// Starts a new journal file; the old one is returned, to be removed once `segments` (the
    /// files it covers) are synced. Only with nothing in flight: every entry written is durable.
    pub fn rotate(&mut self, segments: Vec<Arc<SegmentFile>>) -> io::Result<Retired> {
        debug_assert_eq!(self.durable_len, self.written_len, "rotating a journal with entries in flight");
        // A replay of the old file must not find a failed group after its last good entry.
        self.cut_dirty_tail()?;
        let generation = self.generation + 1;
        let file = self.fs.open(&path(&self.dir, generation), OpenMode::Truncate)?;
        self.fs.sync_dir(&self.dir)?;
        let old = path(&self.dir, self.generation);
        self.generation = generation;
        self.file = file;
        self.durable_len = 0;
        self.written_len = 0;
        Ok(Retired { fs: self.fs.clone(), path: old, segments })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: ShardKey = ShardKey { stream_id: 7, shard_index: 3 };

    fn entry(buf: &mut Vec<u8>, key: ShardKey, seqs: std::ops::Range<u64>) {
        let start = begin_entry(buf, key);
        for seq in seqs {
            frame::encode(buf, seq, 1_000 + seq as i64, "pk", format!("record {seq}").as_bytes(), None);
        }
        finish_entry(buf, start);
    }

    fn seqs(frames: &Bytes) -> Vec<u64> {
        let mut at = 0;
        let mut seqs = Vec::new();
        while let Decoded::Frame { frame, len } = frame::decode(frames, at) {
            seqs.push(frame.seq_ix);
            at += len;
        }
        seqs
    }

    #[test]
    fn entries_round_trip_and_stop_at_a_torn_one() {
        let other = ShardKey { stream_id: 8, shard_index: 0 };
        let mut buf = Vec::new();
        entry(&mut buf, KEY, 0..2);
        entry(&mut buf, other, 0..1);
        let whole = buf.len();
        entry(&mut buf, KEY, 2..5);

        let (found, torn) = entries(Bytes::from(buf.clone()));
        assert_eq!(torn, None);
        let got: Vec<_> = found.iter().map(|e| (e.key, seqs(&e.frames))).collect();
        assert_eq!(got, [(KEY, vec![0, 1]), (other, vec![0]), (KEY, vec![2, 3, 4])]);

        // Cut inside the last entry's frames, then inside its header; damage its header, then
        // one of its frames.
        for cut in [buf.len() - 1, whole + 10] {
            let (found, torn) = entries(Bytes::copy_from_slice(&buf[..cut]));
            assert_eq!((found.len(), torn), (2, Some(whole)));
        }
        for damage in [whole + 5, buf.len() - 3] {
            let mut damaged = buf.clone();
            damaged[damage] ^= 1;
            let (found, torn) = entries(Bytes::from(damaged));
            assert_eq!((found.len(), torn), (2, Some(whole)));
        }
    }

    #[test]
    fn names() {
        assert_eq!(parse_name("00000000000000000042.jnl"), Some(42));
        assert_eq!(parse_name("42.jnl"), None);
        assert_eq!(parse_name("00000000000000000042.log"), None);
        assert_eq!(path(Path::new("j"), 42), Path::new("j/00000000000000000042.jnl"));
    }
}
