//! Reading: positions and hints, record reads and time seeks.

use std::io;
use std::sync::Arc;

use kinesin_engine::storage::{Position, ReadBatch, StoreError, StoredRecord};

use super::{corrupt, Active, Shard};
use crate::index::IndexEntry;
use crate::segment::{log_path, FrameCursor, Step};
use crate::segment_files::SegmentFile;
use crate::vfs::{OpenMode, VfsFile};

/// How much a read fetches from a segment file at a time.
const READ_CHUNK: usize = 256 << 10;

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
    /// The active segment and its committed length; `None` for a sealed segment.
    active: Option<(Arc<SegmentFile>, u64)>,
    /// For the active segment: the index entry at or before the wanted record.
    entry: Option<IndexEntry>,
}

enum Located {
    /// Nothing to read at or after the position; continue from this one.
    Tip(Position),
    /// Record `seq` is in `target`.
    At { seq: u64, hint: u64, target: Target },
}

fn is_not_found(e: &StoreError) -> bool {
    matches!(e, StoreError::Io(e) if e.kind() == io::ErrorKind::NotFound)
}

impl Shard {
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
        let (seq, hint_value) =
            if pos.seq_ix < first_retained { (first_retained, 0) } else { (pos.seq_ix, pos.hint) };
        if seq >= active.end_seq {
            let next = if seq == active.end_seq { hint(active.first_seq, active.len) } else { hint_value };
            return Ok(Located::Tip(Position { seq_ix: seq, hint: next }));
        }
        let target = if seq >= active.first_seq {
            Target {
                first_seq: active.first_seq,
                end_seq: active.end_seq,
                active: Some((active.segment.clone(), active.len)),
                entry: active.index.for_seq(seq),
            }
        } else {
            let i = state.sealed.partition_point(|s| s.first_seq <= seq) - 1;
            let sealed = &state.sealed[i];
            Target { first_seq: sealed.first_seq, end_seq: sealed.end_seq, active: None, entry: None }
        };
        Ok(Located::At { seq, hint: hint_value, target })
    }

    /// [`read`](Self::read), if it can be done without waiting for the disk: at the tip, or
    /// in the active segment's pages that are in the page cache (freshly written records
    /// are). `None` if it would have to wait. Lets an async caller serve consumers at the head
    /// of the stream without a blocking thread.
    pub fn read_cached(
        &self,
        from: Position,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<Option<ReadBatch>, StoreError> {
        match self.read_once(from, max_records, max_bytes, true) {
            Err(StoreError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            read => read.map(Some),
        }
    }

    /// Reads committed records from `from` on; see `ShardLog::read`.
    pub fn read(
        &self,
        from: Position,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<ReadBatch, StoreError> {
        self.retry_after_trim(|| self.read_once(from, max_records, max_bytes, false))
    }

    /// With `cached_only`, fails with `WouldBlock` instead of reading a sealed segment or
    /// waiting for the disk.
    fn read_once(
        &self,
        from: Position,
        max_records: usize,
        max_bytes: usize,
        cached_only: bool,
    ) -> Result<ReadBatch, StoreError> {
        let mut records: Vec<StoredRecord> = Vec::new();
        let mut bytes = 0;
        let mut pos = from;
        while records.len() < max_records {
            let (seq, hint_value, target) = match self.locate(pos)? {
                Located::Tip(next) => {
                    pos = next;
                    break;
                }
                // Records up to `seq` were trimmed while this read ran: end the batch before
                // the gap; the next read starts after it.
                Located::At { seq, .. } if seq != pos.seq_ix && !records.is_empty() => break,
                Located::At { target, .. } if cached_only && target.active.is_none() => {
                    return Err(StoreError::Io(io::ErrorKind::WouldBlock.into()));
                }
                Located::At { seq, hint, target } => (seq, hint, target),
            };
            let (file, end) = self.segment_file(&target, cached_only)?;
            let mut cursor = self.cursor_at(&*file, end, &target, seq, hint_value, cached_only)?;
            let mut expected = seq;
            let stopped = loop {
                let offset = cursor.offset();
                let frame = match cursor.next()? {
                    Step::Frame(frame) => frame,
                    Step::End => break false,
                    Step::Bad(why) => return Err(self.damaged(&target, offset, why)),
                };
                if frame.seq_ix != expected {
                    return Err(self.damaged(&target, offset, "sequence index out of order"));
                }
                let size = frame.size();
                if !records.is_empty() && bytes + size > max_bytes {
                    pos = Position { seq_ix: expected, hint: hint(target.first_seq, offset) };
                    break true;
                }
                bytes += size;
                match frame.open(&self.cipher) {
                    Ok(record) => records.push(record),
                    Err(why) => return Err(self.damaged(&target, offset, &why)),
                }
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

    /// The target's file and how far its committed frames go. With `cached_only`, fails with
    /// `WouldBlock` rather than open the active segment's file.
    fn segment_file(
        &self,
        target: &Target,
        cached_only: bool,
    ) -> Result<(Arc<dyn VfsFile>, u64), StoreError> {
        if let Some((segment, len)) = &target.active {
            let file: Arc<dyn VfsFile> = match cached_only {
                true => {
                    self.env.files.get_if_open(segment).ok_or(io::Error::from(io::ErrorKind::WouldBlock))?
                }
                false => self.env.files.get(segment)?,
            };
            return Ok((file, *len));
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
        cached_only: bool,
    ) -> Result<FrameCursor<'f>, StoreError> {
        let mut cursor = FrameCursor::new(file, 0, end, READ_CHUNK);
        if cached_only {
            cursor.cached_only();
        }
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

    /// The offset of record `seq` in the active segment (open as `file`), which holds it.
    pub(super) fn active_offset(
        &self,
        active: &Active,
        file: &dyn VfsFile,
        seq: u64,
    ) -> Result<u64, StoreError> {
        let target = Target {
            first_seq: active.first_seq,
            end_seq: active.end_seq,
            active: Some((active.segment.clone(), active.len)),
            entry: active.index.for_seq(seq),
        };
        Ok(self.cursor_at(file, active.len, &target, seq, 0, false)?.offset())
    }

    /// Whether the active segment (open as `file`) holds at `offset` a frame of record `seq`
    /// of `len` bytes.
    pub(super) fn active_holds(
        &self,
        active: &Active,
        file: &dyn VfsFile,
        offset: u64,
        seq: u64,
        len: usize,
    ) -> Result<bool, StoreError> {
        let mut cursor = FrameCursor::new(file, offset, active.len, len);
        let frame_seq = match cursor.next()? {
            Step::Frame(frame) => frame.seq_ix,
            Step::Bad(_) | Step::End => return Ok(false),
        };
        Ok(frame_seq == seq && cursor.offset() == offset + len as u64)
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
                active: Some((active.segment.clone(), active.len)),
                entry: active.index.before_time(arrival_ms),
            };
            (target, Position { seq_ix: active.end_seq, hint: hint(active.first_seq, active.len) })
        };
        Ok(self.scan_for_time(&target, target.entry, arrival_ms)?.unwrap_or(tip))
    }

    /// Scans `target` from `entry` for the first record at or after `arrival_ms`.
    fn scan_for_time(
        &self,
        target: &Target,
        entry: Option<IndexEntry>,
        arrival_ms: i64,
    ) -> Result<Option<Position>, StoreError> {
        let (file, end) = self.segment_file(target, false)?;
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
}
