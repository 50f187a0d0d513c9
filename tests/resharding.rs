//! Resharding under load: writers put records with many partition keys while the stream is
//! split, merged and rescaled; afterwards every shard is read parents-first, and every
//! acknowledged record must be there exactly once, each key's records in the order written.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ScalingType, ShardIteratorType};
use aws_sdk_kinesis::Client;
use common::*;

const WRITERS: usize = 4;
const KEYS_PER_WRITER: usize = 40;

/// One writer: keys `w{writer}-k{n}`, each record's data `key:counter`, counters increasing per
/// key. Returns every acknowledged (key, counter).
async fn write_until(
    client: Client,
    stream: String,
    writer: usize,
    stop: Arc<AtomicBool>,
) -> Vec<(String, u64)> {
    let mut counters = vec![0u64; KEYS_PER_WRITER];
    let mut acked = Vec::new();
    let mut round = 0usize;
    while !stop.load(Ordering::SeqCst) {
        // Each batch holds one record per key (so a key's records are never reordered inside
        // one PutRecords, whose entries AWS does not order).
        let keys: Vec<usize> = (0..KEYS_PER_WRITER).filter(|k| (k + round).is_multiple_of(3)).collect();
        round += 1;
        let entries: Vec<_> = keys
            .iter()
            .map(|&k| {
                let key = format!("w{writer}-k{k}");
                PutRecordsRequestEntry::builder()
                    .partition_key(&key)
                    .data(Blob::new(format!("{key}:{}", counters[k])))
                    .build()
                    .unwrap()
            })
            .collect();
        let out = client
            .put_records()
            .stream_name(&stream)
            .set_records(Some(entries))
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutRecords while resharding: {}", show(&e)));
        assert_eq!(out.failed_record_count(), Some(0), "{out:?}");
        for &k in &keys {
            acked.push((format!("w{writer}-k{k}"), counters[k]));
            counters[k] += 1;
        }
    }
    acked
}

async fn reshard(client: &Client, stream: &str) {
    let shards = list_all_shards(client, stream).await;
    let first = &shards[0];
    let range = first.hash_key_range().unwrap();
    let (start, end): (u128, u128) =
        (range.starting_hash_key().parse().unwrap(), range.ending_hash_key().parse().unwrap());
    client
        .split_shard()
        .stream_name(stream)
        .shard_to_split(first.shard_id())
        .new_starting_hash_key((start + (end - start) / 2).to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("SplitShard: {}", show(&e)));
    wait_active(client, stream).await;

    // Merge the two lowest open shards (adjacent by construction).
    let mut open: Vec<_> = list_all_shards(client, stream)
        .await
        .into_iter()
        .filter(|s| s.sequence_number_range().unwrap().ending_sequence_number().is_none())
        .collect();
    open.sort_by_key(|s| s.hash_key_range().unwrap().starting_hash_key().parse::<u128>().unwrap());
    client
        .merge_shards()
        .stream_name(stream)
        .shard_to_merge(open[0].shard_id())
        .adjacent_shard_to_merge(open[1].shard_id())
        .send()
        .await
        .unwrap_or_else(|e| panic!("MergeShards: {}", show(&e)));
    wait_active(client, stream).await;

    for target in [4, 3] {
        client
            .update_shard_count()
            .stream_name(stream)
            .target_shard_count(target)
            .scaling_type(ScalingType::UniformScaling)
            .send()
            .await
            .unwrap_or_else(|e| panic!("UpdateShardCount {target}: {}", show(&e)));
        wait_active(client, stream).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_record_survives_resharding_once_and_in_key_order() {
    let server = TestServer::start_with(ServerOptions::default().transition_ms(0, 0, 50));
    let client = server.client();
    let stream = "reshard-under-load";
    create_stream_and_wait(&client, stream, 2).await;

    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| tokio::spawn(write_until(client.clone(), stream.to_owned(), w, stop.clone())))
        .collect();
    reshard(&client, stream).await;
    stop.store(true, Ordering::SeqCst);
    let mut acked = Vec::new();
    for w in writers {
        acked.extend(w.await.unwrap());
    }
    assert!(acked.len() > 500, "the writers made progress during resharding: {}", acked.len());

    // Children always have higher indices than their parents, so shard-index order reads
    // every parent before its children, the order the KCL enforces.
    let mut shards = list_all_shards(&client, stream).await;
    shards.sort_by_key(|s| s.shard_id().to_owned());
    assert_eq!(
        shards
            .iter()
            .filter(|s| s.sequence_number_range().unwrap().ending_sequence_number().is_none())
            .count(),
        3
    );
    let mut read: HashMap<String, Vec<u64>> = HashMap::new();
    for shard in &shards {
        for record in read_shard(&client, stream, shard.shard_id()).await {
            let text = String::from_utf8(record.data().as_ref().to_vec()).unwrap();
            let (key, counter) = text.rsplit_once(':').unwrap();
            assert_eq!(record.partition_key(), Some(key));
            read.entry(key.to_owned()).or_default().push(counter.parse().unwrap());
        }
    }
    let mut expected: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (key, counter) in acked {
        expected.entry(key).or_default().push(counter);
    }
    for (key, counters) in &expected {
        assert_eq!(read.get(key), Some(counters), "key {key}: every record once, in the order written");
    }
    assert_eq!(read.len(), expected.len(), "nothing was read that was not acknowledged");
}

#[tokio::test]
async fn closed_shards_end_with_child_shards_and_no_iterator() {
    let server = TestServer::start_with(ServerOptions::default().transition_ms(0, 0, 0));
    let client = server.client();
    create_stream_and_wait(&client, "lineage", 1).await;
    client
        .put_record()
        .stream_name("lineage")
        .partition_key("a")
        .data(Blob::new("before"))
        .send()
        .await
        .unwrap();
    client
        .update_shard_count()
        .stream_name("lineage")
        .target_shard_count(2)
        .scaling_type(ScalingType::UniformScaling)
        .send()
        .await
        .unwrap();
    wait_active(&client, "lineage").await;

    // From the parent's LATEST: no records, then the end of the shard.
    let iterator = get_iterator(&client, "lineage", &shard_id(0), ShardIteratorType::Latest).await;
    let out = client.get_records().shard_iterator(iterator).send().await.unwrap();
    assert!(out.next_shard_iterator().is_none());
    let children: Vec<_> = out.child_shards().iter().map(|c| c.shard_id().to_owned()).collect();
    assert_eq!(children, vec![shard_id(1), shard_id(2)]);
    for child in out.child_shards() {
        assert_eq!(child.parent_shards(), &[shard_id(0)]);
    }

    // Writes go to the children; the parent is not writable by hash key any more.
    let put = client
        .put_record()
        .stream_name("lineage")
        .partition_key("a")
        .data(Blob::new("after"))
        .send()
        .await
        .unwrap();
    assert_ne!(put.shard_id(), shard_id(0));

    // Splitting a closed shard is refused.
    let err = client
        .split_shard()
        .stream_name("lineage")
        .shard_to_split(shard_id(0))
        .new_starting_hash_key("1000")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidArgumentException"), "{}", show(&err));
}
