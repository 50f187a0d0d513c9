//! The corner cases of docs/protocol/corners.md, end to end through aws-sdk-kinesis (and raw
//! CBOR where the SDK cannot send the body): each rule's recorded examples, and the other
//! operations the rule covers. Refusals are checked for their HTTP status, error type and
//! exact message, and for leaving everything as it was.

mod common;

use std::fmt::Debug;
use std::time::{Duration, Instant};

use aws_sdk_kinesis::config::http::HttpResponse;
use aws_sdk_kinesis::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{
    PutRecordsRequestEntry, ShardFilter, ShardFilterType, ShardIteratorType, StartingPosition, StreamStatus,
};
use aws_sdk_kinesis::Client;
use common::*;

/// Asserts that `res` was refused with HTTP 400, error `code` and exactly `message`.
#[track_caller]
fn refused<T: Debug, E: ProvideErrorMetadata + std::error::Error + 'static>(
    res: Result<T, SdkError<E, HttpResponse>>,
    code: &str,
    message: &str,
) {
    let err = res.expect_err("the call succeeded");
    let status = err.raw_response().map(|r| r.status().as_u16());
    assert_eq!(
        (status, err.code(), err.message()),
        (Some(400), Some(code), Some(message)),
        "full error: {}",
        show(&err)
    );
}

/// A new ACTIVE stream with `shards` shards.
async fn stream(client: &Client, prefix: &str, shards: i32) -> String {
    let name = unique_name(prefix);
    create_stream_and_wait(client, &name, shards).await;
    name
}

/// What a client can see of a stream's shards: id, parents, hash range, whether closed.
async fn shard_layout(client: &Client, name: &str) -> Vec<String> {
    list_all_shards(client, name)
        .await
        .iter()
        .map(|s| {
            let range = s.hash_key_range().unwrap();
            let closed = s.sequence_number_range().unwrap().ending_sequence_number().is_some();
            format!(
                "{} {:?} {:?} {}..{} closed={closed}",
                s.shard_id(),
                s.parent_shard_id(),
                s.adjacent_parent_shard_id(),
                range.starting_hash_key(),
                range.ending_hash_key()
            )
        })
        .collect()
}

async fn status(client: &Client, name: &str) -> StreamStatus {
    let out = client.describe_stream().stream_name(name).send().await.unwrap();
    out.stream_description().unwrap().stream_status().clone()
}

/// A hex number in decimal (the recorded sequence numbers are given in hex).
fn hex(digits: &str) -> String {
    let mut limbs = [0u64; 3];
    for d in digits.chars() {
        let mut carry = u64::from(d.to_digit(16).unwrap());
        for limb in &mut limbs {
            let next = (*limb >> 60, (*limb << 4) | carry);
            (carry, *limb) = next;
        }
    }
    // Base 10^18 digits, least significant first.
    let mut out = Vec::new();
    while limbs.iter().any(|l| *l != 0) {
        let mut rem = 0u128;
        for limb in limbs.iter_mut().rev() {
            let cur = (rem << 64) | u128::from(*limb);
            *limb = (cur / 1_000_000_000_000_000_000) as u64;
            rem = cur % 1_000_000_000_000_000_000;
        }
        out.push(rem as u64);
    }
    let mut text = out.last().map_or("0".to_owned(), |top| top.to_string());
    for chunk in out.iter().rev().skip(1) {
        text += &format!("{chunk:018}");
    }
    text
}

// ---------------------------------------------------------------------------------------------
// Shard-id aliases
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn shard_id_aliases_name_shards_in_every_operation() {
    let server = TestServer::start();
    let client = server.client_no_retry();
    let s3 = stream(&client, "alias", 3).await;

    // The recorded example: `shard-0` is shard 0, named in full in the message.
    refused(
        client.split_shard().stream_name(&s3).shard_to_split("shard-0").new_starting_hash_key("1").send().await,
        "InvalidArgumentException",
        &format!(
            "NewStartingHashKey 1 used in SplitShard() on shard shardId-000000000000 in stream {s3} under account \
             {ACCOUNT} is not both greater than one plus the shard's StartingHashKey 0 and less than the shard's \
             EndingHashKey 113427455640312821154458202477256070484."
        ),
    );

    // GetShardIterator reads every alias of shard 0 as shard 0.
    let put = client
        .put_record()
        .stream_name(&s3)
        .partition_key("a")
        .explicit_hash_key("0")
        .data(Blob::new("in shard 0"))
        .send()
        .await
        .unwrap();
    assert_eq!(put.shard_id(), "shardId-000000000000");
    for alias in ["shardId-000000000000", "shardId-0", "shard-0", "anything-0", "0", "x-0000", "-0"] {
        let it = get_iterator(&client, &s3, alias, ShardIteratorType::TrimHorizon).await;
        let records = read_from_iterator(&client, it).await;
        assert_eq!(records.len(), 1, "{alias}");
        assert_eq!(records[0].data().as_ref(), b"in shard 0", "{alias}");
    }
    refused(
        client
            .get_shard_iterator()
            .stream_name(&s3)
            .shard_id("a-00002147483647")
            .shard_iterator_type(ShardIteratorType::Latest)
            .send()
            .await,
        "ResourceNotFoundException",
        &format!("Shard shardId-002147483647 in stream {s3} under account {ACCOUNT} does not exist"),
    );

    // The listing starts read aliases too.
    let ids = |shards: &[aws_sdk_kinesis::types::Shard]| -> Vec<String> {
        shards.iter().map(|s| s.shard_id().to_owned()).collect()
    };
    let after_1 = client.list_shards().stream_name(&s3).exclusive_start_shard_id("1").send().await.unwrap();
    assert_eq!(ids(after_1.shards()), ["shardId-000000000002"]);
    let filter =
        ShardFilter::builder().r#type(ShardFilterType::AfterShardId).shard_id("x-0").build().unwrap();
    let after_0 = client.list_shards().stream_name(&s3).shard_filter(filter).send().await.unwrap();
    assert_eq!(ids(after_0.shards()), ["shardId-000000000001", "shardId-000000000002"]);
    let described =
        client.describe_stream().stream_name(&s3).exclusive_start_shard_id("shard-1").send().await.unwrap();
    assert_eq!(ids(described.stream_description().unwrap().shards()), ["shardId-000000000002"]);

    // MergeShards and SplitShard act on the shards the aliases name.
    client
        .merge_shards()
        .stream_name(&s3)
        .shard_to_merge("a-0")
        .adjacent_shard_to_merge("1")
        .send()
        .await
        .unwrap_or_else(|e| panic!("MergeShards: {}", show(&e)));
    wait_active(&client, &s3).await;
    client
        .split_shard()
        .stream_name(&s3)
        .shard_to_split("shard-00002")
        .new_starting_hash_key("300000000000000000000000000000000000000")
        .send()
        .await
        .unwrap_or_else(|e| panic!("SplitShard: {}", show(&e)));
    wait_active(&client, &s3).await;
    let shards = list_all_shards(&client, &s3).await;
    let lineage: Vec<(&str, Option<&str>, Option<&str>)> =
        shards.iter().map(|s| (s.shard_id(), s.parent_shard_id(), s.adjacent_parent_shard_id())).collect();
    assert_eq!(
        lineage[3..],
        [
            ("shardId-000000000003", Some("shardId-000000000000"), Some("shardId-000000000001")),
            ("shardId-000000000004", Some("shardId-000000000002"), None),
            ("shardId-000000000005", Some("shardId-000000000002"), None),
        ]
    );
}

#[tokio::test]
async fn subscribe_to_shard_reads_shard_ids_the_same_way() {
    let server = TestServer::start();
    let client = server.client_no_retry();
    let s1 = stream(&client, "alias-efo", 1).await;
    let consumer = active_consumer(&client, &stream_arn(&s1), "c").await;
    let latest = StartingPosition::builder().r#type(ShardIteratorType::Latest).build().unwrap();
    let subscribe = |shard: &'static str| {
        client
            .subscribe_to_shard()
            .consumer_arn(&consumer)
            .shard_id(shard)
            .starting_position(latest.clone())
            .send()
    };
    refused(
        subscribe("ABKLFD8").await,
        "ResourceNotFoundException",
        &format!("Could not find shard ABKLFD8 in stream {s1} under account {ACCOUNT}."),
    );
    refused(
        subscribe("shard-7").await,
        "ResourceNotFoundException",
        &format!("Shard shardId-000000000007 in stream {s1} under account {ACCOUNT} does not exist"),
    );
    // An alias of shard 0 subscribes; the subscription's records come from shard 0.
    let mut events = subscribe("any-0").await.unwrap_or_else(|e| panic!("SubscribeToShard: {}", show(&e)));
    client.put_record().stream_name(&s1).partition_key("k").data(Blob::new("pushed")).send().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), events.event_stream.recv())
            .await
            .expect("an event in time")
            .expect("the event stream works")
            .expect("the event stream goes on");
        let records = event.as_subscribe_to_shard_event().unwrap().records();
        if let Some(record) = records.first() {
            assert_eq!(record.data().as_ref(), b"pushed");
            break;
        }
        assert!(Instant::now() < deadline, "the record never came");
    }
}

// ---------------------------------------------------------------------------------------------
// Which check comes first
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn shard_ids_are_read_before_the_stream_is_looked_up() {
    let server = TestServer::start();
    let client = server.client_no_retry();
    let s3 = stream(&client, "order", 3).await;
    let could_not_find = |shard: &str, stream: &str| {
        format!("Could not find shard {shard} in stream {stream} under account {ACCOUNT}.")
    };
    let stream_not_found = |stream: &str| format!("Stream {stream} under account {ACCOUNT} not found.");
    let merge = |stream: &str, shard: &str, adjacent: &str| {
        client
            .merge_shards()
            .stream_name(stream)
            .shard_to_merge(shard)
            .adjacent_shard_to_merge(adjacent)
            .send()
    };
    let split = |stream: &str, shard: &str| {
        client.split_shard().stream_name(stream).shard_to_split(shard).new_starting_hash_key("2").send()
    };
    let iterator = |stream: &str, shard: &str| {
        client
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(shard)
            .shard_iterator_type(ShardIteratorType::Latest)
            .send()
    };

    // An id that does not read is not found, whether or not the stream exists.
    let rnf = "ResourceNotFoundException";
    refused(merge("nosuch", "2147483648", "x-0").await, rnf, &could_not_find("2147483648", "nosuch"));
    refused(merge("nosuch", "x-0", "ABKLFD8").await, rnf, &could_not_find("ABKLFD8", "nosuch"));
    refused(
        merge(&s3, "shardId-002147483648", "x-0").await,
        rnf,
        &could_not_find("shardId-002147483648", &s3),
    );
    refused(split("nosuch", "2.14E4").await, rnf, &could_not_find("2.14E4", "nosuch"));
    refused(iterator("nosuch", "shardId-").await, rnf, &could_not_find("shardId-", "nosuch"));
    // By StreamARN alone, the message names the stream in the ARN.
    let by_arn = client
        .get_shard_iterator()
        .stream_arn(stream_arn("nosuch"))
        .shard_id("ABKLFD8")
        .shard_iterator_type(ShardIteratorType::Latest)
        .send()
        .await;
    refused(by_arn, rnf, &could_not_find("ABKLFD8", "nosuch"));

    // Then the stream: GetShardIterator reports the shard, the others the stream.
    refused(
        iterator("nosuch", "2147483647").await,
        rnf,
        &format!("Shard shardId-002147483647 in stream nosuch under account {ACCOUNT} does not exist"),
    );
    refused(merge("nosuch", "2147483647", "x-0").await, rnf, &stream_not_found("nosuch"));
    refused(merge("nosuch", "x-0", "a-00002147483647").await, rnf, &stream_not_found("nosuch"));
    refused(split("nosuch", "-00002147483647").await, rnf, &stream_not_found("nosuch"));

    // Then the shard in the stream, worded per operation.
    refused(merge(&s3, "shardId-5", "x-0").await, rnf, &could_not_find("shardId-000000000005", &s3));
    refused(merge(&s3, "x-0", "shardId-5").await, rnf, &could_not_find("shardId-000000000005", &s3));
    refused(split(&s3, "shardId-5").await, rnf, &could_not_find("shardId-000000000005", &s3));
    refused(
        iterator(&s3, "shardId-5").await,
        rnf,
        &format!("Shard shardId-000000000005 in stream {s3} under account {ACCOUNT} does not exist"),
    );
    assert_eq!(status(&client, &s3).await, StreamStatus::Active);
    assert_eq!(list_all_shards(&client, &s3).await.len(), 3);
}

// ---------------------------------------------------------------------------------------------
// MergeShards: the adjacent shard is the one above
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_reversed_merge_is_refused_and_changes_nothing() {
    let server = TestServer::start();
    let client = server.client_no_retry();
    let s3 = stream(&client, "merge", 3).await;
    let before = shard_layout(&client, &s3).await;
    let merge = |shard: &str, adjacent: &str| {
        client.merge_shards().stream_name(&s3).shard_to_merge(shard).adjacent_shard_to_merge(adjacent).send()
    };
    let not_adjacent = |a: u32, b: u32| {
        format!(
            "Shards {} and {} in stream {s3} under account {ACCOUNT} are not an adjacent pair of shards eligible for \
             merging",
            shard_id(a),
            shard_id(b)
        )
    };
    refused(merge("shardId-1", "shardId-0").await, "InvalidArgumentException", &not_adjacent(1, 0));
    refused(merge("shardId-2", "shardId-1").await, "InvalidArgumentException", &not_adjacent(2, 1));
    refused(merge("shardId-0", "shardId-2").await, "InvalidArgumentException", &not_adjacent(0, 2));
    assert_eq!(status(&client, &s3).await, StreamStatus::Active);
    assert_eq!(shard_layout(&client, &s3).await, before);

    // The pair the right way round merges.
    merge("shardId-1", "shardId-2").await.unwrap_or_else(|e| panic!("MergeShards: {}", show(&e)));
    wait_active(&client, &s3).await;
    let after = list_all_shards(&client, &s3).await;
    let child = after.last().unwrap();
    assert_eq!(
        (child.shard_id(), child.parent_shard_id(), child.adjacent_parent_shard_id()),
        ("shardId-000000000003", Some("shardId-000000000001"), Some("shardId-000000000002"))
    );
}

// ---------------------------------------------------------------------------------------------
// Tags
// ---------------------------------------------------------------------------------------------

const INVALID_TAG: &str = "Some tags contain invalid characters. Valid characters: Unicode letters, digits, \
                           white space, _ . / = + - % @.";

fn illegal_tag(change: &str, kind: &str, name: &str) -> String {
    format!(
        "Failed to {change} {kind} {name} under account {ACCOUNT} because some tags contained illegal characters. \
         The allowed characters are Unicode letters, white-spaces, '_',',','/','=','+','-','@'."
    )
}

async fn tags_of(client: &Client, name: &str) -> Vec<(String, String)> {
    let out = client.list_tags_for_stream().stream_name(name).send().await.unwrap();
    out.tags().iter().map(|t| (t.key().to_owned(), t.value().unwrap_or_default().to_owned())).collect()
}

#[tokio::test]
async fn tag_characters_are_checked_by_every_tag_operation() {
    let server = TestServer::start();
    let client = server.client_no_retry();
    let s3 = stream(&client, "tags", 3).await;
    let arn = stream_arn(&s3);
    let add = |key: &str, value: &str| client.add_tags_to_stream().stream_name(&s3).tags(key, value).send();
    let tag = |key: &str, value: &str| client.tag_resource().resource_arn(&arn).tags(key, value).send();
    let remove = |key: &str| client.remove_tags_from_stream().stream_name(&s3).tag_keys(key).send();
    let untag = |key: &str| client.untag_resource().resource_arn(&arn).tag_keys(key).send();
    let iae = "InvalidArgumentException";

    // White space is the space character and its kin, and `:` is accepted.
    add("a b", "c d").await.unwrap();
    add("no\u{a0}break", "x:y").await.unwrap();
    tag("ideographic\u{3000}space", "/=+-@_.").await.unwrap();
    let kept = tags_of(&client, &s3).await;
    assert_eq!(kept.len(), 3);

    for bad in ["abc\tdef", "abc\ndef", "abc;def", "abc,def"] {
        refused(add(bad, "1").await, iae, INVALID_TAG);
        refused(add("k", bad).await, iae, INVALID_TAG);
        refused(tag(bad, "1").await, iae, INVALID_TAG);
        refused(remove(bad).await, iae, INVALID_TAG);
        refused(untag(bad).await, iae, INVALID_TAG);
    }
    refused(add("abc%def", "1").await, iae, &illegal_tag("add tags to", "stream", &s3));
    refused(tag("k", "100%").await, iae, &illegal_tag("add tags to", "stream", &s3));
    refused(remove("abc%def").await, iae, &illegal_tag("remove tags from", "stream", &s3));
    refused(untag("abc%def").await, iae, &illegal_tag("remove tags from", "stream", &s3));
    // A bad character outranks `%`.
    refused(remove("50%\t").await, iae, INVALID_TAG);
    assert_eq!(tags_of(&client, &s3).await, kept, "refused requests changed nothing");

    // The stream is looked up first.
    refused(
        client.remove_tags_from_stream().stream_name("nosuch").tag_keys("a\tb").send().await,
        "ResourceNotFoundException",
        &format!("Stream nosuch under account {ACCOUNT} not found."),
    );

    // CreateStream's tags follow the same rule, and a refused stream is not created.
    let born = unique_name("born");
    refused(
        client.create_stream().stream_name(&born).shard_count(1).tags("a\tb", "1").send().await,
        iae,
        INVALID_TAG,
    );
    refused(
        client.create_stream().stream_name(&born).shard_count(1).tags("a", "5%").send().await,
        iae,
        &illegal_tag("add tags to", "stream", &born),
    );
    let names = client.list_streams().send().await.unwrap().stream_names().to_vec();
    assert_eq!(names, std::slice::from_ref(&s3));
}

// ---------------------------------------------------------------------------------------------
// A stream in CREATING has no shards
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_creating_stream_has_no_shards_anywhere() {
    // Streams stay CREATING for 5 s and DELETING for a minute.
    let server = TestServer::start_with(ServerOptions::default().transition_ms(5_000, 60_000, 0));
    let client = server.client_no_retry();
    let c1 = unique_name("c1");
    client.create_stream().stream_name(&c1).shard_count(2).send().await.unwrap();

    let described = client.describe_stream().stream_name(&c1).send().await.unwrap();
    let description = described.stream_description().unwrap();
    assert_eq!(description.stream_status(), &StreamStatus::Creating);
    assert!(description.shards().is_empty());
    assert!(!description.has_more_shards());
    assert!(client.list_shards().stream_name(&c1).send().await.unwrap().shards().is_empty());
    let summary = client.describe_stream_summary().stream_name(&c1).send().await.unwrap();
    assert_eq!(summary.stream_description_summary().unwrap().open_shard_count(), 0);
    let shard_0_missing =
        format!("Shard shardId-000000000000 in stream {c1} under account {ACCOUNT} does not exist");
    refused(
        client
            .get_shard_iterator()
            .stream_name(&c1)
            .shard_id("shardId-000000000000")
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await,
        "ResourceNotFoundException",
        &shard_0_missing,
    );
    refused(
        client
            .split_shard()
            .stream_name(&c1)
            .shard_to_split("shardId-0")
            .new_starting_hash_key("2")
            .send()
            .await,
        "ResourceNotFoundException",
        &format!("Could not find shard shardId-000000000000 in stream {c1} under account {ACCOUNT}."),
    );

    // Deleted while CREATING: DELETING, still without shards.
    client.delete_stream().stream_name(&c1).send().await.unwrap();
    let described = client.describe_stream().stream_name(&c1).send().await.unwrap();
    let description = described.stream_description().unwrap();
    assert_eq!(description.stream_status(), &StreamStatus::Deleting);
    assert!(description.shards().is_empty());
    assert!(client.list_shards().stream_name(&c1).send().await.unwrap().shards().is_empty());

    // Once ACTIVE, a stream has its shards.
    let c2 = unique_name("c2");
    client.create_stream().stream_name(&c2).shard_count(2).send().await.unwrap();
    assert!(client.list_shards().stream_name(&c2).send().await.unwrap().shards().is_empty());
    wait_active(&client, &c2).await;
    assert_eq!(list_all_shards(&client, &c2).await.len(), 2);
    get_iterator(&client, &c2, "shardId-000000000000", ShardIteratorType::TrimHorizon).await;
}

// ---------------------------------------------------------------------------------------------
// GetRecords after the stream is gone
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn get_records_after_the_stream_is_gone_names_it() {
    let server = TestServer::start();
    let client = server.client_no_retry();
    let g1 = stream(&client, "g1", 2).await;
    let shard_1 = get_iterator(&client, &g1, "shardId-000000000001", ShardIteratorType::TrimHorizon).await;
    let shard_0 = get_iterator(&client, &g1, "shardId-000000000000", ShardIteratorType::TrimHorizon).await;
    let missing = |shard: u32| {
        format!("Shard {} in stream {g1} under account {ACCOUNT} does not exist", shard_id(shard))
    };
    client.delete_stream().stream_name(&g1).send().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.describe_stream_summary().stream_name(&g1).send().await.is_ok() {
        assert!(Instant::now() < deadline, "the stream was never deleted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let get = |iterator: &String| client.get_records().shard_iterator(iterator).send();
    refused(get(&shard_1).await, "ResourceNotFoundException", &missing(1));

    // Re-created without that shard, and with it: the iterator's stream is still gone.
    create_stream_and_wait(&client, &g1, 1).await;
    refused(get(&shard_1).await, "ResourceNotFoundException", &missing(1));
    refused(get(&shard_0).await, "ResourceNotFoundException", &missing(0));
}

// ---------------------------------------------------------------------------------------------
// Sequence numbers in every layout
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn sequence_numbers_for_ordering_in_every_layout() {
    let server = TestServer::start();
    let client = server.client_no_retry();
    let s3 = stream(&client, "order-seq", 3).await;
    let put = |seq: String| {
        client
            .put_record()
            .stream_name(&s3)
            .partition_key("a")
            .data(Blob::new(""))
            .sequence_number_for_ordering(seq)
            .send()
    };
    let invalid = |seq: &str| {
        format!("ExclusiveMinimumSequenceNumber {seq} used in PutRecord on stream {s3} under account {ACCOUNT} is invalid.")
    };

    // Refused: seq_ix's top bit (the recorded example), a negative shard index, unknown versions,
    // a version-0 shard created after 2477, a record from the future.
    let soon = format!("{:x}", now_ms() / 1000 + 60);
    let future = format!("200000000000000000000000000000{soon}000000002");
    let mut refused_numbers = vec!["49039857307719593840066370180380661734935976090628259842".to_owned()];
    for digits in [
        "20000000000000000000000000000000000000800000002",
        "20000000000000000000000000000000000000000000000",
        "20000000000000000000000000000000000000000000004",
        "30000000000000000000000000000000000000000000001",
        "1ffffffffff7fffffffffffffff000000000007fffffff2",
        "13bb2cc3d80000000000000000000000",
        &future,
    ] {
        refused_numbers.push(hex(digits));
    }
    for seq in &refused_numbers {
        refused(put(seq.clone()).await, "InvalidArgumentException", &invalid(seq));
    }
    for shard in 0..3 {
        assert!(read_shard(&client, &s3, &shard_id(shard)).await.is_empty(), "a refused put wrote a record");
    }

    // Accepted: version 0 (below 2^124 too), version 1, version 2 at every field's maximum.
    for seq in [
        "5".to_owned(),
        "0".to_owned(),
        "21269319989652663814458848515492872193".to_owned(),
        hex("13bb2cc3d7ff7fffffffffffffff0000"),
        hex("20000000000000000000000000000000000000000000001"),
        hex("2ffffffffff7fffffffffffffff000000000007fffffff2"),
    ] {
        let out = put(seq.clone()).await.unwrap_or_else(|e| panic!("{seq}: {}", show(&e)));
        assert_eq!(out.shard_id(), "shardId-000000000000");
    }
    // And this server's own numbers.
    let last = put("0".to_owned()).await.unwrap().sequence_number().to_owned();
    put(last).await.unwrap();
}

#[tokio::test]
async fn starting_sequence_numbers_in_every_layout() {
    let server = TestServer::start();
    let client = server.client_no_retry();
    let s3 = stream(&client, "start-seq", 3).await;
    let at = |shard: &str, seq: &str, ty: ShardIteratorType| {
        client
            .get_shard_iterator()
            .stream_name(&s3)
            .shard_id(shard)
            .shard_iterator_type(ty)
            .starting_sequence_number(seq)
            .send()
    };
    let iae = "InvalidArgumentException";
    let not_from_here = |seq: &str, shard: u32| {
        format!(
            "StartingSequenceNumber {seq} used in GetShardIterator on shard {} in stream {s3} under account {ACCOUNT} \
             is invalid because it did not come from this stream.",
            shard_id(shard)
        )
    };
    let invalid = |seq: &str| {
        format!(
            "StartingSequenceNumber {seq} used in GetShardIterator on shard shardId-000000000000 in stream {s3} \
             under account {ACCOUNT} is invalid."
        )
    };

    // The recorded example: a version-0 number names shard 5 in its low 16 bits.
    refused(
        at("shardId-0", "5", ShardIteratorType::AtSequenceNumber).await,
        iae,
        "Invalid StartingSequenceNumber. It encodes shardId-000000000005, while it was used in a call to a shard \
         with shardId-000000000000",
    );
    // Of the right shard, but not of this stream: version 0 is written in its 128-bit form.
    refused(
        at("shardId-0", "0", ShardIteratorType::AtSequenceNumber).await,
        iae,
        &not_from_here("21267647932558653966460912964485513216", 0),
    );
    refused(
        at("shardId-2", "425352958651173072921826052383309826", ShardIteratorType::AfterSequenceNumber).await,
        iae,
        &not_from_here("21693000891209827039382739016868823042", 2),
    );
    let v1 = hex("20000000000000000000000000000000000000000000001");
    refused(at("shardId-0", &v1, ShardIteratorType::AtSequenceNumber).await, iae, &not_from_here(&v1, 0));
    let top = hex("2ffffffffff7fffffffffffffff000000000007fffffff2");
    refused(
        at("shardId-0", &top, ShardIteratorType::AtSequenceNumber).await,
        iae,
        "Invalid StartingSequenceNumber. It encodes shardId-002147483647, while it was used in a call to a shard \
         with shardId-000000000000",
    );
    // Not a sequence number AWS reads at all.
    for digits in [
        "13bb2cc3d80000000000000000000000",
        "20000000000800000000000000000000000000000000002",
        "20000000000000000000000000000000000000800000002",
        "20000000000000000000000000000000000000000000004",
    ] {
        let seq = hex(digits);
        refused(at("shardId-0", &seq, ShardIteratorType::AtSequenceNumber).await, iae, &invalid(&seq));
    }

    // SubscribeToShard reads its starting sequence number the same way.
    let consumer = active_consumer(&client, &stream_arn(&s3), "c").await;
    let from = |seq: &str| {
        let start = StartingPosition::builder()
            .r#type(ShardIteratorType::AtSequenceNumber)
            .sequence_number(seq)
            .build()
            .unwrap();
        client
            .subscribe_to_shard()
            .consumer_arn(&consumer)
            .shard_id("shardId-0")
            .starting_position(start)
            .send()
    };
    refused(
        from("5").await,
        iae,
        "Invalid StartingSequenceNumber. It encodes shardId-000000000005, while it was used in a call to a shard \
         with shardId-000000000000",
    );
    refused(
        from("0").await,
        iae,
        &format!(
            "StartingSequenceNumber 21267647932558653966460912964485513216 used in SubscribeToShard on shard \
             shardId-000000000000 in stream {s3} under account {ACCOUNT} is invalid because it did not come from \
             this stream."
        ),
    );
}

// ---------------------------------------------------------------------------------------------
// PutRecord and PutRecords without a PartitionKey
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn records_without_a_partition_key_are_refused() {
    let server = TestServer::start();
    let client = server.client_no_retry();
    let s3 = stream(&client, "nokey", 3).await;
    let ve = "ValidationException";
    let null_key =
        |path: &str| format!("Value null at '{path}' failed to satisfy constraint: Member must not be null");

    refused(
        client.put_record().stream_name(&s3).data(Blob::new("")).send().await,
        ve,
        &format!("1 validation error detected: {}", null_key("partitionKey")),
    );
    // Before the stream is looked up, and listed with the request's other failures.
    refused(
        client.put_record().stream_name("nosuch").data(Blob::new("")).send().await,
        ve,
        &format!("1 validation error detected: {}", null_key("partitionKey")),
    );
    refused(
        client.put_record().stream_name("").data(Blob::new("")).send().await,
        ve,
        &format!(
            "3 validation errors detected: {}; Value '' at 'streamName' failed to satisfy constraint: Member must \
             satisfy regular expression pattern: [a-zA-Z0-9_.-]+; Value '' at 'streamName' failed to satisfy \
             constraint: Member must have length greater than or equal to 1",
            null_key("partitionKey")
        ),
    );

    let keyed = PutRecordsRequestEntry::builder().data(Blob::new("a")).partition_key("k").build().unwrap();
    let keyless =
        PutRecordsRequestEntry::builder().data(Blob::new("b")).explicit_hash_key("0").build().unwrap();
    refused(
        client.put_records().stream_name(&s3).records(keyed.clone()).records(keyless.clone()).send().await,
        ve,
        &format!("1 validation error detected: {}", null_key("records.2.member.partitionKey")),
    );
    refused(
        client
            .put_records()
            .stream_name(&s3)
            .records(keyless.clone())
            .records(keyed)
            .records(keyless)
            .send()
            .await,
        ve,
        &format!(
            "2 validation errors detected: {}; {}",
            null_key("records.1.member.partitionKey"),
            null_key("records.3.member.partitionKey")
        ),
    );

    // CBOR, which the Java SDK sends: the same answer.
    let entry = |members: Vec<(&str, ciborium::Value)>| cmap(members);
    let body = cmap(vec![
        ("StreamName", ctext(&s3)),
        (
            "Records",
            ciborium::Value::Array(vec![
                entry(vec![("Data", ciborium::Value::Bytes(b"c".to_vec())), ("PartitionKey", ctext("k"))]),
                entry(vec![("Data", ciborium::Value::Bytes(b"d".to_vec()))]),
            ]),
        ),
    ]);
    let answer = cbor_call(&server.endpoint(), "PutRecords", &body, false).await;
    assert_eq!(answer.status, 400);
    let error = answer.cbor();
    assert_eq!(cget(&error, "__type").and_then(ctext_of), Some("ValidationException"));
    assert_eq!(
        cget(&error, "message").and_then(ctext_of),
        Some(format!("1 validation error detected: {}", null_key("records.2.member.partitionKey")).as_str())
    );

    for shard in 0..3 {
        assert!(read_shard(&client, &s3, &shard_id(shard)).await.is_empty(), "a refused put wrote a record");
    }
}
