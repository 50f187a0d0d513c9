//! The backend conformance suite: what every [`ShardLog`] and [`Catalog`] must do, checked the
//! same way on every backend (store-local, memory, and the cluster backend to come). A backend
//! implements [`Backend`] in its tests and adds one line:
//!
//! ```text
//! kinesin_engine::backend_conformance!(MyBackend::new());
//! ```
//!
//! which makes one `#[tokio::test]` per check below. The contracts themselves are the rustdoc
//! of `crate::storage` and docs/architecture.md ("The storage seam").

use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kinesin_wire::{Input, Operation, Value};

use crate::model::{ShardMeta, StreamMeta, StreamMode, StreamStatus};
use crate::storage::{
    Cas, Catalog, Clock, NewRecord, Position, ShardKey, ShardLog, StoreError, StoredRecord, StreamChange,
};
use crate::{Api, Engine, EngineConfig, Reply, RequestContext};

/// A backend under test.
pub trait Backend {
    type Log: ShardLog;
    type Catalog: Catalog;

    /// Opens the backend's storage (empty on the first call); records arrive at `clock`'s
    /// time.
    fn open(&mut self, clock: Arc<dyn Clock>) -> impl Future<Output = (Self::Log, Self::Catalog)>;

    /// Another handle on the same catalog, as a second node would open it (a clone, for a
    /// backend that lives in one process).
    fn peer(&mut self, catalog: &Self::Catalog) -> impl Future<Output = Self::Catalog>;

    /// Kills the process holding `log` and `catalog` (kill -9: nothing stops cleanly) and
    /// opens the storage again; `None` when nothing outlives the process (memory).
    fn crash_and_reopen(
        &mut self,
        log: Self::Log,
        catalog: Self::Catalog,
        clock: Arc<dyn Clock>,
    ) -> impl Future<Output = Option<(Self::Log, Self::Catalog)>>;

    /// Whether the storage can run here: a backend on servers a test starts (PostgreSQL, a
    /// bucket) answers `false`, after a note saying what to install, when they are not
    /// installed, and the check is skipped, as other tests needing a tool are (under
    /// `CI=true` it should fail instead). Called once, before [`Backend::open`].
    fn available(&mut self) -> impl Future<Output = bool> {
        std::future::ready(true)
    }
}

/// Makes one `#[tokio::test]` per conformance check, each on a fresh `$backend`.
#[macro_export]
macro_rules! backend_conformance {
    ($backend:expr) => {
        $crate::backend_conformance!(@checks $backend;
            appends_get_consecutive_positions_and_read_back,
            appends_to_many_shards_at_once,
            reads_stop_at_their_limits,
            seeks_by_arrival_time,
            sealed_shards_refuse_appends,
            waiters_wake_on_new_records,
            trimming_keeps_what_is_within_retention,
            deleted_streams_lose_their_logs,
            catalog_changes_are_compare_and_set,
            the_change_feed_reports_every_change,
            resharding_as_the_engine_drives_it,
            acknowledged_changes_survive_a_crash
        );
    };
    (@checks $backend:expr; $($check:ident),*) => {
        $(
            #[tokio::test]
            async fn $check() {
                let mut backend = $backend;
                if $crate::conformance::Backend::available(&mut backend).await {
                    $crate::conformance::$check(backend).await;
                }
            }
        )*
    };
}

/// A clock the checks move by hand.
#[derive(Debug)]
pub struct TestClock(AtomicI64);

impl TestClock {
    pub fn new(now_ms: i64) -> Arc<Self> {
        Arc::new(TestClock(AtomicI64::new(now_ms)))
    }

    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

const START_MS: i64 = 1_790_000_000_000;
const SHARD: ShardKey = ShardKey { stream_id: 7, shard_index: 0 };
const OTHER: ShardKey = ShardKey { stream_id: 7, shard_index: 1 };

fn records(keys: &[&str]) -> Vec<NewRecord> {
    keys.iter()
        .map(|key| NewRecord {
            partition_key: (*key).to_owned(),
            data: Bytes::from(format!("data of {key}")),
            encrypted: false,
        })
        .collect()
}

fn keys(records: &[StoredRecord]) -> Vec<&str> {
    records.iter().map(|r| r.partition_key.as_str()).collect()
}

async fn read_all<L: ShardLog>(log: &L, shard: ShardKey, from: u64) -> Vec<StoredRecord> {
    let batch = log.read(shard, Position { seq_ix: from, hint: 0 }, usize::MAX, usize::MAX).await;
    batch.expect("read").records
}

async fn open_with_shards<B: Backend>(backend: &mut B, clock: &Arc<TestClock>) -> (B::Log, B::Catalog) {
    let (log, catalog) = backend.open(clock.clone()).await;
    log.create_shards(&[SHARD, OTHER]).expect("create shards");
    (log, catalog)
}

/// Appends get consecutive `seq_ix` from 0 per shard, one arrival time per append that never
/// decreases, and read back whole, from any position.
pub async fn appends_get_consecutive_positions_and_read_back<B: Backend>(mut backend: B) {
    let clock = TestClock::new(START_MS);
    let (log, _catalog) = open_with_shards(&mut backend, &clock).await;
    assert_eq!(log.tip(SHARD).await.unwrap().next_seq_ix, 0);
    assert_eq!(log.tip(SHARD).await.unwrap().last_arrival_ms, None);

    let first = log.append(SHARD, records(&["a", "b", "c"])).await.unwrap();
    assert_eq!((first.first_seq_ix, first.arrival_ms), (0, START_MS));
    clock.advance(-1_000); // the clock going back does not make arrival times go back
    let second = log.append(SHARD, records(&["d"])).await.unwrap();
    assert_eq!((second.first_seq_ix, second.arrival_ms), (3, START_MS));
    let other = log.append(OTHER, records(&["x"])).await.unwrap();
    assert_eq!(other.first_seq_ix, 0, "shards count on their own");

    let all = read_all(&log, SHARD, 0).await;
    assert_eq!(keys(&all), ["a", "b", "c", "d"]);
    assert_eq!(all.iter().map(|r| r.seq_ix).collect::<Vec<_>>(), [0, 1, 2, 3]);
    assert!(all.iter().all(|r| r.arrival_ms == START_MS));
    assert_eq!(all[1].data, Bytes::from("data of b"));
    assert_eq!(keys(&read_all(&log, SHARD, 2).await), ["c", "d"]);
    let tip = log.tip(SHARD).await.unwrap();
    assert_eq!((tip.next_seq_ix, tip.last_arrival_ms), (4, Some(START_MS)));
    let at_tip = log.read(SHARD, Position { seq_ix: 4, hint: 0 }, 10, 1 << 20).await.unwrap();
    assert!(at_tip.records.is_empty());
    assert_eq!(at_tip.next.seq_ix, 4);
    assert!(matches!(
        log.append(ShardKey { stream_id: 99, shard_index: 0 }, records(&["z"])).await,
        Err(StoreError::NoSuchShard(_))
    ));
}

/// `append_to_shards` appends each batch as `append` would, answering in the batches' order;
/// a batch that cannot be appended (a sealed or unknown shard, no records) fails or answers
/// alone, and the others are written.
pub async fn appends_to_many_shards_at_once<B: Backend>(mut backend: B) {
    let clock = TestClock::new(START_MS);
    let (log, _catalog) = open_with_shards(&mut backend, &clock).await;
    let sealed = ShardKey { stream_id: 7, shard_index: 2 };
    log.create_shard(sealed).unwrap();
    log.seal(sealed, 0).await.unwrap();
    log.append(OTHER, records(&["x"])).await.unwrap();
    let unknown = ShardKey { stream_id: 99, shard_index: 0 };

    let outcomes = log
        .append_to_shards(vec![
            (OTHER, records(&["y", "z"])),
            (sealed, records(&["s"])),
            (SHARD, records(&["a", "b", "c"])),
            (unknown, records(&["u"])),
            (SHARD, Vec::new()),
        ])
        .await;
    assert_eq!(outcomes.len(), 5);
    let other = outcomes[0].as_ref().expect("the other shard's batch");
    assert_eq!((other.first_seq_ix, other.arrival_ms), (1, START_MS));
    assert!(matches!(outcomes[1], Err(StoreError::Sealed(key)) if key == sealed));
    assert_eq!(outcomes[2].as_ref().expect("the shard's batch").first_seq_ix, 0);
    assert!(matches!(outcomes[3], Err(StoreError::NoSuchShard(key)) if key == unknown));
    let empty = outcomes[4].as_ref().expect("no records: the tip");
    assert!([0, 3].contains(&empty.first_seq_ix), "the tip before or after the batch before it");
    assert_eq!(keys(&read_all(&log, OTHER, 0).await), ["x", "y", "z"]);
    assert_eq!(keys(&read_all(&log, SHARD, 0).await), ["a", "b", "c"]);
    assert_eq!(log.tip(sealed).await.unwrap().next_seq_ix, 0);
}

/// A read returns at most `max_records`, stops before `max_bytes` (key + data) would be
/// passed but returns at least one record, and says where the next read continues.
pub async fn reads_stop_at_their_limits<B: Backend>(mut backend: B) {
    let clock = TestClock::new(START_MS);
    let (log, _catalog) = open_with_shards(&mut backend, &clock).await;
    log.append(SHARD, records(&["a", "b", "c", "d", "e"])).await.unwrap();
    let two = log.read(SHARD, Position::default(), 2, 1 << 20).await.unwrap();
    assert_eq!(keys(&two.records), ["a", "b"]);
    // Continue from where it said, hint included.
    let rest = log.read(SHARD, two.next, 10, 1 << 20).await.unwrap();
    assert_eq!(keys(&rest.records), ["c", "d", "e"]);
    assert_eq!(rest.next.seq_ix, 5);
    let size = "a".len() + "data of a".len();
    let by_bytes = log.read(SHARD, Position::default(), 10, 2 * size + 1).await.unwrap();
    assert_eq!(keys(&by_bytes.records), ["a", "b"]);
    let one = log.read(SHARD, Position::default(), 10, 1).await.unwrap();
    assert_eq!(keys(&one.records), ["a"], "at least one record, whatever its size");
}

/// `seek_time` finds the first record that arrived at or after a time, or the tip.
pub async fn seeks_by_arrival_time<B: Backend>(mut backend: B) {
    let clock = TestClock::new(START_MS);
    let (log, _catalog) = open_with_shards(&mut backend, &clock).await;
    assert_eq!(log.seek_time(SHARD, START_MS).await.unwrap().seq_ix, 0, "an empty shard: its tip");
    log.append(SHARD, records(&["a", "b"])).await.unwrap();
    clock.advance(1_000);
    log.append(SHARD, records(&["c"])).await.unwrap();
    clock.advance(1_000);
    log.append(SHARD, records(&["d"])).await.unwrap();
    for (at, expected) in
        [(0, 0), (START_MS, 0), (START_MS + 1, 2), (START_MS + 1_000, 2), (START_MS + 1_500, 3)]
    {
        assert_eq!(log.seek_time(SHARD, at).await.unwrap().seq_ix, expected, "seek to {at}");
    }
    let past = log.seek_time(SHARD, START_MS + 5_000).await.unwrap();
    assert_eq!(past.seq_ix, 4, "after the newest record: the tip");
    let from_seek = log.seek_time(SHARD, START_MS + 1_000).await.unwrap();
    assert_eq!(keys(&log.read(SHARD, from_seek, 10, 1 << 20).await.unwrap().records), ["c", "d"]);
}

/// A sealed shard refuses appends and keeps serving reads; sealing again at the same end is a
/// no-op, at another end or below the tip an error.
pub async fn sealed_shards_refuse_appends<B: Backend>(mut backend: B) {
    let clock = TestClock::new(START_MS);
    let (log, _catalog) = open_with_shards(&mut backend, &clock).await;
    log.append(SHARD, records(&["a", "b"])).await.unwrap();
    assert!(log.seal(SHARD, 1).await.is_err(), "records past the end");
    log.seal(SHARD, 2).await.unwrap();
    log.seal(SHARD, 2).await.unwrap();
    assert!(log.seal(SHARD, 3).await.is_err(), "sealed elsewhere");
    assert!(matches!(log.append(SHARD, records(&["c"])).await, Err(StoreError::Sealed(key)) if key == SHARD));
    assert_eq!(keys(&read_all(&log, SHARD, 0).await), ["a", "b"]);
    assert_eq!(log.tip(SHARD).await.unwrap().next_seq_ix, 2);
    log.append(OTHER, records(&["x"])).await.expect("other shards go on");
    // An empty shard closed at once (an intermediate shard of UpdateShardCount).
    let empty = ShardKey { stream_id: 7, shard_index: 2 };
    log.create_shard(empty).unwrap();
    log.seal(empty, 0).await.unwrap();
    assert!(log.append(empty, records(&["y"])).await.is_err());
}

/// `wait_for` resolves at once when the record is there, otherwise when it is appended, and
/// not for records before it or in other shards.
pub async fn waiters_wake_on_new_records<B: Backend>(mut backend: B) {
    let clock = TestClock::new(START_MS);
    let (log, _catalog) = open_with_shards(&mut backend, &clock).await;
    log.append(SHARD, records(&["a"])).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), log.wait_for(SHARD, 0))
        .await
        .expect("already there")
        .unwrap();
    let log = Arc::new(log);
    let waiter = {
        let log = log.clone();
        async move { log.wait_for(SHARD, 1).await }
    };
    let appender = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        log.append(OTHER, records(&["x"])).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        log.append(SHARD, records(&["b"])).await.unwrap();
    };
    let (woke, ()) = tokio::time::timeout(Duration::from_secs(5), async { tokio::join!(waiter, appender) })
        .await
        .expect("the append wakes the waiter");
    woke.unwrap();
    assert_eq!(log.tip(SHARD).await.unwrap().next_seq_ix, 2, "not woken before the record was there");
    let early = tokio::time::timeout(Duration::from_millis(50), log.wait_for(SHARD, 2)).await;
    assert!(early.is_err(), "nothing at seq_ix 2 yet");
}

/// Trimming drops only records older than the cut-off; what stays keeps its positions, and a
/// read before the first retained record starts at it.
pub async fn trimming_keeps_what_is_within_retention<B: Backend>(mut backend: B) {
    let clock = TestClock::new(START_MS);
    let (log, _catalog) = open_with_shards(&mut backend, &clock).await;
    for key in ["a", "b", "c", "d"] {
        log.append(SHARD, records(&[key])).await.unwrap();
        clock.advance(60_000);
    }
    log.trim(SHARD, START_MS + 120_000).await.unwrap();
    let kept = read_all(&log, SHARD, 0).await;
    let kept_keys = keys(&kept);
    assert!(kept_keys.ends_with(&["c", "d"]), "records after the cut-off stay: {kept_keys:?}");
    for record in &kept {
        assert_eq!(record.partition_key, ["a", "b", "c", "d"][record.seq_ix as usize], "positions are kept");
    }
    assert_eq!(log.tip(SHARD).await.unwrap().next_seq_ix, 4);
    assert_eq!(log.append(SHARD, records(&["e"])).await.unwrap().first_seq_ix, 4);
}

/// Deleting a stream removes all its shards' logs, and only its.
pub async fn deleted_streams_lose_their_logs<B: Backend>(mut backend: B) {
    let clock = TestClock::new(START_MS);
    let (log, _catalog) = open_with_shards(&mut backend, &clock).await;
    let survivor = ShardKey { stream_id: 8, shard_index: 0 };
    log.create_shard(survivor).unwrap();
    log.append(SHARD, records(&["a"])).await.unwrap();
    log.append(survivor, records(&["s"])).await.unwrap();
    log.delete_stream(SHARD.stream_id).await.unwrap();
    assert!(matches!(log.tip(SHARD).await, Err(StoreError::NoSuchShard(_))));
    assert!(matches!(log.tip(OTHER).await, Err(StoreError::NoSuchShard(_))));
    assert!(log.append(SHARD, records(&["b"])).await.is_err());
    assert_eq!(keys(&read_all(&log, survivor, 0).await), ["s"]);
}

/// A stream's metadata for the catalog checks.
pub fn stream(id: u64, name: &str, version: u64) -> StreamMeta {
    StreamMeta {
        id,
        version,
        account: "000000000000".into(),
        region: "us-east-1".into(),
        name: name.into(),
        status: StreamStatus::Active,
        mode: StreamMode::Provisioned,
        created_ms: START_MS,
        retention_hours: 24,
        max_record_size_kib: 1024,
        shards: ShardMeta::initial(2, START_MS),
        tags: vec![],
        shard_level_metrics: vec![],
        encryption_key_id: None,
        transition_due_ms: None,
        consumers: vec![],
        pending_reshard: None,
        resource_policy: None,
        warm_throughput_mibps: None,
        metrics: Default::default(),
    }
}

/// Puts and deletes happen only from the expected version, whichever handle makes them; a
/// conflict writes nothing.
pub async fn catalog_changes_are_compare_and_set<B: Backend>(mut backend: B) {
    let (_log, catalog) = backend.open(TestClock::new(START_MS)).await;
    let other_node = backend.peer(&catalog).await;
    let v1 = stream(1, "s", 1);
    assert_eq!(catalog.put_stream(&v1, None).await.unwrap(), Cas::Committed);
    assert_eq!(other_node.put_stream(&v1, None).await.unwrap(), Cas::Conflict, "it exists");
    let mut v2 = stream(1, "s", 2);
    v2.retention_hours = 48;
    let mut rival = stream(1, "s", 2);
    rival.tags.push(("k".into(), "v".into()));
    assert_eq!(other_node.put_stream(&v2, Some(1)).await.unwrap(), Cas::Committed);
    assert_eq!(catalog.put_stream(&rival, Some(1)).await.unwrap(), Cas::Conflict, "the lost update");
    assert_eq!(catalog.get_stream(1).await.unwrap(), Some(v2.clone()));
    assert_eq!(catalog.load_streams().await.unwrap(), vec![v2.clone()]);
    assert_eq!(catalog.delete_stream(1, 1).await.unwrap(), Cas::Conflict);
    assert_eq!(catalog.delete_stream(1, 2).await.unwrap(), Cas::Committed);
    assert_eq!(other_node.get_stream(1).await.unwrap(), None);
    assert_eq!(other_node.delete_stream(1, 2).await.unwrap(), Cas::Conflict, "gone");
    catalog.put_setting("key", b"value").await.unwrap();
    assert_eq!(other_node.get_setting("key").await.unwrap().as_deref(), Some(&b"value"[..]));
    assert_eq!(other_node.get_setting("missing").await.unwrap(), None);
    assert_eq!(other_node.put_setting_if_absent("first", b"a").await.unwrap(), b"a");
    assert_eq!(catalog.put_setting_if_absent("first", b"b").await.unwrap(), b"a", "the first value stays");
    assert_eq!(catalog.put_setting_if_absent("key", b"other").await.unwrap(), b"value");
}

/// Every committed change reaches every subscriber, whichever handle made it, in commit
/// order; conflicts are not reported.
pub async fn the_change_feed_reports_every_change<B: Backend>(mut backend: B) {
    let (_log, catalog) = backend.open(TestClock::new(START_MS)).await;
    let other_node = backend.peer(&catalog).await;
    let mut feed = other_node.changes();
    assert_eq!(catalog.put_stream(&stream(1, "s", 1), None).await.unwrap(), Cas::Committed);
    assert_eq!(catalog.put_stream(&stream(1, "s", 1), None).await.unwrap(), Cas::Conflict);
    assert_eq!(catalog.put_stream(&stream(1, "s", 2), Some(1)).await.unwrap(), Cas::Committed);
    assert_eq!(catalog.delete_stream(1, 2).await.unwrap(), Cas::Committed);
    let mut changes = Vec::new();
    for _ in 0..3 {
        changes.push(
            tokio::time::timeout(Duration::from_secs(5), feed.recv()).await.expect("a change").unwrap(),
        );
    }
    assert!(matches!(&changes[0], StreamChange::Put(meta) if meta.id == 1 && meta.version == 1));
    assert!(matches!(&changes[1], StreamChange::Put(meta) if meta.id == 1 && meta.version == 2));
    assert!(matches!(changes[2], StreamChange::Deleted { stream_id: 1 }));
}

/// The engine on the backend: a split seals the parent at its end in the log, new records go
/// to the children, and the parent's records stay readable.
pub async fn resharding_as_the_engine_drives_it<B: Backend>(mut backend: B) {
    let clock = TestClock::new(START_MS);
    let (log, catalog) = backend.open(clock.clone()).await;
    let observer = backend.peer(&catalog).await;
    let config =
        EngineConfig { create_stream_ms: 0, update_stream_ms: 0, delete_stream_ms: 0, ..Default::default() };
    let engine = Engine::open(log, catalog, clock.clone(), config).await.expect("open the engine");
    let name = || Value::object().with("StreamName", "s");
    call(&engine, Operation::CreateStream, name().with("ShardCount", 1i64)).await;
    let put = |key: &str| name().with("PartitionKey", key).with("Data", Bytes::from_static(b"x"));
    call(&engine, Operation::PutRecord, put("before")).await;
    let split = name().with("ShardToSplit", "shardId-000000000000").with("NewStartingHashKey", "2");
    call(&engine, Operation::SplitShard, split).await;
    let written = call(&engine, Operation::PutRecord, put("after")).await;
    assert_ne!(written.str("ShardId"), Some("shardId-000000000000"), "the parent is closed");

    let stored = observer.load_streams().await.unwrap();
    let [stream] = &stored[..] else { panic!("one stream: {stored:?}") };
    assert_eq!(stream.shards[0].closed_at_seq_ix, Some(1));
    let stream_id = stream.id;
    let parent = ShardKey { stream_id, shard_index: 0 };
    assert!(matches!(engine.log().append(parent, records(&["late"])).await, Err(StoreError::Sealed(_))));
    assert_eq!(keys(&read_all(engine.log(), parent, 0).await), ["before"]);
}

/// One call to the engine, as the server makes it; an error fails the check.
async fn call(engine: &impl Api, op: Operation, input: Value) -> Value {
    let ctx = RequestContext { account: "000000000000".into(), region: "us-east-1".into() };
    match engine.handle(&ctx, op, Input::Tree(input)).await {
        Ok(Reply::Value(value)) => value,
        Ok(Reply::PutRecords(answer)) => answer.to_value(),
        other => panic!("{op:?}: {other:?}"),
    }
}

/// What was acknowledged survives a crash: records, positions and catalog changes. (Seals
/// need not: the engine seals closed shards again at every start.)
pub async fn acknowledged_changes_survive_a_crash<B: Backend>(mut backend: B) {
    let clock = TestClock::new(START_MS);
    let (log, catalog) = open_with_shards(&mut backend, &clock).await;
    log.append(SHARD, records(&["a", "b"])).await.unwrap();
    log.append(OTHER, records(&["x"])).await.unwrap();
    assert_eq!(catalog.put_stream(&stream(1, "s", 1), None).await.unwrap(), Cas::Committed);
    catalog.put_setting("key", b"value").await.unwrap();
    let Some((log, catalog)) = backend.crash_and_reopen(log, catalog, clock.clone()).await else {
        return; // nothing outlives the process
    };
    assert_eq!(keys(&read_all(&log, SHARD, 0).await), ["a", "b"]);
    assert_eq!(log.append(SHARD, records(&["c"])).await.unwrap().first_seq_ix, 2);
    assert_eq!(keys(&read_all(&log, OTHER, 0).await), ["x"]);
    assert_eq!(catalog.get_stream(1).await.unwrap(), Some(stream(1, "s", 1)));
    assert_eq!(catalog.get_setting("key").await.unwrap().as_deref(), Some(&b"value"[..]));
    assert_eq!(catalog.put_stream(&stream(1, "s", 2), Some(1)).await.unwrap(), Cas::Committed);
}
