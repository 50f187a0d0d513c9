//! The control plane at scale (issue 20): listing a 10,000-shard stream page by page and
//! thousands of streams returns every item exactly once, in order, with the paging members AWS
//! documents; and a stream whose shards were never written (the store creates a shard's files
//! on its first append, docs/storage.md, "Shards without files") works after a kill -9. How
//! fast they answer is measured in docs/benchmarks.md, not asserted here.

mod common;

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{Shard, ShardFilter, ShardFilterType, ShardIteratorType};
use aws_sdk_kinesis::Client;
use common::*;

const SHARDS: u32 = 10_000;
const STREAMS: usize = 2_000;

/// Every page of ListShards with `max_results`, checking each page's size and token.
async fn list_shard_pages(
    client: &Client,
    name: &str,
    max_results: i32,
    filter: Option<ShardFilter>,
) -> Vec<Shard> {
    let mut shards = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let request = match &token {
            Some(token) => client.list_shards().next_token(token),
            None => client.list_shards().stream_name(name).set_shard_filter(filter.clone()),
        };
        let page = request.max_results(max_results).send().await.unwrap_or_else(|e| panic!("{}", show(&e)));
        let remaining = SHARDS as usize - shards.len();
        assert_eq!(page.shards().len(), remaining.min(max_results as usize), "a full page until the last");
        shards.extend(page.shards().iter().cloned());
        match page.next_token() {
            Some(next) => {
                assert!(shards.len() < SHARDS as usize, "a token after the last page");
                token = Some(next.to_owned());
            }
            None => return shards,
        }
    }
}

/// Shard ids 0..SHARDS, each once, in order, with the initial hash ranges.
fn assert_every_shard_once(shards: &[Shard], how: &str) {
    let ids: Vec<&str> = shards.iter().map(|s| s.shard_id()).collect();
    let expected: Vec<String> = (0..SHARDS).map(shard_id).collect();
    assert!(ids == expected, "{how}: {} shards, not every one once in order", ids.len());
    for (shard, (start, end)) in shards.iter().zip(expected_ranges(SHARDS)) {
        let range = shard.hash_key_range().unwrap();
        assert_eq!(
            (range.starting_hash_key(), range.ending_hash_key()),
            (start.to_string().as_str(), end.to_string().as_str()),
            "{how}: {}",
            shard.shard_id()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_thousand_shards_page_through_listshards_and_describestream_each_once() {
    let mut server = TestServer::start_with(ServerOptions::default().shard_limit(SHARDS));
    let client = server.client_no_retry();
    let name = "ten-thousand";
    create_stream_and_wait(&client, name, SHARDS as i32).await;

    assert_every_shard_once(&list_shard_pages(&client, name, 1000, None).await, "ListShards by 1,000");
    // An uneven last page: 12 of 777 and one of 676.
    assert_every_shard_once(&list_shard_pages(&client, name, 777, None).await, "ListShards by 777");
    let open = ShardFilter::builder().r#type(ShardFilterType::AtLatest).build().unwrap();
    assert_every_shard_once(&list_shard_pages(&client, name, 1000, Some(open)).await, "ListShards AT_LATEST");

    // ExclusiveStartShardId and AFTER_SHARD_ID start right after the shard they name.
    let after = client
        .list_shards()
        .stream_name(name)
        .exclusive_start_shard_id(shard_id(8_999))
        .send()
        .await
        .unwrap();
    let ids: Vec<String> = after.shards().iter().map(|s| s.shard_id().to_owned()).collect();
    assert_eq!(ids, (9_000..SHARDS).map(shard_id).collect::<Vec<_>>());
    assert_eq!(after.next_token(), None, "the last page has no token");
    let filter = ShardFilter::builder()
        .r#type(ShardFilterType::AfterShardId)
        .shard_id(shard_id(4_999))
        .build()
        .unwrap();
    let after = client.list_shards().stream_name(name).shard_filter(filter).send().await.unwrap();
    assert_eq!(after.shards().first().map(|s| s.shard_id()), Some(shard_id(5_000).as_str()));
    assert_eq!(after.shards().len(), 1000, "at most 1,000 shards a call");
    assert!(after.next_token().is_some());

    // DescribeStream pages by ExclusiveStartShardId, 100 shards at most, HasMoreShards until the last.
    let mut described: Vec<Shard> = Vec::new();
    loop {
        let mut request = client.describe_stream().stream_name(name).limit(10_000);
        if let Some(last) = described.last() {
            request = request.exclusive_start_shard_id(last.shard_id());
        }
        let description = request.send().await.unwrap().stream_description.unwrap();
        assert_eq!(description.shards().len(), 100.min(SHARDS as usize - described.len()));
        described.extend(description.shards().iter().cloned());
        if !description.has_more_shards() {
            break;
        }
    }
    assert_every_shard_once(&described, "DescribeStream");

    // The shards were never written, so the store has no file of theirs: after a kill -9 they
    // are all listed and take records (the first, the last and some in between).
    server.kill9();
    server.start_again();
    let client = server.client_no_retry();
    assert_every_shard_once(&list_all_shards(&client, name).await, "ListShards after a kill -9");
    let step = hash_step(u128::from(SHARDS));
    for index in (0..SHARDS).step_by(997).chain([SHARDS - 1]) {
        let put = client
            .put_record()
            .stream_name(name)
            .partition_key("k")
            .explicit_hash_key((u128::from(index) * step).to_string())
            .data(Blob::new(format!("to {index}")))
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutRecord to shard {index}: {}", show(&e)));
        assert_eq!(put.shard_id(), shard_id(index));
        let iterator = get_iterator(&client, name, &shard_id(index), ShardIteratorType::TrimHorizon).await;
        let records = client.get_records().shard_iterator(iterator).send().await.unwrap();
        let data: Vec<&[u8]> = records.records().iter().map(|r| r.data().as_ref()).collect();
        assert_eq!(data, [format!("to {index}").as_bytes()], "shard {index}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousands_of_streams_page_through_liststreams_each_once() {
    // Without syncs: the catalog write of each CreateStream is not what this checks.
    let server =
        TestServer::start_with(ServerOptions::default().durability("os").shard_limit(STREAMS as u32));
    let client = server.client_no_retry();
    let mut names: Vec<String> = (0..STREAMS).map(|i| format!("stream-{i}")).collect();
    for name in &names {
        client.create_stream().stream_name(name).shard_count(1).send().await.unwrap();
    }
    names.sort();

    // NextToken paging, 100 names a call at most whatever Limit asks.
    let mut listed: Vec<String> = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let request = match &token {
            Some(token) => client.list_streams().next_token(token),
            None => client.list_streams().limit(1000),
        };
        let page = request.send().await.unwrap();
        assert_eq!(page.stream_names().len(), 100.min(STREAMS - listed.len()));
        let summaries: Vec<&str> = page.stream_summaries().iter().map(|s| s.stream_name()).collect();
        assert_eq!(summaries, page.stream_names(), "a summary per name, in the same order");
        listed.extend(page.stream_names().iter().cloned());
        assert_eq!(page.has_more_streams(), listed.len() < STREAMS);
        match page.next_token() {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
    }
    assert!(listed == names, "NextToken paging: {} names, not every one once in order", listed.len());

    // The older paging by ExclusiveStartStreamName, from a name that is not a stream's too.
    let mut listed: Vec<String> = Vec::new();
    let mut after = Some("stream-1000a".to_owned());
    while let Some(start) = after {
        let page = client.list_streams().exclusive_start_stream_name(start).send().await.unwrap();
        listed.extend(page.stream_names().iter().cloned());
        after = page.has_more_streams().then(|| listed.last().unwrap().clone());
    }
    let expected: Vec<String> = names.into_iter().filter(|n| n.as_str() > "stream-1000a").collect();
    assert!(listed == expected, "ExclusiveStartStreamName paging: {} names", listed.len());
}
