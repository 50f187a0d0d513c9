//! Appending with group commit.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, OnceLock};

use kinesin_engine::storage::{Appended, NewRecord, StoreError};
use tokio::sync::oneshot;

use super::{lock, Active, Sealed, Shard};
use crate::frame;
use crate::index::{self, SparseIndex, Summary};
use crate::segment::{idx_path, log_path};
use crate::vfs::OpenMode;

/// The most bytes of frames one group commit writes.
const MAX_BATCH_BYTES: u64 = 8 << 20;

/// Appends waiting for the flusher.
#[derive(Default)]
pub(super) struct Queue {
    waiting: VecDeque<Request>,
    /// A flusher is running; it will take everything in `waiting`.
    flushing: bool,
}

struct Request {
    records: Vec<NewRecord>,
    frame_bytes: u64,
    reply: oneshot::Sender<Result<Appended, StoreError>>,
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

impl Shard {
    /// Appends `records` and resolves once they are durable.
    ///
    /// Group commit: the request joins the queue; if no flusher is running, this call starts
    /// one on a blocking thread. The flusher repeatedly takes everything waiting (up to
    /// [`MAX_BATCH_BYTES`]) and writes it with one write and one fdatasync, so every request
    /// that arrived while a sync ran shares the next one. It stops when the queue is empty.
    /// Must be called within a tokio runtime.
    pub async fn append(self: Arc<Self>, records: Vec<NewRecord>) -> Result<Appended, StoreError> {
        if records.iter().any(|r| !frame::fits(&r.partition_key, &r.data)) {
            return Err(StoreError::Io(io::Error::new(io::ErrorKind::InvalidInput, "record too large")));
        }
        if records.is_empty() {
            let tip = self.tip()?;
            let arrival_ms = tip.last_arrival_ms.unwrap_or_else(|| self.env.clock.now_ms());
            return Ok(Appended { first_seq_ix: tip.next_seq_ix, arrival_ms });
        }
        let frame_bytes =
            records.iter().map(|r| frame::frame_len(&r.partition_key, &r.data, r.encrypted) as u64).sum();
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
        /// If this flusher panics: a later append may start a new one, which first cuts off
        /// whatever this one may have written past the committed end.
        struct Reset<'a>(&'a Shard);
        impl Drop for Reset<'_> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    lock(&self.0.queue).flushing = false;
                    self.0.write_state().dirty_tail = true;
                    self.0.env.keys.note_failure();
                }
            }
        }
        let _reset = Reset(self);
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

        // Encrypted frames of a batch share its nonce epoch (see `keys`).
        let encrypts = batch.iter().any(|r| r.records.iter().any(|r| r.encrypted));
        let epoch = if encrypts { Some(self.env.keys.nonce_epoch()?) } else { None };
        let seal = epoch.map(|epoch| frame::Seal { cipher: &self.cipher, epoch });

        let total: u64 = batch.iter().map(|r| r.frame_bytes).sum();
        let mut buf = Vec::with_capacity(total as usize);
        let mut frames = Vec::new();
        let mut appended = Vec::with_capacity(batch.len());
        let mut seq = first_seq;
        for request in batch {
            appended.push(Appended { first_seq_ix: seq, arrival_ms: arrival });
            for record in &request.records {
                frames.push((seq, offset + buf.len() as u64));
                let seal = seal.filter(|_| record.encrypted);
                frame::encode(&mut buf, seq, arrival, &record.partition_key, &record.data, seal);
                seq += 1;
            }
        }

        let written =
            file.write_all_at(&buf, offset).and_then(
                |()| {
                    if self.env.sync() {
                        file.sync_data()
                    } else {
                        Ok(())
                    }
                },
            );
        if let Err(e) = written {
            if encrypts {
                // These sequence indices will be encrypted again: under a new nonce epoch.
                self.env.keys.note_failure();
            }
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
}
