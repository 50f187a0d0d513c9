//! `LocalSegmentLog`: the [`ShardLog`] of the embedded store, one [`Shard`] per directory
//! `DATA/streams/<stream-id>/<shard-index>/`, appends going through the [`Committer`].

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use bytes::Bytes;
use kinesin_engine::storage::{
    Appended, NewRecord, Position, ReadBatch, ShardKey, ShardLog, StoreError, Tails, Tip,
};
use tokio::sync::Semaphore;

use crate::commit::Committer;
use crate::journal::{self, CleanStop, Journal};
use crate::parallel;
use crate::shard::{Env, Replay, Shard};
use crate::vfs::ensure_dir;
use crate::write_health::WriteHealth;

/// Per-shard append-only segment files, group commit through one journal. See
/// `docs/storage.md`.
pub struct LocalSegmentLog {
    env: Arc<Env>,
    committer: Committer,
    journal_dir: PathBuf,
    streams_dir: PathBuf,
    shards: RwLock<HashMap<ShardKey, Arc<Shard>>>,
    /// Creating a shard's files holds it shared, removing a stream's directory exclusively.
    layout: Arc<RwLock<()>>,
    /// Bounds how many shards create their files at once: a PutRecords to thousands of new
    /// shards must not open a descriptor (and sync a directory) for each at the same time. A
    /// call creating files takes all permits, and creates [`parallel::THREADS`] at a time.
    creating: Semaphore,
    write_health: WriteHealth,
    /// Sealed shards and their ends. Kept in memory only: the engine seals closed shards
    /// again at every start (the catalog records them durably).
    sealed: RwLock<HashMap<ShardKey, u64>>,
    /// Readers waiting for new records (`wait_for`).
    tails: Tails,
}

impl std::fmt::Debug for LocalSegmentLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalSegmentLog").field("streams_dir", &self.streams_dir).finish_non_exhaustive()
    }
}

/// Runs blocking file work off the async worker threads.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(StoreError::Io(io::Error::other("the runtime is shutting down"))),
    }
}

impl LocalSegmentLog {
    /// Opens every shard under `root/streams`, recovering each from its last segment and then
    /// from the journal.
    pub(crate) fn open(env: Arc<Env>, root: &Path) -> Result<Self, StoreError> {
        let fs = &*env.fs;
        let streams_dir = root.join("streams");
        ensure_dir(fs, &streams_dir, env.sync())?;
        let mut found = Vec::new();
        for stream in fs.list_dir(&streams_dir)? {
            let Some(stream_id) = stream.name.parse::<u64>().ok().filter(|_| stream.is_dir) else {
                tracing::warn!(name = stream.name, "ignoring an unexpected entry in the streams directory");
                continue;
            };
            let stream_dir = streams_dir.join(&stream.name);
            for shard in fs.list_dir(&stream_dir)? {
                let Some(shard_index) = shard.name.parse::<u32>().ok().filter(|_| shard.is_dir) else {
                    tracing::warn!(
                        name = shard.name,
                        stream_id,
                        "ignoring an unexpected entry in a stream directory"
                    );
                    continue;
                };
                found.push((ShardKey { stream_id, shard_index }, stream_dir.join(&shard.name)));
            }
        }
        let opened = parallel::map(&found, |(key, dir)| Shard::open(env.clone(), *key, dir.clone()))?;
        let shards: HashMap<ShardKey, Arc<Shard>> =
            opened.into_iter().map(|shard| (shard.key(), Arc::new(shard))).collect();
        let journal_dir = journal::dir(root);
        let journal = replay_journal(&env, &journal_dir, &shards)?;
        let committer = Committer::start(journal, env.segment_syncs.clone(), env.files.clone())?;
        let write_health = WriteHealth::new(env.segment_syncs.clone());
        Ok(LocalSegmentLog {
            write_health,
            env,
            committer,
            journal_dir,
            streams_dir,
            shards: RwLock::new(shards),
            layout: Arc::default(),
            sealed: RwLock::default(),
            tails: Tails::default(),
            creating: Semaphore::new(parallel::THREADS),
        })
    }

    /// Whether appends succeed, for a readiness check; the handle outlives the log.
    pub fn write_health(&self) -> WriteHealth {
        self.write_health.clone()
    }

    fn shard(&self, key: ShardKey) -> Result<Arc<Shard>, StoreError> {
        let shards = self.shards.read().unwrap_or_else(PoisonError::into_inner);
        shards.get(&key).cloned().ok_or(StoreError::NoSuchShard(key))
    }

    /// Creates the files of shards never written (their first append), many at once; each
    /// shard's outcome, in order.
    async fn create_files(&self, shards: Vec<Arc<Shard>>) -> Vec<Result<(), StoreError>> {
        let threads = parallel::THREADS as u32;
        let _permits = self.creating.acquire_many(threads).await.expect("the semaphore is never closed");
        let (layout, count) = (self.layout.clone(), shards.len());
        let created = blocking(move || {
            let _layout = layout.read().unwrap_or_else(PoisonError::into_inner);
            parallel::map(&shards, |shard| Ok(shard.create_files()))
        })
        .await;
        created.unwrap_or_else(|e| {
            (0..count).map(|_| Err(StoreError::Io(io::Error::other(e.to_string())))).collect()
        })
    }

    /// The shards of `keys` that take appends, each looked up under one lock for all; the
    /// others' outcomes. The seal is checked when the append starts: the engine seals a shard
    /// only while no append to it is in flight (under its write gate).
    fn appendable(&self, keys: &[ShardKey]) -> Vec<Result<Arc<Shard>, StoreError>> {
        let sealed = self.sealed.read().unwrap_or_else(PoisonError::into_inner);
        let shards = self.shards.read().unwrap_or_else(PoisonError::into_inner);
        keys.iter()
            .map(|key| match (sealed.contains_key(key), shards.get(key)) {
                (true, _) => Err(StoreError::Sealed(*key)),
                (false, Some(shard)) => Ok(shard.clone()),
                (false, None) => Err(StoreError::NoSuchShard(*key)),
            })
            .collect()
    }

    fn stream_dir(&self, stream_id: u64) -> PathBuf {
        self.streams_dir.join(stream_id.to_string())
    }

    fn shard_dir(&self, key: ShardKey) -> PathBuf {
        self.stream_dir(key.stream_id).join(key.shard_index.to_string())
    }
}

/// Writes what the journals left by the last run hold into the shards' segments (again, where
/// a segment seems to hold it already: see `Shard::replay`), makes every shard's active segment
/// durable as recovered unless the last run stopped cleanly, removes the journals, and starts
/// the new journal (with durability `fsync`). Entries of shards that no longer exist (deleted
/// streams) are skipped. Shards are recovered many at once, each from its own entries in order.
fn replay_journal(
    env: &Env,
    dir: &Path,
    shards: &HashMap<ShardKey, Arc<Shard>>,
) -> Result<Option<Journal>, StoreError> {
    let fs = &env.fs;
    ensure_dir(&**fs, dir, env.sync())?;
    let clean_stop = journal::take_clean_stop(&**fs, dir, env.sync())?;
    let journals = journal::read_all(&**fs, dir)?;
    // A clean stop synced every segment the journals covered, and with nothing failed in its
    // run nothing else can be in the page cache only. Its mark counts only if the journals and
    // the active segments are as it left them (an older kinesin may have run on the directory
    // since, ignoring it); then the journal is empty and there is nothing to replay either.
    let stopped_cleanly = match clean_stop {
        Some(stop) => {
            let journal_as_left =
                matches!(&journals[..], [(only, entries)] if *only == stop.generation && entries.is_empty());
            journal_as_left && active_segments_digest(shards)? == stop.segments
        }
        None => false,
    };
    let mut entries: HashMap<ShardKey, Vec<&Bytes>> = HashMap::new();
    for entry in journals.iter().flat_map(|(_, entries)| entries) {
        if shards.contains_key(&entry.key) {
            entries.entry(entry.key).or_default().push(&entry.frames);
        }
    }
    if !entries.is_empty() {
        tracing::info!(shards = entries.len(), "replaying the journal into the shards' segments");
    }
    // Every shard, not only those replayed into: frames that reached the page cache and not
    // the disk (a kill -9 during their segment's sync, a failed group not yet cut off) are
    // records from now on, and go to the disk before anything is written after them.
    let make_durable = env.sync() && !stopped_cleanly;
    let shards: Vec<&Arc<Shard>> = shards.values().collect();
    parallel::map(&shards, |shard| {
        if let Some(entries) = entries.get(&shard.key()) {
            let mut replay = Replay::default();
            for frames in entries {
                shard.replay(frames, &mut replay)?;
            }
        }
        if make_durable {
            shard.sync_active()?;
        }
        Ok::<(), StoreError>(())
    })?;
    for (generation, _) in &journals {
        journal::remove(&**fs, dir, *generation)?;
    }
    if !env.sync() {
        return Ok(None);
    }
    let next = journals.last().map_or(0, |(generation, _)| generation + 1);
    Ok(Some(Journal::start(fs.clone(), dir.to_owned(), next, env.options.journal_bytes)?))
}

/// A digest of every shard's active segment: its key, first and next sequence index and
/// length. A clean stop records it; any write after it changes it.
fn active_segments_digest(shards: &HashMap<ShardKey, Arc<Shard>>) -> Result<u32, StoreError> {
    // Shards never written are not on the disk for the next start to find.
    let mut keys: Vec<&ShardKey> =
        shards.iter().filter(|(_, shard)| shard.is_on_disk()).map(|(key, _)| key).collect();
    keys.sort_unstable_by_key(|key| (key.stream_id, key.shard_index));
    let mut digest = 0;
    for key in keys {
        let [first_seq, end_seq, len] = shards[key].active_extent()?;
        for n in [key.stream_id, u64::from(key.shard_index), first_seq, end_seq, len] {
            digest = crc32c::crc32c_append(digest, &n.to_le_bytes());
        }
    }
    Ok(digest)
}

impl Drop for LocalSegmentLog {
    /// A clean stop. The committer finishes: its last checkpoint syncs the segments the journal
    /// covered, and earlier checkpoints synced the others. Unless an append or a segment sync
    /// failed during the run (which can leave a segment's page cache ahead of the disk), every
    /// active segment is then on the disk, and the clean-stop mark spares the next open
    /// syncing them all.
    fn drop(&mut self) {
        let Some(generation) = self.committer.stop() else { return };
        if self.env.any_append_failed() || self.env.segment_syncs.any_failed() {
            return;
        }
        let shards = self.shards.read().unwrap_or_else(PoisonError::into_inner);
        let marked = active_segments_digest(&shards).map_err(io::Error::other).and_then(|segments| {
            journal::mark_clean_stop(&*self.env.fs, &self.journal_dir, CleanStop { generation, segments })
        });
        if let Err(e) = marked {
            tracing::warn!(error = %e, "could not mark the clean stop; the next start syncs every shard");
        }
    }
}

impl ShardLog for LocalSegmentLog {
    fn create_shard(&self, key: ShardKey) -> Result<(), StoreError> {
        self.create_shards(&[key])
    }

    /// Registers the shards, touching no file: a shard's directory and first segment are
    /// created by its first append (`Shard::create_files`). Creating a stream of 10,000
    /// shards took seconds when each got its files (and a directory sync) here, and shards
    /// never written cost nothing on disk or at start-up. Such a shard is not on the disk
    /// after a restart: the engine creates every shard of its catalog again when it opens
    /// (docs/storage.md, *Shards without files*).
    fn create_shards(&self, keys: &[ShardKey]) -> Result<(), StoreError> {
        let mut shards = self.shards.write().unwrap_or_else(PoisonError::into_inner);
        for &key in keys {
            shards
                .entry(key)
                .or_insert_with(|| Arc::new(Shard::unwritten(self.env.clone(), key, self.shard_dir(key))));
        }
        Ok(())
    }

    async fn append(&self, key: ShardKey, records: Vec<NewRecord>) -> Result<Appended, StoreError> {
        self.append_to_shards(vec![(key, records)]).await.pop().expect("one batch, one outcome")
    }

    /// One message to the committer and one wake-up for all the shards (docs/storage.md,
    /// *Appending*).
    async fn append_to_shards(
        &self,
        batches: Vec<(ShardKey, Vec<NewRecord>)>,
    ) -> Vec<Result<Appended, StoreError>> {
        let keys: Vec<ShardKey> = batches.iter().map(|(key, _)| *key).collect();
        let mut shards = self.appendable(&keys);
        // Shards never written get their files first, many at once; a full disk may first
        // show here.
        let new: Vec<usize> = (0..shards.len())
            .filter(|&i| shards[i].as_ref().is_ok_and(|shard| !shard.is_on_disk()))
            .collect();
        if !new.is_empty() {
            let creating = new.iter().filter_map(|&i| shards[i].as_ref().ok().cloned()).collect();
            for (&i, created) in new.iter().zip(self.create_files(creating).await) {
                if let Err(e) = created {
                    shards[i] = Err(e);
                }
            }
        }
        let mut outcomes: Vec<Option<Result<Appended, StoreError>>> = Vec::with_capacity(batches.len());
        let mut slots = Vec::with_capacity(batches.len());
        let mut to_write = Vec::with_capacity(batches.len());
        for (slot, (shard, (_, records))) in shards.into_iter().zip(batches).enumerate() {
            match shard {
                Ok(shard) => {
                    outcomes.push(None);
                    slots.push(slot);
                    to_write.push((shard, records));
                }
                Err(e) => outcomes.push(Some(Err(e))),
            }
        }
        for (slot, appended) in slots.into_iter().zip(self.committer.append(to_write).await) {
            outcomes[slot] = Some(appended);
        }
        let outcomes: Vec<_> = outcomes.into_iter().map(|o| o.expect("every batch is answered")).collect();
        for (key, appended) in keys.iter().zip(&outcomes) {
            self.write_health.note(appended);
            if appended.is_ok() {
                self.tails.notify(*key);
            }
        }
        outcomes
    }

    async fn read(
        &self,
        key: ShardKey,
        from: Position,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<ReadBatch, StoreError> {
        let shard = self.shard(key)?;
        if let Some(batch) = shard.read_cached(from, max_records, max_bytes)? {
            return Ok(batch);
        }
        blocking(move || shard.read(from, max_records, max_bytes)).await
    }

    async fn seek_time(&self, key: ShardKey, arrival_ms: i64) -> Result<Position, StoreError> {
        let shard = self.shard(key)?;
        blocking(move || shard.seek_time(arrival_ms)).await
    }

    async fn tip(&self, key: ShardKey) -> Result<Tip, StoreError> {
        self.shard(key)?.tip()
    }

    async fn trim(&self, key: ShardKey, arrival_ms: i64) -> Result<(), StoreError> {
        let shard = self.shard(key)?;
        blocking(move || shard.trim(arrival_ms)).await
    }

    async fn seal(&self, key: ShardKey, end_seq_ix: u64) -> Result<(), StoreError> {
        let shard = self.shard(key)?;
        let mut sealed = self.sealed.write().unwrap_or_else(PoisonError::into_inner);
        match sealed.get(&key) {
            Some(&end) if end == end_seq_ix => return Ok(()),
            Some(&end) => {
                return Err(StoreError::Corrupt(format!("{key:?} is sealed at {end}, not {end_seq_ix}")))
            }
            None => {}
        }
        let tip = shard.tip()?.next_seq_ix;
        if tip > end_seq_ix {
            return Err(StoreError::Corrupt(format!(
                "{key:?} holds records up to {tip}, past its end {end_seq_ix}"
            )));
        }
        sealed.insert(key, end_seq_ix);
        Ok(())
    }

    async fn wait_for(&self, key: ShardKey, from_seq_ix: u64) -> Result<(), StoreError> {
        let shard = self.shard(key)?;
        self.tails.wait_until(key, || Ok(shard.tip()?.next_seq_ix > from_seq_ix)).await
    }

    async fn delete_stream(&self, stream_id: u64) -> Result<(), StoreError> {
        self.sealed
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|key, _| key.stream_id != stream_id);
        {
            let mut shards = self.shards.write().unwrap_or_else(PoisonError::into_inner);
            shards.retain(|key, shard| {
                let keep = key.stream_id != stream_id;
                if !keep {
                    shard.mark_deleted();
                }
                keep
            });
        }
        let (env, layout) = (self.env.clone(), self.layout.clone());
        let (dir, streams_dir) = (self.stream_dir(stream_id), self.streams_dir.clone());
        blocking(move || {
            let _layout = layout.write().unwrap_or_else(PoisonError::into_inner);
            match env.fs.remove_dir_all(&dir) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
            // After the removal, so that nothing opens them again.
            env.files.forget_stream(stream_id);
            if env.sync() {
                env.fs.sync_dir(&streams_dir)?;
            }
            Ok(())
        })
        .await
    }
}
