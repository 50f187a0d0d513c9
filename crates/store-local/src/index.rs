//! The sparse index of a segment, and its `.idx` file.
//!
//! An entry `(seq_ix, arrival_ms, offset)` is taken for the first frame of a segment and then
//! for the first frame at least [`INDEX_INTERVAL`] bytes after the previous entry, so a lookup
//! scans at most about that many bytes. Arrival times never decrease within a shard, so the
//! entries are sorted by sequence and by time alike.
//!
//! The active segment's entries live in memory (bounded by the segment size); a sealed
//! segment's are written once, when it is sealed, to `<first-seq>.idx`:
//!
//! ```text
//! magic "KNSNIDX1" | first_seq u64 | end_seq u64 | first_arrival i64 | last_arrival i64
//!   | log_len u64 | entries (seq_ix u64, arrival_ms i64, offset u64)* | crc32c u32
//! ```
//!
//! little-endian, the crc over everything before it. The file is written to `.idx.tmp`,
//! synced and renamed, so an `.idx` is whole or absent.

use std::io;
use std::path::Path;

use crate::vfs::{OpenMode, Vfs};

/// Bytes of log between two index entries.
pub(crate) const INDEX_INTERVAL: u64 = 64 << 10;

const MAGIC: &[u8; 8] = b"KNSNIDX1";
const HEADER_LEN: usize = 48;
const ENTRY_LEN: usize = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IndexEntry {
    pub seq_ix: u64,
    pub arrival_ms: i64,
    pub offset: u64,
}

/// What a sealed segment holds: records `first_seq..end_seq` in `log_len` bytes. Sealed
/// segments are never empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Summary {
    pub first_seq: u64,
    pub end_seq: u64,
    pub first_arrival: i64,
    pub last_arrival: i64,
    pub log_len: u64,
}

/// A segment's sparse index, built as frames are appended or scanned.
#[derive(Debug, Clone, Default)]
pub(crate) struct SparseIndex {
    entries: Vec<IndexEntry>,
}

impl SparseIndex {
    /// Notes the frame at `offset`; keeps it if it is due for an entry.
    pub fn note(&mut self, seq_ix: u64, arrival_ms: i64, offset: u64) {
        let due = self.entries.last().is_none_or(|last| offset >= last.offset + INDEX_INTERVAL);
        if due {
            self.entries.push(IndexEntry { seq_ix, arrival_ms, offset });
        }
    }

    /// The last entry at or before `seq_ix`.
    pub fn for_seq(&self, seq_ix: u64) -> Option<IndexEntry> {
        let n = self.entries.partition_point(|e| e.seq_ix <= seq_ix);
        n.checked_sub(1).map(|i| self.entries[i])
    }

    /// The last entry that arrived before `arrival_ms`: the first frame at or after
    /// `arrival_ms` is after it (or it is the segment's first frame, if there is none).
    pub fn before_time(&self, arrival_ms: i64) -> Option<IndexEntry> {
        let n = self.entries.partition_point(|e| e.arrival_ms < arrival_ms);
        n.checked_sub(1).map(|i| self.entries[i])
    }
}

fn encode(summary: &Summary, index: &SparseIndex) -> Vec<u8> {
    let mut buf = Vec::with_capacity(HEADER_LEN + index.entries.len() * ENTRY_LEN + 4);
    buf.extend_from_slice(MAGIC);
    for v in [summary.first_seq, summary.end_seq] {
        buf.extend_from_slice(&v.to_le_bytes());
    }
    for v in [summary.first_arrival, summary.last_arrival] {
        buf.extend_from_slice(&v.to_le_bytes());
    }
    buf.extend_from_slice(&summary.log_len.to_le_bytes());
    for e in &index.entries {
        buf.extend_from_slice(&e.seq_ix.to_le_bytes());
        buf.extend_from_slice(&e.arrival_ms.to_le_bytes());
        buf.extend_from_slice(&e.offset.to_le_bytes());
    }
    let crc = crc32c::crc32c(&buf);
    buf.extend_from_slice(&crc.to_le_bytes());
    buf
}

fn decode(buf: &[u8]) -> Option<(Summary, SparseIndex)> {
    let body_len = buf.len().checked_sub(4)?;
    let (body, crc) = buf.split_at(body_len);
    if body_len < HEADER_LEN
        || !(body_len - HEADER_LEN).is_multiple_of(ENTRY_LEN)
        || &body[..8] != MAGIC
        || crc32c::crc32c(body) != u32::from_le_bytes(crc.try_into().ok()?)
    {
        return None;
    }
    let u = |at: usize| u64::from_le_bytes(body[at..at + 8].try_into().expect("8 bytes"));
    let summary = Summary {
        first_seq: u(8),
        end_seq: u(16),
        first_arrival: u(24) as i64,
        last_arrival: u(32) as i64,
        log_len: u(40),
    };
    let entries = (HEADER_LEN..body_len)
        .step_by(ENTRY_LEN)
        .map(|at| IndexEntry { seq_ix: u(at), arrival_ms: u(at + 8) as i64, offset: u(at + 16) })
        .collect();
    Some((summary, SparseIndex { entries }))
}

/// Writes a sealed segment's index to `path` atomically (temp file, sync, rename). The caller
/// syncs the directory. `sync = false` skips the file sync (durability `os`).
pub(crate) fn write(
    fs: &dyn Vfs,
    path: &Path,
    summary: &Summary,
    index: &SparseIndex,
    sync: bool,
) -> io::Result<()> {
    let tmp = path.with_extension("idx.tmp");
    let file = fs.open(&tmp, OpenMode::Truncate)?;
    file.write_all_at(&encode(summary, index), 0)?;
    if sync {
        file.sync_data()?;
    }
    fs.rename(&tmp, path)
}

/// Reads the index at `path`: `None` if it is missing, damaged, or not for `first_seq..end_seq`.
pub(crate) fn read(
    fs: &dyn Vfs,
    path: &Path,
    first_seq: u64,
    end_seq: u64,
) -> io::Result<Option<(Summary, SparseIndex)>> {
    let file = match fs.open(path, OpenMode::Existing) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut buf = vec![0; file.len()? as usize];
    file.read_exact_at(&mut buf, 0)?;
    Ok(decode(&buf)
        .filter(|(s, _)| s.first_seq == first_seq && s.end_seq == end_seq && s.first_seq < s.end_seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_sparse_and_found() {
        let mut index = SparseIndex::default();
        for i in 0..1000u64 {
            index.note(i, 100 + (i / 10) as i64, i * 1000);
        }
        assert_eq!(index.entries.len(), 16); // one per 65,536 bytes, 1,000 bytes per frame
        assert_eq!(index.for_seq(0).unwrap().seq_ix, 0);
        let e = index.for_seq(500).unwrap();
        assert!(e.seq_ix <= 500 && 500 - e.seq_ix < 66);
        let e = index.before_time(130).unwrap();
        assert!(e.arrival_ms < 130 && e.seq_ix + 66 > 300);
        assert!(index.before_time(100).is_none());

        let summary = Summary {
            first_seq: 0,
            end_seq: 1000,
            first_arrival: 100,
            last_arrival: 199,
            log_len: 1_000_000,
        };
        let buf = encode(&summary, &index);
        let (s, i) = decode(&buf).unwrap();
        assert_eq!((s, i.entries), (summary, index.entries.clone()));
        let mut bad = buf.clone();
        bad[60] ^= 1;
        assert!(decode(&bad).is_none());
        assert!(decode(&buf[..buf.len() - 1]).is_none());
    }
}
