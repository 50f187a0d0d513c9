//! Segment files: their names, reading frames from them, and scanning one whole.
//!
//! A shard's log is a directory of segments `<first-seq-ix, 20 digits>.log`, each holding the
//! consecutive records from its first sequence index on, framed as in [`crate::frame`].

use std::io;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::frame::{self, Decoded, Frame};
use crate::index::SparseIndex;
use crate::vfs::VfsFile;

pub(crate) fn log_path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(format!("{first_seq:020}.log"))
}

pub(crate) fn idx_path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(format!("{first_seq:020}.idx"))
}

/// The first sequence index in a segment's file name, with its extension (`log` or `idx`).
pub(crate) fn parse_name(name: &str) -> Option<(u64, &str)> {
    let (digits, ext) = name.split_once('.')?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((digits.parse().ok()?, ext))
}

/// What [`FrameCursor::next`] found.
#[derive(Debug)]
pub(crate) enum Step {
    Frame(Frame),
    /// The range ends here.
    End,
    /// Not a whole, valid frame at this offset.
    Bad(&'static str),
}

/// Reads the frames of `file[start..end]` in order, a chunk at a time. Frames' payloads are
/// slices of the chunk they were read with.
pub(crate) struct FrameCursor<'a> {
    file: &'a dyn VfsFile,
    /// Offset of the next frame.
    pos: u64,
    end: u64,
    chunk: Bytes,
    /// File offset of `chunk[0]`.
    chunk_at: u64,
    chunk_len: usize,
    /// Read only what is in the page cache; fail with `WouldBlock` otherwise.
    cached_only: bool,
}

impl<'a> FrameCursor<'a> {
    /// `chunk_len` is how much to read at a time (more when a frame is bigger).
    pub fn new(file: &'a dyn VfsFile, start: u64, end: u64, chunk_len: usize) -> Self {
        FrameCursor {
            file,
            pos: start,
            end,
            chunk: Bytes::new(),
            chunk_at: start,
            chunk_len,
            cached_only: false,
        }
    }

    /// From now on, fails with `io::ErrorKind::WouldBlock` rather than wait for the disk.
    pub fn cached_only(&mut self) {
        self.cached_only = true;
    }

    /// The offset of the next frame.
    pub fn offset(&self) -> u64 {
        self.pos
    }

    /// Continues at `offset` (reusing the chunk in memory when it holds that offset).
    pub fn seek(&mut self, offset: u64) {
        self.pos = offset;
    }

    pub fn next(&mut self) -> io::Result<Step> {
        if self.pos >= self.end {
            return Ok(Step::End);
        }
        let mut need = 0;
        loop {
            let rel = self.pos.wrapping_sub(self.chunk_at) as usize;
            if self.pos < self.chunk_at || rel + need > self.chunk.len() {
                self.fill(need)?;
                continue;
            }
            match frame::decode(&self.chunk, rel) {
                Decoded::Frame { frame, len } => {
                    self.pos += len as u64;
                    return Ok(Step::Frame(frame));
                }
                Decoded::Short { need: n }
                    if self.pos + n as u64 <= self.end && n > self.chunk.len() - rel =>
                {
                    need = n;
                }
                Decoded::Short { .. } => return Ok(Step::Bad("frame cut short")),
                Decoded::Invalid(why) => return Ok(Step::Bad(why)),
            }
        }
    }

    /// Reads a new chunk at `pos`, at least `need` bytes unless the range ends first.
    fn fill(&mut self, need: usize) -> io::Result<()> {
        let len = (self.end - self.pos).min(self.chunk_len.max(need) as u64) as usize;
        let mut buf = vec![0; len];
        if self.cached_only {
            if !self.file.read_cached_at(&mut buf, self.pos)? {
                return Err(io::ErrorKind::WouldBlock.into());
            }
        } else {
            self.file.read_exact_at(&mut buf, self.pos)?;
        }
        self.chunk = Bytes::from(buf);
        self.chunk_at = self.pos;
        Ok(())
    }
}

/// The valid prefix of a segment file, as found by [`scan`].
#[derive(Debug)]
pub(crate) struct Scanned {
    /// One past the last valid record's sequence index (`first_seq` if there is none).
    pub end_seq: u64,
    /// Bytes of valid frames.
    pub len: u64,
    pub first_arrival: Option<i64>,
    pub last_arrival: Option<i64>,
    pub index: SparseIndex,
    /// Why the scan stopped before the end of the file, if it did.
    pub stopped: Option<&'static str>,
}

const SCAN_CHUNK: usize = 1 << 20;

/// Reads a whole segment, checking every frame: the valid log is the longest prefix of whole
/// frames with good crcs, consecutive sequence indices from `first_seq`, and non-decreasing
/// arrival times.
pub(crate) fn scan(file: &dyn VfsFile, first_seq: u64) -> io::Result<Scanned> {
    let file_len = file.len()?;
    let mut cursor = FrameCursor::new(file, 0, file_len, SCAN_CHUNK);
    let mut s = Scanned {
        end_seq: first_seq,
        len: 0,
        first_arrival: None,
        last_arrival: None,
        index: SparseIndex::default(),
        stopped: None,
    };
    loop {
        let offset = cursor.offset();
        let record = match cursor.next()? {
            Step::Frame(record) => record,
            Step::End => break,
            Step::Bad(why) => {
                s.stopped = Some(why);
                break;
            }
        };
        if record.seq_ix != s.end_seq {
            s.stopped = Some("sequence index out of order");
            break;
        }
        if s.last_arrival.is_some_and(|last| record.arrival_ms < last) {
            s.stopped = Some("arrival time going backwards");
            break;
        }
        s.index.note(record.seq_ix, record.arrival_ms, offset);
        s.first_arrival.get_or_insert(record.arrival_ms);
        s.last_arrival = Some(record.arrival_ms);
        s.end_seq += 1;
        s.len = cursor.offset();
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::{OpenMode, Vfs};
    use crate::SimFs;

    #[test]
    fn names() {
        assert_eq!(log_path(Path::new("/d"), 42), Path::new("/d/00000000000000000042.log"));
        assert_eq!(parse_name("00000000000000000042.log"), Some((42, "log")));
        assert_eq!(parse_name("00000000000000000042.idx.tmp"), Some((42, "idx.tmp")));
        assert_eq!(parse_name("0000000000000000042.log"), None);
        assert_eq!(parse_name("x0000000000000000042.log"), None);
    }

    #[test]
    fn scan_stops_at_the_first_bad_frame() {
        let fs = SimFs::new();
        let file = fs.open(Path::new("/s.log"), OpenMode::Create).unwrap();
        let mut buf = Vec::new();
        for i in 0..100u64 {
            frame::encode(&mut buf, 10 + i, 1000 + i as i64, "k", &vec![7; 3000], None);
        }
        let good = buf.len() as u64;
        frame::encode(&mut buf, 110, 2000, "k", b"torn", None);
        buf.truncate(buf.len() - 2);
        file.write_all_at(&buf, 0).unwrap();

        let s = scan(&*file, 10).unwrap();
        assert_eq!((s.end_seq, s.len, s.first_arrival, s.last_arrival), (110, good, Some(1000), Some(1099)));
        assert_eq!(s.stopped, Some("frame cut short"));
        // A small chunk forces frames to straddle chunk boundaries.
        let mut cursor = FrameCursor::new(&*file, 0, good, 100);
        let mut n = 0;
        while let Step::Frame(r) = cursor.next().unwrap() {
            assert_eq!((r.seq_ix, r.size()), (10 + n, 3001));
            n += 1;
        }
        assert_eq!(n, 100);
    }
}
