//! The write path (docs/cluster.md, "The commit"): appends from every request of this node
//! collect in one batch, closed `flush_ms` after its first append or at a size bound; the
//! batch becomes one object in the bucket (a frame per shard), uploaded, then committed in
//! one PostgreSQL transaction that orders it. Only then do the appends resolve.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kinesin_engine::storage::{Appended, NewRecord, ShardKey, StoreError};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::time::Instant;

use super::wakeups::{payload, CHANNEL, NOTIFY_ENTRIES};
use super::Shared;
use crate::frame::{encode_object, record_len, Frame, Span};

/// Batches uploading and committing at the same time; more wait for one to finish.
const IN_FLIGHT: usize = 4;

/// Work for the batcher.
pub(crate) enum Job {
    Append {
        shard: ShardKey,
        records: Vec<NewRecord>,
        reply: oneshot::Sender<Result<Appended, StoreError>>,
    },
    /// Shards were created on this node: their rows go in with the next commit, so that other
    /// nodes see them (`Shared::insert_pending`).
    Create,
}

/// Collects jobs into batches and commits each, until every handle on the log is gone.
pub(crate) async fn run(
    shared: Arc<Shared>,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    flush: Duration,
    max_bytes: usize,
) {
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(first) = jobs.recv().await {
        let mut batch = Batch::default();
        batch.add(first);
        let deadline = Instant::now() + flush;
        while batch.bytes < max_bytes {
            match tokio::time::timeout_at(deadline, jobs.recv()).await {
                Ok(Some(job)) => batch.add(job),
                // The flush time came, or every handle is gone: commit what there is.
                Ok(None) | Err(_) => break,
            }
        }
        let Ok(permit) = in_flight.clone().acquire_owned().await else { return };
        let shared = shared.clone();
        tokio::spawn(async move {
            batch.commit(&shared).await;
            drop(permit);
        });
    }
}

/// One append waiting in a batch: where its records went in its shard's frame.
struct Waiting {
    shard: ShardKey,
    /// Its first record's index in the frame.
    offset: u64,
    reply: oneshot::Sender<Result<Appended, StoreError>>,
}

#[derive(Default)]
struct Batch {
    /// The records per shard, in the order the appends came.
    frames: BTreeMap<ShardKey, Vec<NewRecord>>,
    waiting: Vec<Waiting>,
    bytes: usize,
}

/// What the commit decided for one shard's frame.
enum Outcome {
    Committed { first_seq_ix: u64, arrival_ms: i64 },
    Refused(fn(ShardKey) -> StoreError),
}

impl Batch {
    fn add(&mut self, job: Job) {
        match job {
            Job::Append { shard, records, reply } => {
                self.bytes += records.iter().map(record_len).sum::<usize>();
                let frame = self.frames.entry(shard).or_default();
                self.waiting.push(Waiting { shard, offset: frame.len() as u64, reply });
                frame.extend(records);
            }
            Job::Create => {}
        }
    }

    /// Uploads, commits and answers every append of the batch.
    async fn commit(self, shared: &Shared) {
        let Batch { frames, waiting, .. } = self;
        let arrival_ms = shared.clock.now_ms();
        let frames: Vec<Frame> =
            frames.into_iter().map(|(shard, records)| Frame { shard, arrival_ms, records }).collect();
        match upload_and_commit(shared, frames).await {
            Ok(outcomes) => {
                for waiting in waiting {
                    let answer = match outcomes.get(&waiting.shard) {
                        Some(Outcome::Committed { first_seq_ix, arrival_ms }) => Ok(Appended {
                            first_seq_ix: first_seq_ix + waiting.offset,
                            arrival_ms: *arrival_ms,
                        }),
                        Some(Outcome::Refused(error)) => Err(error(waiting.shard)),
                        None => Err(StoreError::NoSuchShard(waiting.shard)),
                    };
                    // The request may have gone meanwhile.
                    let _ = waiting.reply.send(answer);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "a batch of appends failed; none was acknowledged");
                let message = e.to_string();
                for waiting in waiting {
                    let _ = waiting.reply.send(Err(StoreError::Io(std::io::Error::other(message.clone()))));
                }
            }
        }
    }
}

/// Uploads `frames` as one object and commits it; on success, what each frame's shard got.
/// An error acknowledges nothing: the index is unchanged, and the object (if uploaded) is an
/// orphan that housekeeping removes later.
async fn upload_and_commit(
    shared: &Shared,
    frames: Vec<Frame>,
) -> Result<BTreeMap<ShardKey, Outcome>, StoreError> {
    let mut object = None;
    if frames.iter().any(|f| !f.records.is_empty()) {
        let (bytes, spans) = encode_object(&frames)?;
        let key = shared.bucket.new_key();
        shared.bucket.put(&key, bytes).await?;
        object = Some((Arc::<str>::from(key.as_ref()), spans));
    }

    let mut client = shared.metadata.client().await?;
    let tx = client.transaction().await.map_err(|e| shared.failed(e))?;
    // Shards created on this node first, the ones written to among them.
    let inserted = shared.insert_pending(&tx).await?;
    let mut outcomes = BTreeMap::new();
    if frames.is_empty() {
        tx.commit().await.map_err(|e| shared.failed(e))?;
        shared.inserted(&inserted);
        return Ok(outcomes);
    }

    // Lock the shard rows in key order (as every commit does, so two never deadlock).
    let keys: Vec<ShardKey> = frames.iter().map(|f| f.shard).collect();
    let (streams, shards) = columns(&keys);
    let rows = tx
        .query(
            "SELECT stream_id, shard_index, next_seq_ix, last_arrival_ms, sealed_at FROM kinesin_shards
             WHERE (stream_id, shard_index) IN (SELECT * FROM unnest($1::bigint[], $2::bigint[]))
             ORDER BY stream_id, shard_index FOR UPDATE",
            &[&streams, &shards],
        )
        .await
        .map_err(|e| shared.failed(e))?;
    let rows: BTreeMap<ShardKey, ShardRow> = rows
        .iter()
        .map(|row| {
            let key =
                ShardKey { stream_id: row.get::<_, i64>(0) as u64, shard_index: row.get::<_, i64>(1) as u32 };
            let sealed = row.get::<_, Option<i64>>(4).is_some();
            (key, ShardRow { next_seq_ix: row.get(2), last_arrival_ms: row.get(3), sealed })
        })
        .collect();
    let spans = object.as_ref().map_or(&[][..], |(_, spans)| &spans[..]);
    let (index, tips) = assign(&frames, &rows, spans, &mut outcomes);

    if let (Some((key, _)), false) = (&object, tips.is_empty()) {
        tx.execute("INSERT INTO kinesin_objects (key) VALUES ($1)", &[&key.as_ref()])
            .await
            .map_err(|e| shared.failed(e))?;
        index.insert(shared, &tx, key).await?;
        for chunk in tips.chunks(NOTIFY_ENTRIES) {
            tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload(chunk)])
                .await
                .map_err(|e| shared.failed(e))?;
        }
    }
    tx.commit().await.map_err(|e| shared.failed(e))?;
    shared.inserted(&inserted);

    // Committed: keep the frames for reads, and wake this node's waiters.
    if let Some((key, spans)) = &object {
        for (frame, span) in frames.into_iter().zip(spans) {
            if matches!(outcomes.get(&frame.shard), Some(Outcome::Committed { .. }))
                && !frame.records.is_empty()
            {
                shared.cache.insert(key.clone(), span.offset, span.len as usize, Arc::new(frame));
            }
        }
    }
    for (shard, next) in tips {
        shared.wakeups.committed(shard, next);
    }
    Ok(outcomes)
}

/// A locked shard row, as a commit finds it.
struct ShardRow {
    next_seq_ix: i64,
    last_arrival_ms: Option<i64>,
    sealed: bool,
}

/// Decides each frame's fate against its locked shard row: refused (no row, or sealed), or
/// its sequence numbers from the row's counter and an arrival time no earlier than the
/// shard's newest. Returns the index rows to insert (which also move the counters) and the
/// shards' new tips.
fn assign(
    frames: &[Frame],
    rows: &BTreeMap<ShardKey, ShardRow>,
    spans: &[Span],
    outcomes: &mut BTreeMap<ShardKey, Outcome>,
) -> (IndexRows, Vec<(ShardKey, u64)>) {
    let mut index = IndexRows::default();
    let mut tips = Vec::new();
    for (i, frame) in frames.iter().enumerate() {
        let Some(row) = rows.get(&frame.shard) else {
            outcomes.insert(frame.shard, Outcome::Refused(StoreError::NoSuchShard));
            continue;
        };
        if row.sealed {
            outcomes.insert(frame.shard, Outcome::Refused(StoreError::Sealed));
            continue;
        }
        let first_seq_ix = row.next_seq_ix as u64;
        let arrival_ms = row.last_arrival_ms.map_or(frame.arrival_ms, |last| last.max(frame.arrival_ms));
        outcomes.insert(frame.shard, Outcome::Committed { first_seq_ix, arrival_ms });
        let count = frame.records.len() as u64;
        // Frames with records were uploaded, so they have spans.
        if let (true, Some(&span)) = (count > 0, spans.get(i)) {
            index.push(frame.shard, first_seq_ix, count, arrival_ms, span);
            tips.push((frame.shard, first_seq_ix + count));
        }
    }
    (index, tips)
}

/// Shard keys as the two bigint columns PostgreSQL stores them in.
pub(crate) fn columns(keys: &[ShardKey]) -> (Vec<i64>, Vec<i64>) {
    keys.iter().map(|key| (key.stream_id as i64, i64::from(key.shard_index))).unzip()
}

/// The new index rows of a commit, and the shard rows' new counters, as columns.
#[derive(Default)]
struct IndexRows {
    streams: Vec<i64>,
    shards: Vec<i64>,
    firsts: Vec<i64>,
    lasts: Vec<i64>,
    arrivals: Vec<i64>,
    offsets: Vec<i64>,
    lens: Vec<i64>,
}

impl IndexRows {
    fn push(&mut self, shard: ShardKey, first_seq_ix: u64, count: u64, arrival_ms: i64, span: Span) {
        self.streams.push(shard.stream_id as i64);
        self.shards.push(i64::from(shard.shard_index));
        self.firsts.push(first_seq_ix as i64);
        self.lasts.push((first_seq_ix + count - 1) as i64);
        self.arrivals.push(arrival_ms);
        self.offsets.push(span.offset as i64);
        self.lens.push(span.len as i64);
    }

    async fn insert(
        &self,
        shared: &Shared,
        tx: &tokio_postgres::Transaction<'_>,
        object: &str,
    ) -> Result<(), StoreError> {
        tx.execute(
            "UPDATE kinesin_shards AS s SET next_seq_ix = u.last + 1, last_arrival_ms = u.arrival
             FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[]) AS u(stream_id, shard_index, last, arrival)
             WHERE s.stream_id = u.stream_id AND s.shard_index = u.shard_index",
            &[&self.streams, &self.shards, &self.lasts, &self.arrivals],
        )
        .await
        .map_err(|e| shared.failed(e))?;
        tx.execute(
            "INSERT INTO kinesin_frames (stream_id, shard_index, first_seq_ix, last_seq_ix,
                 min_arrival_ms, max_arrival_ms, object_key, byte_offset, byte_len)
             SELECT s, i, f, l, a, a, $7, o, n
             FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $8::bigint[])
                 AS u(s, i, f, l, a, o, n)",
            &[&self.streams, &self.shards, &self.firsts, &self.lasts, &self.arrivals, &self.offsets, &object, &self.lens],
        )
        .await
        .map_err(|e| shared.failed(e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn frame(shard_index: u32, records: usize, arrival_ms: i64) -> Frame {
        let record =
            NewRecord { partition_key: "k".into(), data: Bytes::from_static(b"d"), encrypted: false };
        Frame { shard: ShardKey { stream_id: 1, shard_index }, arrival_ms, records: vec![record; records] }
    }

    #[test]
    fn frames_take_their_shards_counters_and_never_an_earlier_arrival() {
        let frames = [frame(0, 2, 100), frame(1, 1, 100), frame(2, 1, 100), frame(3, 0, 100)];
        let spans: Vec<Span> = (0..4).map(|i| Span { offset: 5 + 10 * i, len: 10 }).collect();
        let key = |shard_index| ShardKey { stream_id: 1, shard_index };
        let rows = BTreeMap::from([
            (key(0), ShardRow { next_seq_ix: 7, last_arrival_ms: Some(150), sealed: false }),
            (key(1), ShardRow { next_seq_ix: 3, last_arrival_ms: None, sealed: true }),
            (key(3), ShardRow { next_seq_ix: 4, last_arrival_ms: Some(50), sealed: false }),
        ]);
        let mut outcomes = BTreeMap::new();
        let (index, tips) = assign(&frames, &rows, &spans, &mut outcomes);
        assert!(matches!(outcomes[&key(0)], Outcome::Committed { first_seq_ix: 7, arrival_ms: 150 }));
        assert!(
            matches!(&outcomes[&key(1)], Outcome::Refused(e) if matches!(e(key(1)), StoreError::Sealed(_)))
        );
        assert!(
            matches!(&outcomes[&key(2)], Outcome::Refused(e) if matches!(e(key(2)), StoreError::NoSuchShard(_)))
        );
        assert!(matches!(outcomes[&key(3)], Outcome::Committed { first_seq_ix: 4, arrival_ms: 100 }));
        assert_eq!(tips, [(key(0), 9)], "an empty frame moves nothing");
        assert_eq!(
            (index.firsts, index.lasts, index.arrivals, index.offsets),
            (vec![7], vec![8], vec![150], vec![5])
        );
    }
}
