//! Appending: writing a group commit's frames to the active segment, making them visible once
//! the group is durable, and replaying journal entries at open. The committer
//! ([`crate::commit`]) decides when; this module only knows the shard's own files.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use kinesin_engine::storage::{Appended, NewRecord, StoreError};

use super::{corrupt, Active, Sealed, Shard};
use crate::frame::{self, Decoded};
use crate::index::{self, SparseIndex, Summary};
use crate::segment::{idx_path, log_path};
use crate::vfs::{OpenMode, VfsFile};

/// Frames a shard wrote for one group commit: in its active segment, not yet visible.
pub(crate) struct Written {
    /// `(seq_ix, offset)` of each frame.
    frames: Vec<(u64, u64)>,
    end_len: u64,
    end_seq: u64,
    arrival: i64,
    encrypts: bool,
    /// One per request, in order.
    appended: Vec<Appended>,
    /// The segment written to, for the checkpoint that syncs it.
    pub file: Arc<dyn VfsFile>,
}

impl Shard {
    /// Encodes the records of `requests` as frames at the end of `buf` and writes them to the
    /// active segment, after the committed end, without a sync; nothing becomes visible. Seals
    /// the active segment first if it is full, and first cuts off what a failed group left.
    pub(crate) fn write<'a>(
        &self,
        requests: impl Iterator<Item = &'a [NewRecord]> + Clone,
        buf: &mut Vec<u8>,
    ) -> Result<Written, StoreError> {
        let (dirty_tail, needs_roll) = {
            let state = self.read_state()?;
            let active = &state.active;
            let has_records = active.end_seq > active.first_seq;
            (state.dirty_tail, has_records && active.len >= self.env.options.segment_bytes)
        };
        if dirty_tail {
            // The cut must be durable before these offsets are written again: otherwise a
            // power cut could bring back the failed group's frames in place of the new ones.
            let (file, len) = {
                let state = self.read_state()?;
                (state.active.file.clone(), state.active.len)
            };
            file.set_len(len)?;
            if self.env.sync() {
                file.sync_data()?;
            }
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

        // Encrypted frames of a batch share its nonce epoch (see `keys`).
        let encrypts = requests.clone().flatten().any(|r| r.encrypted);
        let epoch = if encrypts { Some(self.env.keys.nonce_epoch()?) } else { None };
        let seal = epoch.map(|epoch| frame::Seal { cipher: &self.cipher, epoch });

        let start = buf.len();
        let mut frames = Vec::new();
        let mut appended = Vec::new();
        let mut seq = first_seq;
        for records in requests {
            appended.push(Appended { first_seq_ix: seq, arrival_ms: arrival });
            for record in records {
                frames.push((seq, offset + (buf.len() - start) as u64));
                let seal = seal.filter(|_| record.encrypted);
                frame::encode(buf, seq, arrival, &record.partition_key, &record.data, seal);
                seq += 1;
            }
        }
        let written = Written {
            frames,
            end_len: offset + (buf.len() - start) as u64,
            end_seq: seq,
            arrival,
            encrypts,
            appended,
            file: file.clone(),
        };
        if let Err(e) = file.write_all_at(&buf[start..], offset) {
            self.abandon(&written);
            return Err(e.into());
        }
        Ok(written)
    }

    /// What appending no records answers: the tip, unchanged.
    pub(crate) fn append_nothing(&self) -> Result<Appended, StoreError> {
        let tip = self.tip()?;
        let arrival_ms = tip.last_arrival_ms.unwrap_or_else(|| self.env.clock.now_ms());
        Ok(Appended { first_seq_ix: tip.next_seq_ix, arrival_ms })
    }

    /// The group `written` belongs to is durable: its records become visible. Returns what
    /// each of its requests is answered.
    pub(crate) fn publish(&self, written: Written) -> Vec<Appended> {
        let mut state = self.write_state();
        let active = &mut state.active;
        for (seq, offset) in written.frames {
            active.index.note(seq, written.arrival, offset);
        }
        active.len = written.end_len;
        active.end_seq = written.end_seq;
        active.first_arrival.get_or_insert(written.arrival);
        state.last_arrival = Some(written.arrival);
        written.appended
    }

    /// The group `written` belongs to failed: its frames are cut off before the next write.
    pub(crate) fn abandon(&self, written: &Written) {
        if written.encrypts {
            // These sequence indices will be encrypted again: under a new nonce epoch.
            self.env.keys.note_failure();
        }
        self.write_state().dirty_tail = true;
    }

    /// A group that touched this shard panicked half-way: treat it as failed.
    pub(crate) fn abandon_after_panic(&self) {
        self.env.keys.note_failure();
        self.write_state().dirty_tail = true;
    }

    /// Appends the frames of a journal entry that the active segment lacks (those at or past
    /// its end; earlier ones are already there). Returns whether anything was appended.
    pub(crate) fn replay(&self, frames: &Bytes) -> Result<bool, StoreError> {
        let mut state = self.write_state();
        let mut at = 0;
        let mut appended = false;
        while at < frames.len() {
            let Decoded::Frame { frame, len } = frame::decode(frames, at) else {
                return Err(corrupt("a journal entry holds a damaged frame"));
            };
            let active = &mut state.active;
            if frame.seq_ix > active.end_seq {
                return Err(corrupt(format!(
                    "shard {:?}: the journal continues at sequence index {} but the segment ends at {}",
                    self.key, frame.seq_ix, active.end_seq
                )));
            }
            if frame.seq_ix == active.end_seq {
                active.file.write_all_at(&frames[at..at + len], active.len)?;
                active.index.note(frame.seq_ix, frame.arrival_ms, active.len);
                active.len += len as u64;
                active.end_seq += 1;
                active.first_arrival.get_or_insert(frame.arrival_ms);
                state.last_arrival = Some(frame.arrival_ms);
                appended = true;
            }
            at += len;
        }
        Ok(appended)
    }

    /// Syncs the active segment (after a replay).
    pub(crate) fn sync_active(&self) -> Result<(), StoreError> {
        let file = self.read_state()?.active.file.clone();
        Ok(file.sync_data()?)
    }

    /// Seals the active segment (syncing it and writing its `.idx`) and starts a new, empty
    /// one. The sync is what lets the journal forget a sealed segment's records.
    fn roll(&self) -> Result<(), StoreError> {
        let fs = &*self.env.fs;
        let sync = self.env.sync();
        let (summary, index, file) = {
            let state = self.read_state()?;
            let active = &state.active;
            let summary = Summary {
                first_seq: active.first_seq,
                end_seq: active.end_seq,
                first_arrival: active.first_arrival.expect("a segment with records"),
                last_arrival: state.last_arrival.expect("a segment with records"),
                log_len: active.len,
            };
            (summary, active.index.clone(), active.file.clone())
        };
        if sync {
            file.sync_data()?;
        }
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
}
