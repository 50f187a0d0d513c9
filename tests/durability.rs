//! Durability end-to-end tests: SIGKILL under concurrent load must not lose, reorder, alter or
//! duplicate any acknowledged record (durability = fsync), and restarts keep the catalog
//! (streams, tags, retention, record-size settings).

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType, StreamMode, StreamModeDetails};
use aws_sdk_kinesis::Client;
use common::*;

#[derive(Debug, Clone)]
struct Ack {
    shard: String,
    seq: String,
    data: Vec<u8>,
}

/// Payloads are unique per put, a little padded so that each request does real I/O.
fn payload(worker: usize, n: usize) -> Vec<u8> {
    let mut v = format!("w{worker}-n{n}-").into_bytes();
    v.resize(v.len() + 64 + (n % 200), b'x');
    v
}

async fn tag_list(client: &Client, name: &str) -> Vec<(String, String)> {
    let out = client
        .list_tags_for_stream()
        .stream_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("ListTagsForStream {name}: {}", show(&e)));
    let mut v: Vec<(String, String)> =
        out.tags().iter().map(|t| (t.key().to_string(), t.value().unwrap_or_default().to_string())).collect();
    v.sort();
    v
}

/// Six concurrent writers (three PutRecord, three PutRecords of 25) against `stream` for
/// `load_ms`, then SIGKILL while they are still writing. Returns what was acknowledged.
async fn load_then_sigkill(
    server: &mut TestServer,
    stream: &'static str,
    round: usize,
    load_ms: u64,
    attempted: Arc<Mutex<HashSet<Vec<u8>>>>,
) -> (Vec<Ack>, usize, usize) {
    let acks: Arc<Mutex<Vec<Ack>>> = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicUsize::new(0));
    // No SDK retries: an acknowledgement is exactly one request that returned 200.
    let client = server.client_no_retry();
    let mut workers = Vec::new();
    for w in 0..6usize {
        let (client, acks, attempted, stop, errors) =
            (client.clone(), acks.clone(), attempted.clone(), stop.clone(), errors.clone());
        let id = round * 100 + w;
        workers.push(tokio::spawn(async move {
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                if w % 2 == 0 {
                    let data = payload(id, n);
                    attempted.lock().unwrap().insert(data.clone());
                    let res = client
                        .put_record()
                        .stream_name(stream)
                        .partition_key(format!("pk-{w}-{}", n % 50))
                        .data(Blob::new(data.clone()))
                        .send()
                        .await;
                    n += 1;
                    match res {
                        Ok(out) => acks.lock().unwrap().push(Ack {
                            shard: out.shard_id().to_string(),
                            seq: out.sequence_number().to_string(),
                            data,
                        }),
                        Err(_) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                } else {
                    let batch: Vec<Vec<u8>> = (0..25).map(|i| payload(id, n + i)).collect();
                    attempted.lock().unwrap().extend(batch.iter().cloned());
                    let entries: Vec<PutRecordsRequestEntry> = batch
                        .iter()
                        .enumerate()
                        .map(|(i, d)| {
                            PutRecordsRequestEntry::builder()
                                .partition_key(format!("pk-{w}-{}", (n + i) % 50))
                                .data(Blob::new(d.clone()))
                                .build()
                                .unwrap()
                        })
                        .collect();
                    n += 25;
                    match client.put_records().stream_name(stream).set_records(Some(entries)).send().await {
                        Ok(out) => {
                            assert_eq!(out.records().len(), batch.len(), "one result per entry");
                            let mut a = acks.lock().unwrap();
                            for (d, r) in batch.into_iter().zip(out.records()) {
                                if let (None, Some(shard), Some(seq)) =
                                    (r.error_code(), r.shard_id(), r.sequence_number())
                                {
                                    a.push(Ack { shard: shard.to_string(), seq: seq.to_string(), data: d });
                                }
                            }
                        }
                        Err(_) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(load_ms)).await;
    let acked_before_kill = acks.lock().unwrap().len();
    server.kill9();
    // The workers keep hammering the dead port briefly; their in-flight requests fail.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        tokio::time::timeout(Duration::from_secs(20), w)
            .await
            .expect("worker did not stop")
            .expect("worker panicked");
    }
    let acks = acks.lock().unwrap().clone();
    (acks, acked_before_kill, errors.load(Ordering::Relaxed))
}

/// Read every shard of `stream` and check the acknowledged records against it: all present
/// with the same sequence number and data, shards in strictly increasing sequence order,
/// nothing duplicated, nothing that was never written. Returns each shard's last sequence
/// number.
async fn verify_after_recovery(
    client: &Client,
    stream: &str,
    acks: &[Ack],
    attempted: &HashSet<Vec<u8>>,
    round: usize,
) -> HashMap<String, String> {
    let shards = list_all_shards(client, stream).await;
    let mut all_data: HashSet<Vec<u8>> = HashSet::new();
    let mut by_shard: HashMap<String, HashMap<String, Vec<u8>>> = HashMap::new();
    let mut max_seq: HashMap<String, String> = HashMap::new();
    let mut total = 0usize;
    for s in &shards {
        let recs = read_shard(client, stream, s.shard_id()).await;
        total += recs.len();
        for w in recs.windows(2) {
            assert_eq!(
                cmp_seq(w[1].sequence_number(), w[0].sequence_number()),
                std::cmp::Ordering::Greater,
                "round {round}: records of {} out of sequence order after recovery",
                s.shard_id()
            );
        }
        let m = by_shard.entry(s.shard_id().to_string()).or_default();
        for r in &recs {
            let d = r.data().as_ref().to_vec();
            assert!(
                attempted.contains(&d),
                "round {round}: recovered a record nobody wrote: {:?}",
                String::from_utf8_lossy(&d)
            );
            assert!(
                all_data.insert(d.clone()),
                "round {round}: record duplicated after recovery: {:?}",
                String::from_utf8_lossy(&d)
            );
            m.insert(r.sequence_number().to_string(), d);
        }
        if let Some(last) = recs.last() {
            max_seq.insert(s.shard_id().to_string(), last.sequence_number().to_string());
        }
    }
    let mut lost = Vec::new();
    for a in acks {
        match by_shard.get(&a.shard).and_then(|m| m.get(&a.seq)) {
            Some(d) if *d == a.data => {}
            Some(d) => panic!(
                "round {round}: acknowledged {}/{} came back with other data: {:?} vs {:?}",
                a.shard,
                a.seq,
                String::from_utf8_lossy(d),
                String::from_utf8_lossy(&a.data)
            ),
            None => lost.push(a.clone()),
        }
    }
    eprintln!("crash test round {round}: {} acknowledged in total, {total} recovered", acks.len());
    assert!(
        lost.is_empty(),
        "round {round}: {} of {} acknowledged records lost after SIGKILL (recovered {total}); first: {:?}",
        lost.len(),
        acks.len(),
        lost.first()
    );
    max_seq
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_records_survive_sigkill_under_load() {
    let mut server = TestServer::start(); // durability fsync
    let setup = server.client();
    create_stream_and_wait(&setup, "crash", 4).await;
    let shards_before = list_all_shards(&setup, "crash").await;
    let attempted: Arc<Mutex<HashSet<Vec<u8>>>> = Arc::new(Mutex::new(HashSet::new()));
    let mut all_acks: Vec<Ack> = Vec::new();

    // Two rounds: the second one appends to logs that were themselves recovered from a kill.
    for (round, load_ms) in [(0usize, 1500u64), (1, 700)] {
        let (acks, before_kill, errors) =
            load_then_sigkill(&mut server, "crash", round, load_ms, attempted.clone()).await;
        eprintln!(
            "crash test round {round}: {} acknowledged ({before_kill} before the kill), {errors} failed requests",
            acks.len()
        );
        assert!(
            before_kill >= 50,
            "round {round}: only {before_kill} records acknowledged in {load_ms} ms under load; \
             {errors} failed requests\n--- stderr ---\n{}",
            server.stderr()
        );
        all_acks.extend(acks);

        server.start_again();
        let client = server.client();
        wait_active(&client, "crash").await;
        let shards_after = list_all_shards(&client, "crash").await;
        assert_eq!(shards_after, shards_before, "round {round}: shards changed across the crash");
        let attempted_now = attempted.lock().unwrap().clone();
        let max_seq = verify_after_recovery(&client, "crash", &all_acks, &attempted_now, round).await;

        // Writing continues with larger sequence numbers on every shard.
        for (i, (start, _)) in expected_ranges(4).iter().enumerate() {
            let data = format!("after-round-{round}-{i}").into_bytes();
            attempted.lock().unwrap().insert(data.clone());
            let out = client
                .put_record()
                .stream_name("crash")
                .partition_key("after")
                .explicit_hash_key(start.to_string())
                .data(Blob::new(data.clone()))
                .send()
                .await
                .unwrap_or_else(|e| panic!("round {round}: PutRecord after recovery: {}", show(&e)));
            assert_eq!(out.shard_id(), shard_id(i as u32));
            if let Some(prev) = max_seq.get(out.shard_id()) {
                assert_eq!(
                    cmp_seq(out.sequence_number(), prev),
                    std::cmp::Ordering::Greater,
                    "round {round}: sequence numbers went backwards after recovery on {}",
                    out.shard_id()
                );
            }
            all_acks.push(Ack {
                shard: out.shard_id().to_string(),
                seq: out.sequence_number().to_string(),
                data,
            });
        }
    }
}

#[tokio::test]
async fn catalog_survives_graceful_restart_and_sigkill() {
    let mut server = TestServer::start();
    let client = server.client();
    create_stream_and_wait(&client, "meta-a", 2).await;
    client
        .create_stream()
        .stream_name("meta-b")
        .stream_mode_details(StreamModeDetails::builder().stream_mode(StreamMode::OnDemand).build().unwrap())
        .send()
        .await
        .unwrap();
    wait_active(&client, "meta-b").await;
    create_stream_and_wait(&client, "meta-c", 1).await;

    client
        .add_tags_to_stream()
        .stream_name("meta-a")
        .tags("env", "test")
        .tags("team", "x")
        .send()
        .await
        .unwrap();
    client.tag_resource().resource_arn(stream_arn("meta-b")).tags("b", "1").send().await.unwrap();
    client
        .increase_stream_retention_period()
        .stream_name("meta-a")
        .retention_period_hours(72)
        .send()
        .await
        .unwrap();
    client
        .update_max_record_size()
        .stream_arn(stream_arn("meta-b"))
        .max_record_size_in_kib(2048)
        .send()
        .await
        .unwrap();
    client.delete_stream().stream_name("meta-c").send().await.unwrap();
    let put = client
        .put_record()
        .stream_name("meta-a")
        .partition_key("k")
        .data(Blob::new("kept"))
        .send()
        .await
        .unwrap();
    wait_active(&client, "meta-a").await;
    wait_active(&client, "meta-b").await;
    let desc_before = client.describe_stream().stream_name("meta-a").send().await.unwrap();
    let desc_before = desc_before.stream_description().unwrap().clone();

    async fn check(
        client: &Client,
        desc_before: &aws_sdk_kinesis::types::StreamDescription,
        extra_tag: bool,
    ) {
        let names = client.list_streams().send().await.unwrap();
        assert_eq!(names.stream_names(), &["meta-a", "meta-b"], "streams after restart");
        let a = client.describe_stream().stream_name("meta-a").send().await.unwrap();
        let a = a.stream_description().unwrap();
        assert_eq!(a.retention_period_hours(), 72);
        assert_eq!(a.stream_creation_timestamp(), desc_before.stream_creation_timestamp());
        assert_eq!(a.shards(), desc_before.shards(), "shards (ids, ranges, starting sequence numbers)");
        let mut want = vec![("env".to_string(), "test".to_string()), ("team".to_string(), "x".to_string())];
        if extra_tag {
            want.insert(0, ("added-before-kill".to_string(), "yes".to_string()));
        }
        assert_eq!(tag_list(client, "meta-a").await, want);
        assert_eq!(tag_list(client, "meta-b").await, vec![("b".to_string(), "1".to_string())]);
        let b = client.describe_stream_summary().stream_name("meta-b").send().await.unwrap();
        let b = b.stream_description_summary().unwrap();
        assert_eq!(b.max_record_size_in_kib(), Some(2048));
        assert_eq!(b.open_shard_count(), 4);
        assert_eq!(b.stream_mode_details().map(|m| m.stream_mode().clone()), Some(StreamMode::OnDemand));
        assert!(
            client.describe_stream_summary().stream_name("meta-c").send().await.is_err(),
            "deleted stays deleted"
        );
    }

    server.restart();
    let client = server.client();
    check(&client, &desc_before, false).await;
    let recs = read_shard(&client, "meta-a", put.shard_id()).await;
    assert_eq!(datas_of(&recs), vec![b"kept".to_vec()]);
    assert_eq!(recs[0].sequence_number(), put.sequence_number());

    // Changes acknowledged just before a SIGKILL are kept as well.
    client.add_tags_to_stream().stream_name("meta-a").tags("added-before-kill", "yes").send().await.unwrap();
    let put2 = client
        .put_record()
        .stream_name("meta-a")
        .partition_key("k")
        .data(Blob::new("kept-2"))
        .send()
        .await
        .unwrap();
    server.kill9();
    server.start_again();
    let client = server.client();
    check(&client, &desc_before, true).await;
    let recs = read_shard(&client, "meta-a", put2.shard_id()).await;
    assert_eq!(recs.last().unwrap().sequence_number(), put2.sequence_number());
    assert_eq!(recs.last().unwrap().data().as_ref(), b"kept-2");
    let limits = client.describe_limits().send().await.unwrap();
    assert_eq!(limits.open_shard_count(), 6);
    assert_eq!(limits.on_demand_stream_count(), 1);
}

fn datas_of(recs: &[aws_sdk_kinesis::types::Record]) -> Vec<Vec<u8>> {
    recs.iter().map(|r| r.data().as_ref().to_vec()).collect()
}

#[tokio::test]
async fn shard_iterator_survives_restart() {
    // `docs/architecture.md`, "Reads and iterators": iterators are authenticated with a key kept
    // in the catalog, so an iterator issued before a restart keeps working (within its 5 minutes).
    let mut server = TestServer::start();
    let client = server.client();
    create_stream_and_wait(&client, "iter", 1).await;
    client.put_record().stream_name("iter").partition_key("k").data(Blob::new("one")).send().await.unwrap();
    let it = client
        .get_shard_iterator()
        .stream_name("iter")
        .shard_id(shard_id(0))
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap()
        .shard_iterator()
        .unwrap()
        .to_string();
    server.restart();
    let client = server.client();
    let start = Instant::now();
    let recs = read_from_iterator(&client, it).await;
    assert_eq!(datas_of(&recs), vec![b"one".to_vec()]);
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn restart_with_os_durability_keeps_cleanly_stopped_data() {
    // `--durability os` skips fsync, but a graceful stop must still leave every record readable.
    let mut server = TestServer::start_with(ServerOptions::default().durability("os"));
    let client = server.client();
    create_stream_and_wait(&client, "osd", 2).await;
    let entries: Vec<PutRecordsRequestEntry> = (0..200)
        .map(|i| {
            PutRecordsRequestEntry::builder()
                .partition_key(format!("k{i}"))
                .data(Blob::new(format!("v{i}")))
                .build()
                .unwrap()
        })
        .collect();
    let out = client.put_records().stream_name("osd").set_records(Some(entries)).send().await.unwrap();
    assert_eq!(out.failed_record_count(), Some(0));
    server.restart();
    let client = server.client();
    let mut n = 0;
    for s in 0..2 {
        n += read_shard(&client, "osd", &shard_id(s)).await.len();
    }
    assert_eq!(n, 200);
}
