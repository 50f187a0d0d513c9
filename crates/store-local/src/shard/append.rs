//! Appending: writing a group commit's frames to the active segment, making them visible once
//! the group is durable, and replaying journal entries at open. The committer
//! ([`crate::commit`]) decides when; this module only knows the shard's own files.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use kinesin_engine::storage::{Appended, NewRecord, StoreError};

use super::{corrupt, Active, End, Sealed, Shard};
use crate::frame::{self, Decoded};
use crate::index::{self, SparseIndex, Summary};
use crate::segment::{idx_path, log_path};
use crate::segment_files::{OpenSegment, SegmentFile};
use crate::vfs::{OpenMode, VfsFile};

/// Frames a shard wrote for one group commit: in its active segment, not yet visible.
pub(crate) struct Written {
    /// `(seq_ix, offset)` of each frame.
    frames: Vec<(u64, u64)>,
    /// Where the frames start and end.
    start: End,
    end: End,
    encrypts: bool,
    /// One per request, in order.
    appended: Vec<Appended>,
    /// The segment written to, for the checkpoint that syncs it once the journal no longer
    /// covers it.
    pub segment: Arc<SegmentFile>,
    /// The segment written to, held open (pinned: the cache of open files neither syncs nor
    /// closes it) until the group is published or failed and cut off; the sync that makes the
    /// group durable, if it is a segment sync, syncs it.
    pub file: Arc<OpenSegment>,
}

/// A shard's replay, from one journal entry to the next: where the frames it rewrote end. The
/// next entry usually starts there, and then needs no search for its place.
#[derive(Default)]
pub(crate) struct Replay {
    resume: Option<(u64, u64)>,
}

/// What a replay needs of a journaled frame.
struct JournaledFrame {
    seq_ix: u64,
    arrival_ms: i64,
    len: usize,
}

fn decode_journaled(frames: &Bytes, at: usize) -> Result<JournaledFrame, StoreError> {
    match frame::decode(frames, at) {
        Decoded::Frame { frame, len } => {
            Ok(JournaledFrame { seq_ix: frame.seq_ix, arrival_ms: frame.arrival_ms, len })
        }
        _ => Err(corrupt("a journal entry holds a damaged frame")),
    }
}

impl Shard {
    /// Encodes the records of `requests` as frames at the end of `buf` and writes them to the
    /// active segment at the written end, without a sync; nothing becomes visible. First cuts
    /// off what a failed write left, and seals the active segment if it is full and the shard
    /// is quiet (the committer syncs what is in flight first when [`Self::must_settle`]).
    pub(crate) fn write<'a>(
        &self,
        requests: impl Iterator<Item = &'a [NewRecord]> + Clone,
        buf: &mut Vec<u8>,
    ) -> Result<Written, StoreError> {
        let (dirty_tail, roll) = {
            let state = self.read_state()?;
            (state.dirty_tail, state.quiet() && state.roll_due(self.env.options.segment_bytes))
        };
        if dirty_tail {
            self.cut_dirty_tail()?;
        }
        if roll {
            self.roll()?;
        }
        let (segment, start) = {
            let state = self.read_state()?;
            (state.active.segment.clone(), state.written)
        };
        let file = self.env.files.get(&segment)?;
        let arrival = self.env.clock.now_ms().max(start.arrival.unwrap_or(i64::MIN));

        // Encrypted frames of a batch share its nonce epoch (see `keys`).
        let encrypts = requests.clone().flatten().any(|r| r.encrypted);
        let epoch = if encrypts { Some(self.env.keys.nonce_epoch()?) } else { None };
        let seal = epoch.map(|epoch| frame::Seal { cipher: &self.cipher, epoch });

        let at = buf.len();
        let mut frames = Vec::new();
        let mut appended = Vec::new();
        let mut seq = start.seq;
        for records in requests {
            appended.push(Appended { first_seq_ix: seq, arrival_ms: arrival });
            for record in records {
                frames.push((seq, start.len + (buf.len() - at) as u64));
                let seal = seal.filter(|_| record.encrypted);
                frame::encode(buf, seq, arrival, &record.partition_key, &record.data, seal);
                seq += 1;
            }
        }
        let end = End { len: start.len + (buf.len() - at) as u64, seq, arrival: Some(arrival) };
        let written = Written { frames, start, end, encrypts, appended, segment, file };
        if let Err(e) = written.file.write_all_at(&buf[at..], start.len) {
            self.abandon(&written);
            self.cut_failed_frames(&written.file);
            return Err(e.into());
        }
        self.write_state().written = end;
        Ok(written)
    }

    /// Cuts off the failed groups' frames from `file`, the active segment (held by a failed
    /// group), at once and without a sync, at the written end: what is in flight before them
    /// stays. A failed sync may have left them in the page cache and nowhere else, and a restart
    /// must not take them for records; and a file the cache closes, syncing it, must hold no
    /// failed frames. The durable cut still comes before the shard's next write, which tries
    /// again if this fails.
    pub(crate) fn cut_failed_frames(&self, file: &OpenSegment) {
        let Ok(len) = self.read_state().map(|state| state.written.len) else { return };
        if let Err(e) = file.set_len(len) {
            tracing::warn!(shard = ?self.key, error = %e, "could not cut failed groups off their segment");
        }
    }

    /// Cuts off what a failed write left past the written end, durably: otherwise a power cut
    /// could bring back the failed frames in place of the ones written there next.
    fn cut_dirty_tail(&self) -> Result<(), StoreError> {
        let (segment, len, encrypted) = {
            let state = self.read_state()?;
            (state.active.segment.clone(), state.written.len, state.dirty_tail_encrypted)
        };
        let file = self.env.files.get(&segment)?;
        file.set_len(len)?;
        if self.env.sync() {
            self.env.segment_syncs.sync(self.key, &*file)?;
        }
        if encrypted {
            // The indices are encrypted again under a new epoch: every write cut off here was
            // made before this point, under an older one.
            self.env.keys.note_failure();
        }
        let mut state = self.write_state();
        state.dirty_tail = false;
        state.dirty_tail_encrypted = false;
        Ok(())
    }

    /// Whether the next write must wait until what is in flight is committed: the active
    /// segment is due to roll, and only a quiet shard rolls.
    pub(crate) fn must_settle(&self) -> bool {
        self.read_state().is_ok_and(|state| !state.quiet() && state.roll_due(self.env.options.segment_bytes))
    }

    /// What appending no records answers: the tip, unchanged.
    pub(crate) fn append_nothing(&self) -> Result<Appended, StoreError> {
        let tip = self.tip()?;
        let arrival_ms = tip.last_arrival_ms.unwrap_or_else(|| self.env.clock.now_ms());
        Ok(Appended { first_seq_ix: tip.next_seq_ix, arrival_ms })
    }

    /// The group `written` belongs to is durable: its records become visible. Returns what
    /// each of its requests is answered. Groups are published in the order they were written.
    pub(crate) fn publish(&self, written: Written) -> Vec<Appended> {
        let mut state = self.write_state();
        let active = &mut state.active;
        let arrival = written.end.arrival.expect("a written group has an arrival time");
        for (seq, offset) in written.frames {
            active.index.note(seq, arrival, offset);
        }
        active.len = written.end.len;
        active.end_seq = written.end.seq;
        active.first_arrival.get_or_insert(arrival);
        state.last_arrival = Some(arrival);
        written.appended
    }

    /// The group `written` belongs to failed: its frames, and any written after them, are cut
    /// off before the next write. (The committer fails those later groups too.)
    pub(crate) fn abandon(&self, written: &Written) {
        let mut state = self.write_state();
        if written.start.seq < state.written.seq {
            state.written = written.start;
        }
        state.dirty_tail = true;
        state.dirty_tail_encrypted |= written.encrypts;
    }

    /// A group that touched this shard panicked half-way, with nothing else in flight here:
    /// whatever it wrote is cut off before the next write.
    pub(crate) fn abandon_after_panic(&self) {
        let mut state = self.write_state();
        state.written = state.committed();
        state.dirty_tail = true;
        state.dirty_tail_encrypted = true;
    }

    /// Brings the active segment in line with a journal entry: frames it holds are written
    /// again in place, the ones at its end appended. Rewriting is what makes a replay redo
    /// the last run's writes even if a failed sync left them in the page cache only (see
    /// `segment_sync`); an entry's frames are the very bytes written to the segment. Frames of
    /// sealed segments are skipped: a segment is synced before it is sealed. `replay` carries
    /// what one entry leaves for the shard's next one.
    pub(crate) fn replay(&self, frames: &Bytes, replay: &mut Replay) -> Result<(), StoreError> {
        let mut state = self.write_state();
        let file = self.env.files.get(&state.active.segment)?;
        let mut at = 0;
        while at < frames.len() {
            let frame = decode_journaled(frames, at)?;
            let active = &mut state.active;
            if frame.seq_ix < active.first_seq {
                at += frame.len;
                continue;
            }
            if frame.seq_ix < active.end_seq {
                // The frames the segment holds, rewritten in one write.
                let offset = match replay.resume {
                    Some((seq, offset)) if seq == frame.seq_ix => offset,
                    _ => self.active_offset(active, &*file, frame.seq_ix)?,
                };
                // Rewriting assumes the segment holds the very same frames there: at least
                // the first must be in place, or the replay stops rather than overwrite.
                if !self.active_holds(active, &*file, offset, frame.seq_ix, frame.len)? {
                    return Err(corrupt(format!(
                        "shard {:?}: the journal's record {} differs from the segment's",
                        self.key, frame.seq_ix
                    )));
                }
                let (mut end, mut next_seq) = (at + frame.len, frame.seq_ix + 1);
                while end < frames.len() {
                    let next = decode_journaled(frames, end)?;
                    if next.seq_ix >= active.end_seq {
                        break;
                    }
                    (end, next_seq) = (end + next.len, next.seq_ix + 1);
                }
                file.write_all_at(&frames[at..end], offset)?;
                replay.resume = Some((next_seq, offset + (end - at) as u64));
                at = end;
            } else if frame.seq_ix == active.end_seq {
                file.write_all_at(&frames[at..at + frame.len], active.len)?;
                active.index.note(frame.seq_ix, frame.arrival_ms, active.len);
                active.len += frame.len as u64;
                active.end_seq += 1;
                active.first_arrival.get_or_insert(frame.arrival_ms);
                state.last_arrival = Some(frame.arrival_ms);
                state.written = state.committed();
                at += frame.len;
            } else {
                return Err(corrupt(format!(
                    "shard {:?}: the journal continues at sequence index {} but the segment ends at {}",
                    self.key, frame.seq_ix, active.end_seq
                )));
            }
        }
        Ok(())
    }

    /// Makes the active segment durable as recovered (at a start after a crash, after the
    /// replay): its length, then its contents. The length is set even though the file has it
    /// already: a cut of failed groups whose sync failed in the last run (which stopped the
    /// shard) may have reached the page cache and not the disk, and the disk then still holds
    /// frames past the end — failed frames, which an append after this start would be
    /// acknowledged over, and which a power cut would bring back in its place.
    pub(crate) fn sync_active(&self) -> Result<(), StoreError> {
        let (segment, len) = {
            let state = self.read_state()?;
            (state.active.segment.clone(), state.active.len)
        };
        let file = self.env.files.get(&segment)?;
        file.set_len(len)?;
        Ok(file.sync_data()?)
    }

    /// The active segment's extent: its first and next sequence index and its length, as
    /// committed (what a clean stop leaves, and what the next open finds if nothing wrote
    /// in between).
    pub(crate) fn active_extent(&self) -> Result<[u64; 3], StoreError> {
        let state = self.read_state()?;
        Ok([state.active.first_seq, state.active.end_seq, state.active.len])
    }

    /// Seals the active segment (syncing it and writing its `.idx`) and starts a new, empty
    /// one. The sync is what lets the journal forget a sealed segment's records. Only for a
    /// quiet shard: the seal covers the committed records.
    fn roll(&self) -> Result<(), StoreError> {
        let fs = &*self.env.fs;
        let sync = self.env.sync();
        let (summary, index, sealing) = {
            let state = self.read_state()?;
            let active = &state.active;
            let summary = Summary {
                first_seq: active.first_seq,
                end_seq: active.end_seq,
                first_arrival: active.first_arrival.expect("a segment with records"),
                last_arrival: state.last_arrival.expect("a segment with records"),
                log_len: active.len,
            };
            (summary, active.index.clone(), active.segment.clone())
        };
        if sync {
            self.env.files.sync(&sealing)?;
        }
        index::write(fs, &idx_path(&self.dir, summary.first_seq), &summary, &index, sync)?;
        let segment = SegmentFile::new(self.key, log_path(&self.dir, summary.end_seq));
        self.env.files.open(&segment, OpenMode::Truncate)?;
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
            segment,
        };
        state.written = state.committed();
        drop(state);
        // Sealed segments are opened only to be read, each time.
        self.env.files.close(&sealing);
        Ok(())
    }
}
