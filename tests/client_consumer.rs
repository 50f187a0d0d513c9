//! The consumer against a real kinesin, whose DynamoDB keeps the lease table: three workers
//! share a 4-shard stream while records flow, KPL-aggregated and plain; one is killed without a
//! goodbye (its tasks aborted, as by `kill -9`), another stops gracefully, and a shard is split
//! and two are merged during the run. Every acknowledged record must be processed, each key's
//! records first in the order they were put, each shard's children only after it was processed
//! to its end, and a record delivered twice only if no checkpoint covered it yet. The scenario
//! runs with polling and with enhanced fan-out (subscriptions ended every few seconds by the
//! server, so the workers resubscribe throughout). The fail-over time (kill to first record
//! processed elsewhere) is printed, not asserted.

mod common;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use common::leases::{dynamodb_client, owners};
use common::{create_stream_and_wait, list_all_shards, wait_active, ServerOptions, TestServer};
use kinesin_client::consumer::{
    Checkpoint, Checkpointer, Consumer, InitialPosition, ProcessRecordsInput, RecordProcessor, Retrieval,
    SequencePosition,
};
use kinesin_client::Producer;
use tokio::time::{sleep, timeout, Instant};

const STREAM: &str = "orders";
const APPLICATION: &str = "order-counter";
const FAILOVER: Duration = Duration::from_secs(1);
/// The stream consumer of the fan-out runs.
const FAN_OUT_CONSUMER: &str = "order-counter-efo";
/// The subscription lifetime of the fan-out runs' server: short, so that subscriptions end
/// and are renewed from their continuation sequence numbers many times during a run.
const SHORT_SUBSCRIPTION_MS: &str = "2000";

/// What the processors did, in the order they did it.
#[derive(Debug, Clone)]
enum Event {
    Delivered { worker: String, shard: String, position: SequencePosition, data: String, at: Instant },
    Checkpointed { shard: String, checkpoint: Checkpoint },
}

type Log = Arc<Mutex<Vec<Event>>>;

struct Recorder {
    worker: String,
    shard: String,
    log: Log,
}

impl RecordProcessor for Recorder {
    async fn process_records(&mut self, input: ProcessRecordsInput, checkpointer: &mut Checkpointer) {
        {
            let mut log = self.log.lock().unwrap();
            for record in &input.records {
                log.push(Event::Delivered {
                    worker: self.worker.clone(),
                    shard: self.shard.clone(),
                    position: SequencePosition::new(
                        record.sequence_number.clone(),
                        record.sub_sequence_number.unwrap_or(0),
                    ),
                    data: String::from_utf8(record.data.clone()).unwrap(),
                    at: Instant::now(),
                });
            }
        }
        self.checkpoint(checkpointer).await;
    }

    async fn shard_ended(&mut self, checkpointer: &mut Checkpointer) {
        self.checkpoint(checkpointer).await;
    }

    async fn shutdown_requested(&mut self, checkpointer: &mut Checkpointer) {
        self.checkpoint(checkpointer).await;
    }
}

impl Recorder {
    /// Checkpoints and logs it under the log's lock, so the log orders it exactly against the
    /// deliveries of other workers.
    async fn checkpoint(&mut self, checkpointer: &mut Checkpointer) {
        if checkpointer.checkpoint().await.is_ok() {
            let checkpoint = checkpointer.last_checkpoint().clone();
            self.log.lock().unwrap().push(Event::Checkpointed { shard: self.shard.clone(), checkpoint });
        }
    }
}

fn fan_out() -> Retrieval {
    Retrieval::FanOut { consumer_name: FAN_OUT_CONSUMER.to_owned() }
}

/// A server whose subscriptions end after [`SHORT_SUBSCRIPTION_MS`].
fn server_for(retrieval: &Retrieval) -> TestServer {
    match retrieval {
        Retrieval::Polling => TestServer::start(),
        Retrieval::FanOut { .. } => TestServer::start_with(
            ServerOptions::default().arg("--subscription-ms").arg(SHORT_SUBSCRIPTION_MS),
        ),
    }
}

async fn start_worker(server: &TestServer, name: &str, log: &Log, retrieval: &Retrieval) -> Consumer {
    let (worker, log) = (name.to_owned(), Arc::clone(log));
    Consumer::builder(server.client(), dynamodb_client(server), APPLICATION, STREAM)
        .worker_id(name)
        .retrieval(retrieval.clone())
        .failover_time(FAILOVER)
        .initial_position(InitialPosition::TrimHorizon)
        .idle_time_between_reads(Duration::from_millis(100))
        .parent_poll_interval(Duration::from_millis(200))
        .start(move |shard: &str| Recorder {
            worker: worker.clone(),
            shard: shard.to_owned(),
            log: Arc::clone(&log),
        })
        .await
        .expect("the worker starts")
}

/// How long after `since` every shard in `shards` had a record delivered by a worker other than
/// `gone`.
async fn time_until_taken_over(log: &Log, shards: &HashSet<String>, gone: &str, since: Instant) -> Duration {
    let deadline = since + Duration::from_secs(30);
    loop {
        let log = log.lock().unwrap().clone();
        let mut latest = Duration::ZERO;
        let mut all = true;
        for shard in shards {
            let first = log.iter().find_map(|event| match event {
                Event::Delivered { worker, shard: s, at, .. }
                    if s == shard && worker != gone && *at > since =>
                {
                    Some(*at)
                }
                _ => None,
            });
            match first {
                Some(at) => latest = latest.max(at - since),
                None => all = false,
            }
        }
        if all {
            return latest;
        }
        assert!(Instant::now() < deadline, "shards {shards:?} of {gone} were not taken over");
        sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_survive_a_kill_a_graceful_stop_a_split_and_a_merge() {
    survive_a_kill_a_graceful_stop_a_split_and_a_merge(Retrieval::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_fan_out_workers_survive_a_kill_a_graceful_stop_a_split_and_a_merge() {
    survive_a_kill_a_graceful_stop_a_split_and_a_merge(fan_out()).await;
}

/// Record `n`'s partition key.
fn key_of(n: u32) -> String {
    format!("key-{}", n % 97)
}

async fn survive_a_kill_a_graceful_stop_a_split_and_a_merge(retrieval: Retrieval) {
    let server = server_for(&retrieval);
    let kinesis = server.client();
    let dynamodb = dynamodb_client(&server);
    create_stream_and_wait(&kinesis, STREAM, 4).await;
    let log: Log = Arc::default();

    // Records flow all along, through the producer (which follows the resharding): the records
    // of even keys KPL-aggregated, those of odd keys plain.
    let producer = |aggregation| {
        Producer::builder(kinesis.clone(), STREAM)
            .linger(Duration::from_millis(10))
            .aggregation(aggregation)
            .build()
    };
    let (aggregating, plain) = (producer(true).await.unwrap(), producer(false).await.unwrap());
    let (stop_putting, putting_stopped) = tokio::sync::watch::channel(false);
    let putting = {
        let producers = [aggregating.clone(), plain.clone()];
        tokio::spawn(async move {
            let mut deliveries = Vec::new();
            for n in 0u32.. {
                if *putting_stopped.borrow() {
                    break;
                }
                let producer = &producers[(n % 97 % 2) as usize];
                deliveries.push(producer.put(key_of(n), n.to_string()).await.unwrap());
                if n % 20 == 19 {
                    sleep(Duration::from_millis(20)).await;
                }
            }
            let mut acked = Vec::new();
            for (n, delivery) in deliveries.into_iter().enumerate() {
                delivery.await.unwrap_or_else(|e| panic!("record {n} was not put: {e}"));
                acked.push(n.to_string());
            }
            acked
        })
    };

    let mut workers: HashMap<&str, Consumer> = HashMap::new();
    for name in ["a", "b", "c"] {
        workers.insert(name, start_worker(&server, name, &log, &retrieval).await);
    }
    // The three share the four shards.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let held = owners(&dynamodb, APPLICATION).await;
        let distinct: HashSet<&String> = held.values().collect();
        if held.len() == 4 && distinct.len() == 3 {
            break;
        }
        assert!(Instant::now() < deadline, "the workers did not share the shards: {held:?}");
        sleep(Duration::from_millis(100)).await;
    }

    // a dies without a goodbye.
    let held_by_a: HashSet<String> = owners(&dynamodb, APPLICATION)
        .await
        .into_iter()
        .filter(|(_, owner)| owner == "a")
        .map(|(shard, _)| shard)
        .collect();
    let killed = Instant::now();
    workers.remove("a").unwrap().abort();
    let failover = time_until_taken_over(&log, &held_by_a, "a", killed).await;
    println!(
        "fail-over after a kill: {failover:?} for {} shard(s), failover time {FAILOVER:?}",
        held_by_a.len()
    );

    // A split and a merge while b and c run.
    let shards = list_all_shards(&kinesis, STREAM).await;
    let first = &shards[0];
    let range = first.hash_key_range.as_ref().unwrap();
    let (start, end): (u128, u128) =
        (range.starting_hash_key.parse().unwrap(), range.ending_hash_key.parse().unwrap());
    kinesis
        .split_shard()
        .stream_name(STREAM)
        .shard_to_split(&first.shard_id)
        .new_starting_hash_key((start + (end - start) / 2).to_string())
        .send()
        .await
        .unwrap();
    wait_active(&kinesis, STREAM).await;
    sleep(Duration::from_millis(500)).await;
    kinesis
        .merge_shards()
        .stream_name(STREAM)
        .shard_to_merge(&shards[2].shard_id)
        .adjacent_shard_to_merge(&shards[3].shard_id)
        .send()
        .await
        .unwrap();
    wait_active(&kinesis, STREAM).await;
    sleep(Duration::from_secs(1)).await;

    // b stops gracefully: c continues its shards at once.
    let held_by_b: HashSet<String> = owners(&dynamodb, APPLICATION)
        .await
        .into_iter()
        .filter(|(_, owner)| owner == "b")
        .map(|(shard, _)| shard)
        .collect();
    let stopping = Instant::now();
    workers.remove("b").unwrap().shutdown().await;
    println!("graceful stop of b took {:?}", stopping.elapsed());
    let open: HashSet<String> = list_all_shards(&kinesis, STREAM)
        .await
        .into_iter()
        .filter(|s| s.sequence_number_range.as_ref().unwrap().ending_sequence_number.is_none())
        .map(|s| s.shard_id)
        .collect();
    let handed_over: HashSet<String> = held_by_b.intersection(&open).cloned().collect();
    if !handed_over.is_empty() {
        let handoff = time_until_taken_over(&log, &handed_over, "b", stopping).await;
        println!("hand-off after a graceful stop: {handoff:?} for {} shard(s)", handed_over.len());
    }

    stop_putting.send(true).unwrap();
    let acked: BTreeSet<String> =
        timeout(Duration::from_secs(60), putting).await.unwrap().unwrap().into_iter().collect();
    aggregating.close().await.unwrap();
    plain.close().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let processed: BTreeSet<String> = log
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                Event::Delivered { data, .. } => Some(data.clone()),
                _ => None,
            })
            .collect();
        let missing: Vec<&String> = acked.difference(&processed).collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} acknowledged records never processed, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(5)]
        );
        sleep(Duration::from_millis(100)).await;
    }
    workers.remove("c").unwrap().shutdown().await;

    let log = log.lock().unwrap().clone();
    check_parents_before_children(&log, &list_all_shards(&kinesis, STREAM).await);
    check_each_keys_order(&log);
    let duplicates = check_duplicates_only_after_checkpoints(&log);
    let deliveries = log.iter().filter(|e| matches!(e, Event::Delivered { .. })).count();
    let sub_records = log
        .iter()
        .filter(|e| matches!(e, Event::Delivered { position, .. } if position.sub_sequence_number > 0))
        .count();
    assert!(sub_records > 0, "no aggregated record was de-aggregated");
    println!(
        "{retrieval:?}: {} records put, {deliveries} deliveries ({sub_records} sub-records after the first of \
         their aggregate), {duplicates} of them repeats",
        acked.len()
    );
}

/// The first delivery of each record came in the order its key's records were put (the
/// producer keeps each key's order, and records of a key carry increasing numbers).
fn check_each_keys_order(log: &[Event]) {
    let mut seen: HashSet<u32> = HashSet::new();
    let mut last_of_key: HashMap<String, u32> = HashMap::new();
    for event in log {
        let Event::Delivered { data, shard, .. } = event else { continue };
        let n: u32 = data.parse().unwrap();
        if !seen.insert(n) {
            continue;
        }
        if let Some(last) = last_of_key.insert(key_of(n), n) {
            assert!(last < n, "record {n} of {} (in {shard}) first delivered after record {last}", key_of(n));
        }
    }
}

/// A child's first record was delivered after each of its parents was checkpointed at SHARD_END.
fn check_parents_before_children(log: &[Event], shards: &[aws_sdk_kinesis::types::Shard]) {
    let ended = |shard: &str| {
        log.iter().position(
            |e| matches!(e, Event::Checkpointed { shard: s, checkpoint: Checkpoint::ShardEnd } if s == shard),
        )
    };
    let mut children = 0;
    for shard in shards {
        let parents = [&shard.parent_shard_id, &shard.adjacent_parent_shard_id];
        let first =
            log.iter().position(|e| matches!(e, Event::Delivered { shard: s, .. } if *s == shard.shard_id));
        for parent in parents.into_iter().flatten() {
            let Some(first) = first else { continue };
            children += 1;
            let parent_end = ended(parent).unwrap_or_else(|| panic!("{parent} never reached SHARD_END"));
            assert!(parent_end < first, "{} delivered before its parent {parent} ended", shard.shard_id);
        }
    }
    assert!(children >= 3, "the split's and the merge's children were processed");
}

/// A record delivered again was not covered by a checkpoint written before; returns how many
/// deliveries were repeats.
fn check_duplicates_only_after_checkpoints(log: &[Event]) -> usize {
    let mut checkpoints: HashMap<&str, &Checkpoint> = HashMap::new();
    let mut seen: HashSet<(&str, &SequencePosition)> = HashSet::new();
    let mut repeats = 0;
    for event in log {
        match event {
            Event::Checkpointed { shard, checkpoint } => {
                checkpoints.insert(shard, checkpoint);
            }
            Event::Delivered { shard, position, data, worker, .. } => {
                if !seen.insert((shard, position)) {
                    repeats += 1;
                    let covered = match checkpoints.get(shard.as_str()) {
                        Some(Checkpoint::ShardEnd) => true,
                        Some(Checkpoint::At(at)) => position <= at,
                        _ => false,
                    };
                    assert!(
                        !covered,
                        "record {data} of {shard} delivered again to {worker} after a checkpoint covered it"
                    );
                }
            }
        }
    }
    repeats
}

/// The lease writes the consumer makes (DynamoDB's legacy `Expected` and `AttributeUpdates`, as
/// the KCL 2.x sends them) are refused by the server when their condition does not hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_lease_writes_are_refused() {
    use aws_sdk_dynamodb::types::{AttributeAction, AttributeValueUpdate, ExpectedAttributeValue};
    let server = TestServer::start();
    let kinesis = server.client();
    let dynamodb = dynamodb_client(&server);
    create_stream_and_wait(&kinesis, STREAM, 1).await;
    let worker = start_worker(&server, "a", &Arc::default(), &Retrieval::Polling).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while owners(&dynamodb, APPLICATION).await.is_empty() {
        assert!(Instant::now() < deadline, "the worker took no lease");
        sleep(Duration::from_millis(50)).await;
    }
    worker.abort();
    let item = dynamodb
        .get_item()
        .table_name(APPLICATION)
        .key("leaseKey", AttributeValue::S("shardId-000000000000".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let AttributeValue::N(counter) = &item["leaseCounter"] else { panic!("{item:?}") };
    let counter: u64 = counter.parse().expect("a plain integer, as the KCL writes it");
    assert_eq!(item["leaseOwner"], AttributeValue::S("a".into()));
    let take = |expected: u64| {
        dynamodb
            .update_item()
            .table_name(APPLICATION)
            .key("leaseKey", AttributeValue::S("shardId-000000000000".into()))
            .expected(
                "leaseCounter",
                ExpectedAttributeValue::builder().value(AttributeValue::N(expected.to_string())).build(),
            )
            .attribute_updates(
                "leaseCounter",
                AttributeValueUpdate::builder()
                    .action(AttributeAction::Put)
                    .value(AttributeValue::N((expected + 1).to_string()))
                    .build(),
            )
            .attribute_updates(
                "leaseOwner",
                AttributeValueUpdate::builder()
                    .action(AttributeAction::Put)
                    .value(AttributeValue::S("b".into()))
                    .build(),
            )
            .send()
    };
    let stale = take(counter - 1).await.expect_err("a stale counter");
    assert!(stale.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()), "{stale:?}");
    take(counter).await.expect("the current counter");
    assert_eq!(owners(&dynamodb, APPLICATION).await["shardId-000000000000"], "b");
}

/// The fail-over time with a 1 s failover setting, measured five times: a worker that holds a
/// shard is killed without a goodbye while records flow, and the clock runs until the other
/// worker has processed a record of that shard. Printed, not asserted (the target is 2 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_over_time_with_a_one_second_failover() {
    measure_fail_over(Retrieval::Polling).await;
}

/// The same with enhanced fan-out. The new owner's SubscribeToShard is refused
/// (ResourceInUseException) until five seconds after the dead worker's last one, so each victim
/// is killed after it has been subscribed that long, as a worker mostly is (subscriptions last
/// five minutes); a worker killed sooner after subscribing delays its successor until then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_over_time_with_a_one_second_failover_and_fan_out() {
    measure_fail_over(fan_out()).await;
}

async fn measure_fail_over(retrieval: Retrieval) {
    let settle = match retrieval {
        Retrieval::Polling => Duration::ZERO,
        Retrieval::FanOut { .. } => Duration::from_secs(6),
    };
    let server = TestServer::start();
    let kinesis = server.client();
    let dynamodb = dynamodb_client(&server);
    create_stream_and_wait(&kinesis, STREAM, 2).await;
    let log: Log = Arc::default();
    let producer =
        Producer::builder(kinesis.clone(), STREAM).linger(Duration::from_millis(5)).build().await.unwrap();
    let putting = {
        let producer = producer.clone();
        tokio::spawn(async move {
            for n in 0u32.. {
                let _ = producer.put(format!("key-{}", n % 31), n.to_string()).await;
                sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let steady = start_worker(&server, "steady", &log, &retrieval).await;
    let (mut times, mut lease_moves) = (Vec::new(), Vec::new());
    for round in 0..5 {
        let victim = format!("victim-{round}");
        let worker = start_worker(&server, &victim, &log, &retrieval).await;
        let deadline = Instant::now() + Duration::from_secs(20);
        let held = loop {
            let held: HashSet<String> = owners(&dynamodb, APPLICATION)
                .await
                .into_iter()
                .filter(|(_, owner)| *owner == victim)
                .map(|(s, _)| s)
                .collect();
            let processing = log
                .lock()
                .unwrap()
                .iter()
                .any(|e| matches!(e, Event::Delivered { worker, .. } if *worker == victim));
            if !held.is_empty() && processing {
                break held;
            }
            assert!(Instant::now() < deadline, "{victim} never took a shard");
            sleep(Duration::from_millis(50)).await;
        };
        sleep(settle).await;
        let killed = Instant::now();
        worker.abort();
        let taken = {
            let (dynamodb, victim) = (dynamodb.clone(), victim.clone());
            tokio::spawn(async move {
                while owners(&dynamodb, APPLICATION).await.values().any(|owner| *owner == victim) {
                    sleep(Duration::from_millis(10)).await;
                }
                killed.elapsed()
            })
        };
        times.push(time_until_taken_over(&log, &held, &victim, killed).await);
        lease_moves.push(taken.await.unwrap());
    }
    putting.abort();
    steady.shutdown().await;
    times.sort();
    println!(
        "{retrieval:?}: fail-over with a 1 s failover time, kill to the first record processed by the other worker: {times:?} (median {:?}, max {:?}); kill to the lease taken, by round: {lease_moves:?}",
        times[times.len() / 2],
        times[times.len() - 1]
    );
}
