//! The cluster catalog with two nodes on one database, beyond the conformance suite:
//! compare-and-set races, stream names unique across nodes (and the AWS error the engine then
//! answers), the change feed with metadata too big for a notification, the feed reconnecting
//! after its connection is killed, two engines changing one stream, a node's restart, and the
//! database gone.

use std::sync::Arc;
use std::time::Duration;

use kinesin_engine::conformance::{stream, TestClock};
use kinesin_engine::memory::MemoryLog;
use kinesin_engine::model::ShardMeta;
use kinesin_engine::storage::{Cas, Catalog, ChangeFeed, StoreError, StreamChange};
use kinesin_engine::{Api, Engine, EngineConfig, Reply, RequestContext};
use kinesin_store_cluster::testing::TestPostgres;
use kinesin_store_cluster::{Metadata, PgCatalog, LISTENER_NAME};
use kinesin_wire::{ApiError, Input, Operation, Value};
use tokio::sync::broadcast::error::RecvError;

/// How long a change may take to reach another node's feed before the test fails.
const FEED_WAIT: Duration = Duration::from_secs(10);

/// A database shared by the nodes of a test.
struct Cluster {
    postgres: TestPostgres,
}

impl Cluster {
    async fn start() -> Option<Cluster> {
        Some(Cluster { postgres: TestPostgres::start().await? })
    }

    async fn node(&self) -> PgCatalog {
        PgCatalog::open(self.metadata().await).await.expect("open the catalog")
    }

    async fn metadata(&self) -> Metadata {
        Metadata::open(self.postgres.url()).await.expect("open the metadata database")
    }
}

async fn next(feed: &mut ChangeFeed) -> Result<StreamChange, RecvError> {
    tokio::time::timeout(FEED_WAIT, feed.recv()).await.expect("a change in time")
}

fn put_version(change: &StreamChange) -> Option<(u64, u64)> {
    match change {
        StreamChange::Put(meta) => Some((meta.id, meta.version)),
        StreamChange::Deleted { .. } => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_rival_changes_from_one_version_exactly_one_commits() {
    let Some(cluster) = Cluster::start().await else { return };
    let nodes = [Arc::new(cluster.node().await), Arc::new(cluster.node().await)];
    assert_eq!(nodes[0].put_stream(&stream(1, "s", 1), None).await.unwrap(), Cas::Committed);
    let rivals: Vec<_> = (0..8)
        .map(|i| {
            let node = nodes[i % 2].clone();
            tokio::spawn(async move {
                let mut change = stream(1, "s", 2);
                change.tags.push(("writer".into(), i.to_string()));
                (node.put_stream(&change, Some(1)).await.unwrap(), change)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for rival in rivals {
        let (cas, change) = rival.await.unwrap();
        if cas == Cas::Committed {
            winners.push(change);
        }
    }
    assert_eq!(winners.len(), 1, "one change wins the version");
    assert_eq!(nodes[1].get_stream(1).await.unwrap().as_ref(), Some(&winners[0]));
}

#[tokio::test]
async fn stream_names_are_unique_per_account_and_region_across_nodes() {
    let Some(cluster) = Cluster::start().await else { return };
    let (a, b) = (cluster.node().await, cluster.node().await);
    assert_eq!(a.put_stream(&stream(1, "s", 1), None).await.unwrap(), Cas::Committed);
    assert_eq!(b.put_stream(&stream(2, "s", 1), None).await.unwrap(), Cas::Conflict, "the name is taken");
    assert_eq!(b.get_stream(2).await.unwrap(), None, "a conflict writes nothing");
    let mut elsewhere = stream(3, "s", 1);
    elsewhere.region = "eu-west-1".into();
    assert_eq!(b.put_stream(&elsewhere, None).await.unwrap(), Cas::Committed, "another region");
    let mut other_account = stream(4, "s", 1);
    other_account.account = "111111111111".into();
    assert_eq!(b.put_stream(&other_account, None).await.unwrap(), Cas::Committed, "another account");
    assert_eq!(a.delete_stream(1, 1).await.unwrap(), Cas::Committed);
    assert_eq!(b.put_stream(&stream(2, "s", 1), None).await.unwrap(), Cas::Committed, "free again");
}

async fn call(engine: &impl Api, op: Operation, input: Value) -> Result<Value, ApiError> {
    let ctx = RequestContext { account: "000000000000".into(), region: "us-east-1".into() };
    match engine.handle(&ctx, op, Input::Tree(input)).await? {
        Reply::Value(value) => Ok(value),
        other => panic!("{op:?}: {other:?}"),
    }
}

/// An engine on a node of the cluster, with the nodes' shared log (the memory log, until the
/// cluster's log exists).
async fn engine(cluster: &Cluster, log: &MemoryLog) -> Engine<MemoryLog, PgCatalog> {
    let clock = TestClock::new(1_790_000_000_000);
    let config = EngineConfig { create_stream_ms: 0, ..EngineConfig::default() };
    Engine::open(log.clone(), cluster.node().await, clock, config).await.unwrap()
}

fn shared_log() -> MemoryLog {
    MemoryLog::new(TestClock::new(1_790_000_000_000))
}

fn create(name: &str) -> Value {
    Value::object().with("StreamName", name).with("ShardCount", 1i64)
}

fn assert_exists_error(result: Result<Value, ApiError>, name: &str) {
    let err = result.expect_err("the name is taken");
    assert_eq!(err.code, "ResourceInUseException", "{err:?}");
    assert_eq!(
        err.message.as_deref(),
        Some(&*format!("Stream {name} under account 000000000000 already exists."))
    );
}

/// Another node created the stream a moment ago, and its notice has not reached this node: the
/// catalog refuses the name, and the engine answers as for a name it knows.
#[tokio::test]
async fn a_name_another_node_just_took_is_resource_in_use() {
    let Some(cluster) = Cluster::start().await else { return };
    let engine = engine(&cluster, &shared_log()).await;
    // The other node's row, written without its notice, so this node cannot know of it.
    let taken = stream(u64::MAX - 1, "s", 1);
    let json = serde_json::to_string(&taken).unwrap();
    let client = cluster.metadata().await.client().await.unwrap();
    client
        .execute(
            "INSERT INTO kinesin_streams (id, account, region, name, version, meta)
             VALUES ($1, $2, $3, $4, 1, $5::text::jsonb)",
            &[&(taken.id as i64), &taken.account, &taken.region, &taken.name, &json],
        )
        .await
        .unwrap();
    assert_exists_error(call(&engine, Operation::CreateStream, create("s")).await, "s");
    call(&engine, Operation::CreateStream, create("t")).await.expect("other names are free");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_creating_one_name_at_once_create_it_once() {
    let Some(cluster) = Cluster::start().await else { return };
    let log = shared_log();
    let (a, b) = (Arc::new(engine(&cluster, &log).await), Arc::new(engine(&cluster, &log).await));
    for round in 0..5 {
        let name = format!("s{round}");
        let (first, second) = tokio::join!(
            call(&*a, Operation::CreateStream, create(&name)),
            call(&*b, Operation::CreateStream, create(&name))
        );
        let refused = match (first, second) {
            (Ok(_), other) | (other, Ok(_)) => other,
            both => panic!("neither created {name}: {both:?}"),
        };
        assert_exists_error(refused, &name);
    }
    let stored = cluster.node().await.load_streams().await.unwrap();
    assert_eq!(stored.len(), 5, "one stream per name");
}

/// Two engines changing one stream at once, as two nodes: each learns of the other's stream
/// through the feed, and no change is lost (the loser of a compare-and-set reads the stream
/// again and applies its change to it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_changing_one_stream_lose_no_update() {
    let Some(cluster) = Cluster::start().await else { return };
    let log = shared_log();
    let (a, b) = (Arc::new(engine(&cluster, &log).await), Arc::new(engine(&cluster, &log).await));
    call(&*a, Operation::CreateStream, create("s")).await.unwrap();
    let name = || Value::object().with("StreamName", "s");
    tokio::time::timeout(FEED_WAIT, async {
        while call(&*b, Operation::DescribeStreamSummary, name()).await.is_err() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the feed brings the new stream to the other node");
    let writers: Vec<_> = (0..20)
        .map(|i| {
            let engine = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move {
                let tags = Value::Map(vec![(format!("k{i:02}").into(), "v".into())]);
                call(&*engine, Operation::AddTagsToStream, name().with("Tags", tags)).await.unwrap();
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let stored = cluster.node().await.load_streams().await.unwrap();
    let mut keys: Vec<&str> = stored[0].tags.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    let expected: Vec<String> = (0..20).map(|i| format!("k{i:02}")).collect();
    assert_eq!(keys, expected.iter().map(String::as_str).collect::<Vec<_>>(), "no tag lost");
    assert_eq!(stored[0].version, 22, "one version per change: created, ACTIVE, 20 tags");
}

/// Two nodes starting at once on a new database agree on the key that signs shard iterators:
/// an iterator one node hands out works on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_together_sign_iterators_alike() {
    let Some(cluster) = Cluster::start().await else { return };
    let log = shared_log();
    let (a, b) = tokio::join!(engine(&cluster, &log), engine(&cluster, &log));
    call(&a, Operation::CreateStream, create("s")).await.unwrap();
    let name = || Value::object().with("StreamName", "s");
    let put = name().with("PartitionKey", "k").with("Data", bytes::Bytes::from_static(b"x"));
    call(&a, Operation::PutRecord, put).await.unwrap();
    let request = name().with("ShardId", "shardId-000000000000").with("ShardIteratorType", "TRIM_HORIZON");
    let iterator = call(&a, Operation::GetShardIterator, request).await.unwrap();
    let iterator = iterator.str("ShardIterator").expect("an iterator").to_owned();
    let read = tokio::time::timeout(FEED_WAIT, async {
        loop {
            // Until the feed has brought the stream to b.
            match call(&b, Operation::GetRecords, Value::object().with("ShardIterator", iterator.as_str()))
                .await
            {
                Err(e) if e.code == "ResourceNotFoundException" => tokio::task::yield_now().await,
                answer => return answer,
            }
        }
    })
    .await
    .expect("in time");
    let records = read.expect("the other node accepts the iterator");
    assert_eq!(records.list("Records").map(|r| r.len()), Some(1));
}

/// A stream with metadata bigger than a notification can carry (many shards): the other
/// node's feed reads it from its row. Versions reported never go back.
#[tokio::test]
async fn the_feed_brings_metadata_too_big_for_a_notification() {
    let Some(cluster) = Cluster::start().await else { return };
    let (a, b) = (cluster.node().await, cluster.node().await);
    let mut feed = b.changes();
    let big = |version| {
        let mut meta = stream(1, "big", version);
        meta.shards = ShardMeta::initial(500, meta.created_ms);
        meta
    };
    assert!(serde_json::to_string(&big(1)).unwrap().len() > 8_000);
    assert_eq!(a.put_stream(&big(1), None).await.unwrap(), Cas::Committed);
    let first = next(&mut feed).await.unwrap();
    assert!(matches!(&first, StreamChange::Put(meta) if **meta == big(1)), "{first:?}");

    // Quick successive versions: a notice whose row moved on is skipped, the newest arrives.
    for version in 2..=10 {
        assert_eq!(a.put_stream(&big(version), Some(version - 1)).await.unwrap(), Cas::Committed);
    }
    let mut seen = Vec::new();
    while seen.last() != Some(&10) {
        let change = next(&mut feed).await.unwrap();
        seen.push(put_version(&change).expect("a put").1);
    }
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "versions only grow: {seen:?}");
    assert_eq!(a.delete_stream(1, 10).await.unwrap(), Cas::Committed);
    assert!(matches!(next(&mut feed).await.unwrap(), StreamChange::Deleted { stream_id: 1 }));
}

/// The listening connections of the test's database.
async fn listeners(metadata: &Metadata) -> Vec<i32> {
    let client = metadata.client().await.unwrap();
    let rows = client
        .query(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1",
            &[&LISTENER_NAME],
        )
        .await
        .unwrap();
    rows.iter().map(|row| row.get(0)).collect()
}

/// The feed's connection is killed (`pg_terminate_backend`): it reconnects by itself, and its
/// subscriber learns what happened meanwhile, from the changes themselves or by a lag that
/// makes it read every stream again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_reconnects_when_its_connection_is_killed() {
    let Some(cluster) = Cluster::start().await else { return };
    let admin = cluster.metadata().await;
    let (a, b) = (cluster.node().await, cluster.node().await);
    let mut feed = b.changes();
    assert_eq!(a.put_stream(&stream(1, "s", 1), None).await.unwrap(), Cas::Committed);
    assert_eq!(a.put_stream(&stream(2, "t", 1), None).await.unwrap(), Cas::Committed);
    for _ in 0..2 {
        next(&mut feed).await.unwrap();
    }

    let killed = listeners(&admin).await;
    assert_eq!(killed.len(), 2, "one listener per node");
    let client = admin.client().await.unwrap();
    for pid in &killed {
        client.execute("SELECT pg_terminate_backend($1)", &[pid]).await.unwrap();
    }
    // Changes while the listeners are (most likely) away.
    assert_eq!(a.put_stream(&stream(1, "s", 2), Some(1)).await.unwrap(), Cas::Committed);
    assert_eq!(a.delete_stream(2, 1).await.unwrap(), Cas::Committed);

    tokio::time::timeout(FEED_WAIT, async {
        loop {
            let now = listeners(&admin).await;
            if now.len() == 2 && now.iter().all(|pid| !killed.contains(pid)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("both feeds listen again");
    assert_eq!(a.put_stream(&stream(1, "s", 3), Some(2)).await.unwrap(), Cas::Committed);

    let (mut lagged, mut saw_deleted) = (false, false);
    loop {
        match next(&mut feed).await {
            Err(RecvError::Lagged(_)) => lagged = true,
            Err(RecvError::Closed) => panic!("the feed closed"),
            Ok(StreamChange::Deleted { stream_id: 2 }) => saw_deleted = true,
            Ok(change) => match put_version(&change) {
                Some((1, 2)) => {}
                Some((1, 3)) => break,
                other => panic!("unexpected {other:?}"),
            },
        }
    }
    // A subscriber reading while the feed resyncs after its reconnect gets the stream's newest
    // version at that moment: version 2 may be folded into version 3, never lost silently
    // (version 3 arrived), and the deletion is always reported.
    assert!(lagged || saw_deleted, "the deletion made meanwhile, or a lag");
    if lagged {
        // What a lagging subscriber reads again.
        let stored = b.load_streams().await.unwrap();
        assert_eq!(stored.iter().map(|s| (s.id, s.version)).collect::<Vec<_>>(), [(1, 3)]);
    }
}

/// A node's restart (or kill: each change was one committed transaction) finds every change,
/// ids past i64::MAX included, and goes on from the stored versions.
#[tokio::test]
async fn a_restarted_node_finds_what_was_committed() {
    let Some(cluster) = Cluster::start().await else { return };
    let id = u64::MAX - 5;
    let node = cluster.node().await;
    assert_eq!(node.put_stream(&stream(id, "s", 1), None).await.unwrap(), Cas::Committed);
    node.put_setting("key", b"value").await.unwrap();
    node.put_setting("key", b"newer").await.unwrap();
    drop(node);
    let restarted = cluster.node().await;
    assert_eq!(restarted.get_stream(id).await.unwrap(), Some(stream(id, "s", 1)));
    assert_eq!(restarted.get_setting("key").await.unwrap().as_deref(), Some(&b"newer"[..]));
    assert_eq!(restarted.put_stream(&stream(id, "s", 2), Some(1)).await.unwrap(), Cas::Committed);
    assert_eq!(restarted.load_streams().await.unwrap(), vec![stream(id, "s", 2)]);
}

/// The database gone (stopped at once): catalog calls answer with an error instead of hanging.
#[tokio::test]
async fn catalog_calls_fail_while_the_database_is_gone() {
    let Some(mut postgres) = TestPostgres::start_own().await else { return };
    let metadata = Metadata::open(postgres.url()).await.unwrap();
    let node = PgCatalog::open(metadata).await.unwrap();
    assert_eq!(node.put_stream(&stream(1, "s", 1), None).await.unwrap(), Cas::Committed);
    postgres.stop();
    let read = tokio::time::timeout(FEED_WAIT, node.get_stream(1)).await.expect("an answer, not a hang");
    assert!(matches!(read, Err(StoreError::Catalog(_))), "{read:?}");
    let v2 = stream(1, "s", 2);
    let written =
        tokio::time::timeout(FEED_WAIT, node.put_stream(&v2, Some(1))).await.expect("an answer, not a hang");
    assert!(matches!(written, Err(StoreError::Catalog(_))), "{written:?}");
}
