//! Enhanced fan-out end to end: consumer registration (RegisterStreamConsumer,
//! DescribeStreamConsumer, ListStreamConsumers, DeregisterStreamConsumer, DeleteStream with
//! consumers) and SubscribeToShard through aws-sdk-kinesis's event-stream receiver (over plain
//! HTTP and over TLS with h2), through raw HTTP/1.1 and h2c connections, and through boto3.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_kinesis::config::retry::RetryConfig;
use aws_sdk_kinesis::primitives::{Blob, DateTime};
use aws_sdk_kinesis::types::error::SubscribeToShardEventStreamError as StreamError;
use aws_sdk_kinesis::types::{ConsumerStatus, ShardIteratorType, StartingPosition, SubscribeToShardEvent};
use aws_sdk_kinesis::Client;
use aws_smithy_eventstream::frame::read_message_from;
use aws_smithy_http_client::pool::{ConnectionEvent, ConnectionPool, ConnectionProtocol};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_types::event_stream::Message;
use bytes::{Buf, Bytes};
use common::*;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use kinesin_engine::storage::SystemClock;
use kinesin_engine::{Engine, EngineConfig};
use kinesin_server::ServerConfig;
use kinesin_store_local::{open_store, Durability, StoreOptions};

/// A subscription; its `event_stream` receives the events.
type Events = aws_sdk_kinesis::operation::subscribe_to_shard::SubscribeToShardOutput;

/// How long a test waits for an event before it calls the subscription stuck.
const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A new ACTIVE stream; returns its name and ARN.
async fn stream(client: &Client, shards: i32) -> (String, String) {
    let name = unique_name("fanout");
    create_stream_and_wait(client, &name, shards).await;
    let arn = stream_arn(&name);
    (name, arn)
}

/// ListTagsForResource of a stream or consumer ARN, as (key, value) pairs.
async fn resource_tags(client: &Client, resource: &str) -> Vec<(String, String)> {
    let out = client.list_tags_for_resource().resource_arn(resource).send().await.unwrap();
    out.tags().iter().map(|t| (t.key().to_owned(), t.value().unwrap_or_default().to_owned())).collect()
}

fn position(ty: ShardIteratorType, sequence_number: Option<&str>) -> StartingPosition {
    StartingPosition::builder()
        .r#type(ty)
        .set_sequence_number(sequence_number.map(str::to_owned))
        .build()
        .unwrap()
}

async fn subscribe(client: &Client, consumer_arn: &str, shard: &str, start: StartingPosition) -> Events {
    client
        .subscribe_to_shard()
        .consumer_arn(consumer_arn)
        .shard_id(shard)
        .starting_position(start)
        .send()
        .await
        .unwrap_or_else(|e| panic!("SubscribeToShard {shard}: {}", show(&e)))
}

/// The next event; panics if the stream ends, fails or stays silent.
async fn next_event(events: &mut Events) -> SubscribeToShardEvent {
    let received =
        tokio::time::timeout(EVENT_TIMEOUT, events.event_stream.recv()).await.expect("no event in time");
    match received {
        Ok(Some(event)) => event.as_subscribe_to_shard_event().expect("a SubscribeToShardEvent").clone(),
        Ok(None) => panic!("the event stream ended"),
        Err(e) => panic!("the event stream failed: {}", show(&e)),
    }
}

/// Events until `n` records have arrived; returns the records' (sequence number, data).
async fn receive_records(events: &mut Events, n: usize) -> Vec<(String, Vec<u8>)> {
    let mut records = Vec::new();
    while records.len() < n {
        let event = next_event(events).await;
        if let Some(last) = event.records().last() {
            assert_eq!(event.continuation_sequence_number(), last.sequence_number());
        }
        records.extend(
            event.records().iter().map(|r| (r.sequence_number().to_owned(), r.data().as_ref().to_vec())),
        );
    }
    assert_eq!(records.len(), n, "more records than were put");
    records
}

/// Puts `n` records to a one-shard stream; returns their sequence numbers and data.
async fn put_many(client: &Client, stream: &str, prefix: &str, n: usize) -> Vec<(String, Vec<u8>)> {
    let mut put = Vec::new();
    for i in 0..n {
        let data = format!("{prefix}-{i}").into_bytes();
        let out = client
            .put_record()
            .stream_name(stream)
            .partition_key(format!("pk-{i}"))
            .data(Blob::new(data.clone()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutRecord: {}", show(&e)));
        put.push((out.sequence_number().to_owned(), data));
    }
    put
}

/// A server in this process, for what the binary's flags do not reach (a short subscription
/// lifetime). Returns its endpoint; the server lives as long as the runtime.
async fn in_process_server(subscription_ms: i64) -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(SystemClock);
    let options = StoreOptions { durability: Durability::Os, ..StoreOptions::default() };
    let (log, catalog) = open_store(dir.path(), options, clock.clone()).unwrap();
    let config = EngineConfig {
        create_stream_ms: 0,
        delete_stream_ms: 0,
        update_stream_ms: 0,
        subscription_ms,
        ..EngineConfig::default()
    };
    let engine = Arc::new(Engine::open(log, catalog, clock, config).await.unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(kinesin_server::serve(listener, engine, ServerConfig::default(), std::future::pending()));
    (endpoint, dir)
}

// ---------------------------------------------------------------------------------------------
// Consumers
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn consumers_are_registered_described_listed_and_deregistered() {
    let server = TestServer::start();
    let client = server.client_no_retry();
    let (name, arn) = stream(&client, 1).await;

    let registered =
        client.register_stream_consumer().stream_arn(&arn).consumer_name("app-1").send().await.unwrap();
    let consumer = registered.consumer().unwrap();
    assert_eq!(consumer.consumer_name(), "app-1");
    assert_eq!(*consumer.consumer_status(), ConsumerStatus::Creating);
    let created = consumer.consumer_creation_timestamp().secs();
    assert_eq!(consumer.consumer_arn(), format!("{arn}/consumer/app-1:{created}"));
    assert!((created - now_ms() / 1000).abs() <= 5);
    let consumer_arn = consumer.consumer_arn().to_owned();

    // By ARN, by stream ARN and name, and by all three.
    let by_arn = client.describe_stream_consumer().consumer_arn(&consumer_arn).send().await.unwrap();
    let description = by_arn.consumer_description().unwrap();
    assert_eq!(description.stream_arn(), arn);
    assert_eq!(*description.consumer_status(), ConsumerStatus::Active, "the create delay is 0");
    let by_name =
        client.describe_stream_consumer().stream_arn(&arn).consumer_name("app-1").send().await.unwrap();
    assert_eq!(by_name.consumer_description().unwrap().consumer_arn(), consumer_arn);
    client
        .describe_stream_consumer()
        .consumer_arn(&consumer_arn)
        .stream_arn(&arn)
        .consumer_name("app-1")
        .send()
        .await
        .unwrap();

    // Lookup errors.
    let conflict =
        client.describe_stream_consumer().consumer_arn(&consumer_arn).consumer_name("app-2").send().await;
    expect_err(conflict, "InvalidArgumentException");
    let incomplete = client.describe_stream_consumer().consumer_name("app-1").send().await;
    expect_err(incomplete, "InvalidArgumentException");
    let unknown = client.describe_stream_consumer().stream_arn(&arn).consumer_name("nope").send().await;
    expect_err(unknown, "ResourceNotFoundException");
    let stale_arn = format!("{arn}/consumer/app-1:{}", created - 1);
    expect_err(
        client.describe_stream_consumer().consumer_arn(stale_arn).send().await,
        "ResourceNotFoundException",
    );

    // Names are unique per stream; 20 consumers at most.
    let again = client.register_stream_consumer().stream_arn(&arn).consumer_name("app-1").send().await;
    expect_err(again, "ResourceInUseException");
    for i in 2..=20 {
        client
            .register_stream_consumer()
            .stream_arn(&arn)
            .consumer_name(format!("app-{i}"))
            .send()
            .await
            .unwrap();
    }
    let over = client.register_stream_consumer().stream_arn(&arn).consumer_name("app-21").send().await;
    expect_err(over, "LimitExceededException");
    let summary = client.describe_stream_summary().stream_name(&name).send().await.unwrap();
    assert_eq!(summary.stream_description_summary().unwrap().consumer_count(), Some(20));

    // Listing pages through every consumer in name order.
    let mut listed = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = client
            .list_stream_consumers()
            .stream_arn(&arn)
            .max_results(7)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        assert!(out.consumers().len() <= 7);
        listed.extend(out.consumers().iter().map(|c| c.consumer_name().to_owned()));
        match out.next_token() {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
    }
    let mut expected: Vec<String> = (1..=20).map(|i| format!("app-{i}")).collect();
    expected.sort();
    assert_eq!(listed, expected);
    let everything =
        client.list_stream_consumers().stream_arn(&arn).max_results(10_000).send().await.unwrap();
    assert_eq!(everything.consumers().len(), 20);
    assert!(everything.next_token().is_none());
    let bad_token = client.list_stream_consumers().stream_arn(&arn).next_token("garbage").send().await;
    expect_err(bad_token, "InvalidArgumentException");
    let wrong_creation = client
        .list_stream_consumers()
        .stream_arn(&arn)
        .stream_creation_timestamp(DateTime::from_secs(1))
        .send()
        .await;
    expect_err(wrong_creation, "ResourceNotFoundException");

    // Deregistering: DELETING (delete delay 0: gone at the next request), then it can be
    // registered again under a new ARN.
    client.deregister_stream_consumer().consumer_arn(&consumer_arn).send().await.unwrap();
    expect_err(
        client.describe_stream_consumer().consumer_arn(&consumer_arn).send().await,
        "ResourceNotFoundException",
    );
    client.deregister_stream_consumer().stream_arn(&arn).consumer_name("app-2").send().await.unwrap();
    let listed = client.list_stream_consumers().stream_arn(&arn).send().await.unwrap();
    assert_eq!(listed.consumers().len(), 18);
    client.register_stream_consumer().stream_arn(&arn).consumer_name("app-1").send().await.unwrap();

    // A stream with consumers is deleted only with EnforceConsumerDeletion.
    expect_err(client.delete_stream().stream_name(&name).send().await, "ResourceInUseException");
    client.delete_stream().stream_name(&name).enforce_consumer_deletion(true).send().await.unwrap();
    expect_err(client.describe_stream_summary().stream_name(&name).send().await, "ResourceNotFoundException");
}

#[tokio::test]
async fn consumers_carry_their_own_tags() {
    let server = TestServer::start();
    let client = server.client_no_retry();
    let (name, arn) = stream(&client, 1).await;
    let registered = client
        .register_stream_consumer()
        .stream_arn(&arn)
        .consumer_name("tagged")
        .tags("team", "data")
        .send()
        .await
        .unwrap();
    let consumer_arn = registered.consumer().unwrap().consumer_arn().to_owned();
    assert_eq!(resource_tags(&client, &consumer_arn).await, [("team".to_owned(), "data".to_owned())]);
    client.tag_resource().resource_arn(&consumer_arn).tags("env", "dev").send().await.unwrap();
    client.untag_resource().resource_arn(&consumer_arn).tag_keys("team").send().await.unwrap();
    assert_eq!(resource_tags(&client, &consumer_arn).await, [("env".to_owned(), "dev".to_owned())]);
    // The stream's own tags are another set.
    assert!(resource_tags(&client, &arn).await.is_empty());
    assert!(client.list_tags_for_stream().stream_name(&name).send().await.unwrap().tags().is_empty());
    let gone = format!("{arn}/consumer/ghost:1700000000");
    expect_err(client.list_tags_for_resource().resource_arn(gone).send().await, "ResourceNotFoundException");
}

#[tokio::test]
async fn tag_errors_on_consumers_name_the_consumer() {
    let server = TestServer::start();
    let client = server.client_no_retry();
    let (name, arn) = stream(&client, 1).await;
    let registered = client
        .register_stream_consumer()
        .stream_arn(&arn)
        .consumer_name("busy")
        .tags("k00", "v")
        .send()
        .await;
    let consumer_arn = registered.unwrap().consumer().unwrap().consumer_arn().to_owned();
    let too_many = |kind: &str, name: &str| {
        format!(
            "Failed to add tags to {kind} {name} under account {ACCOUNT} because a given {kind} cannot have \
             more than 50 tags associated with it."
        )
    };
    let illegal = |kind: &str, name: &str| {
        format!(
            "Failed to add tags to {kind} {name} under account {ACCOUNT} because some tags contained illegal \
             characters. The allowed characters are Unicode letters, white-spaces, '_',',','/','=','+','-','@'."
        )
    };

    // 49 more make 50; one more is too many.
    let mut fill = client.tag_resource().resource_arn(&consumer_arn);
    for i in 1..50 {
        fill = fill.tags(format!("k{i:02}"), "v");
    }
    fill.send().await.unwrap();
    let expected: Vec<(String, String)> = (0..50).map(|i| (format!("k{i:02}"), "v".to_owned())).collect();
    let over = client.tag_resource().resource_arn(&consumer_arn).tags("one-too-many", "v").send().await;
    assert_eq!(expect_err(over, "InvalidArgumentException"), too_many("consumer", "busy"));
    let percent = client.tag_resource().resource_arn(&consumer_arn).tags("k00", "100%").send().await;
    assert_eq!(expect_err(percent, "InvalidArgumentException"), illegal("consumer", "busy"));
    assert_eq!(resource_tags(&client, &consumer_arn).await, expected);

    // RegisterStreamConsumer's Tags are the new consumer's: its errors name it, and it is not
    // registered.
    let mut crowded = client.register_stream_consumer().stream_arn(&arn).consumer_name("crowded");
    for i in 0..51 {
        crowded = crowded.tags(format!("k{i:02}"), "v");
    }
    assert_eq!(expect_err(crowded.send().await, "InvalidArgumentException"), too_many("consumer", "crowded"));
    let refused =
        client.register_stream_consumer().stream_arn(&arn).consumer_name("odd").tags("k", "5%").send().await;
    assert_eq!(expect_err(refused, "InvalidArgumentException"), illegal("consumer", "odd"));
    let listed = client.list_stream_consumers().stream_arn(&arn).send().await.unwrap();
    let names: Vec<_> = listed.consumers().iter().map(|c| c.consumer_name()).collect();
    assert_eq!(names, ["busy"]);

    // The stream's own tags keep the stream wording.
    let percent = client.tag_resource().resource_arn(&arn).tags("k", "5%").send().await;
    assert_eq!(expect_err(percent, "InvalidArgumentException"), illegal("stream", &name));
    assert!(resource_tags(&client, &arn).await.is_empty());
}

#[tokio::test]
async fn consumers_carry_their_own_resource_policies() {
    async fn policy(client: &Client, resource: &str) -> String {
        let out = client.get_resource_policy().resource_arn(resource).send().await;
        out.unwrap_or_else(|e| panic!("GetResourcePolicy {resource}: {}", show(&e))).policy().to_owned()
    }
    let mut server = TestServer::start();
    let mut client = server.client_no_retry();
    let (_, arn) = stream(&client, 1).await;
    let consumer_arn = active_consumer(&client, &arn, "governed").await;
    let consumer_policy = r#"{"Version":"2012-10-17","Statement":[{"Sid":"consumer"}]}"#;
    let stream_policy = r#"{"Version":"2012-10-17","Statement":[{"Sid":"stream"}]}"#;

    assert_eq!(policy(&client, &consumer_arn).await, "{}");
    client.put_resource_policy().resource_arn(&consumer_arn).policy(consumer_policy).send().await.unwrap();
    assert_eq!(policy(&client, &consumer_arn).await, consumer_policy);
    // The stream's policy is another one.
    assert_eq!(policy(&client, &arn).await, "{}");
    client.put_resource_policy().resource_arn(&arn).policy(stream_policy).send().await.unwrap();
    // Both are stored with the stream's metadata.
    server.restart();
    client = server.client_no_retry();
    assert_eq!(policy(&client, &arn).await, stream_policy);
    assert_eq!(policy(&client, &consumer_arn).await, consumer_policy);

    // A bad document changes nothing.
    let bad = client.put_resource_policy().resource_arn(&consumer_arn).policy("[]").send().await;
    assert_eq!(
        expect_err(bad, "InvalidArgumentException"),
        "The resource policy is not a valid JSON policy document."
    );
    assert_eq!(policy(&client, &consumer_arn).await, consumer_policy);

    client.delete_resource_policy().resource_arn(&consumer_arn).send().await.unwrap();
    assert_eq!(policy(&client, &consumer_arn).await, "{}");
    assert_eq!(policy(&client, &arn).await, stream_policy);
    let again = client.delete_resource_policy().resource_arn(&consumer_arn).send().await;
    assert_eq!(
        expect_err(again, "ResourceNotFoundException"),
        format!("No resource policy found for resource {consumer_arn}.")
    );

    // A consumer that does not exist has no policy to read, set or delete.
    let ghost = format!("{arn}/consumer/ghost:1700000000");
    let not_found = format!("Consumer {ghost} under account {ACCOUNT} not found.");
    let get = client.get_resource_policy().resource_arn(&ghost).send().await;
    assert_eq!(expect_err(get, "ResourceNotFoundException"), not_found);
    let put = client.put_resource_policy().resource_arn(&ghost).policy(consumer_policy).send().await;
    assert_eq!(expect_err(put, "ResourceNotFoundException"), not_found);
    let delete = client.delete_resource_policy().resource_arn(&ghost).send().await;
    assert_eq!(expect_err(delete, "ResourceNotFoundException"), not_found);

    // Deregistering drops the consumer's policy: its ARN is gone, and a consumer registered
    // again under the name starts without one.
    client.put_resource_policy().resource_arn(&consumer_arn).policy(consumer_policy).send().await.unwrap();
    client.deregister_stream_consumer().consumer_arn(&consumer_arn).send().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.describe_stream_consumer().consumer_arn(&consumer_arn).send().await.is_ok() {
        assert!(Instant::now() < deadline, "the consumer never went away");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let gone = client.get_resource_policy().resource_arn(&consumer_arn).send().await;
    assert_eq!(
        expect_err(gone, "ResourceNotFoundException"),
        format!("Consumer {consumer_arn} under account {ACCOUNT} not found.")
    );
    let registered_again = active_consumer(&client, &arn, "governed").await;
    assert_eq!(policy(&client, &registered_again).await, "{}");
    assert_eq!(policy(&client, &arn).await, stream_policy);
}

#[tokio::test]
async fn consumers_stay_creating_and_deleting_for_the_configured_delays() {
    let server = TestServer::start_with(ServerOptions::default().transition_ms(600, 600, 0));
    let client = server.client_no_retry();
    let (_, arn) = stream(&client, 1).await;
    let registered =
        client.register_stream_consumer().stream_arn(&arn).consumer_name("slow").send().await.unwrap();
    let consumer_arn = registered.consumer().unwrap().consumer_arn().to_owned();
    let described = client.describe_stream_consumer().consumer_arn(&consumer_arn).send().await.unwrap();
    assert_eq!(*described.consumer_description().unwrap().consumer_status(), ConsumerStatus::Creating);
    // A consumer cannot read while CREATING, nor be deregistered.
    let early = client
        .subscribe_to_shard()
        .consumer_arn(&consumer_arn)
        .shard_id("shardId-000000000000")
        .starting_position(position(ShardIteratorType::Latest, None))
        .send()
        .await;
    expect_err(early, "ResourceInUseException");
    expect_err(
        client.deregister_stream_consumer().consumer_arn(&consumer_arn).send().await,
        "ResourceInUseException",
    );

    let consumer_arn = active_consumer(&client, &arn, "other").await;
    client.deregister_stream_consumer().consumer_arn(&consumer_arn).send().await.unwrap();
    let described = client.describe_stream_consumer().consumer_arn(&consumer_arn).send().await.unwrap();
    assert_eq!(*described.consumer_description().unwrap().consumer_status(), ConsumerStatus::Deleting);
    tokio::time::sleep(Duration::from_millis(700)).await;
    expect_err(
        client.describe_stream_consumer().consumer_arn(&consumer_arn).send().await,
        "ResourceNotFoundException",
    );
}

#[tokio::test]
async fn at_most_five_consumers_are_creating_at_once_per_account() {
    // Consumers stay CREATING as long as new streams do (--create-stream-ms).
    let server = TestServer::start_with(ServerOptions::default().transition_ms(3000, 0, 0));
    let client = server.client_no_retry();
    let streams = [unique_name("creating"), unique_name("creating")];
    for name in &streams {
        client.create_stream().stream_name(name).shard_count(1).send().await.unwrap();
    }
    for name in &streams {
        wait_active(&client, name).await;
    }
    let register = |stream: &str, consumer: &str| {
        client.register_stream_consumer().stream_arn(stream_arn(stream)).consumer_name(consumer).send()
    };
    let consumers = |stream: &str| {
        let listed = client.list_stream_consumers().stream_arn(stream_arn(stream)).send();
        async move {
            let out = listed.await.unwrap();
            out.consumers()
                .iter()
                .map(|c| (c.consumer_name().to_owned(), c.consumer_status().clone()))
                .collect::<Vec<_>>()
        }
    };

    // Five CREATING consumers over the account's two streams; a sixth is refused.
    for (stream, consumer) in [(0, "a"), (0, "b"), (0, "c"), (1, "d"), (1, "e")] {
        register(&streams[stream], consumer).await.unwrap();
    }
    assert_eq!(
        expect_err(register(&streams[1], "f").await, "LimitExceededException"),
        format!(
            "Account {ACCOUNT} already has 5 consumers in CREATING state, the most an account can have at once."
        )
    );
    // The refusal registered nothing, and the five were still CREATING.
    let creating = |names: &[&str]| -> Vec<_> {
        names.iter().map(|n| (n.to_string(), ConsumerStatus::Creating)).collect()
    };
    assert_eq!(consumers(&streams[0]).await, creating(&["a", "b", "c"]));
    assert_eq!(consumers(&streams[1]).await, creating(&["d", "e"]));

    // Once they are ACTIVE, the sixth is accepted.
    let deadline = Instant::now() + Duration::from_secs(10);
    for stream in &streams {
        while consumers(stream).await.iter().any(|(_, status)| *status == ConsumerStatus::Creating) {
            assert!(Instant::now() < deadline, "the consumers never became ACTIVE");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    register(&streams[1], "f").await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// SubscribeToShard through the SDK
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn records_put_after_subscribing_are_pushed() {
    let server = TestServer::start();
    let client = server.client_no_retry();
    let (name, arn) = stream(&client, 1).await;
    let consumer = active_consumer(&client, &arn, "pushed").await;
    let mut events =
        subscribe(&client, &consumer, "shardId-000000000000", position(ShardIteratorType::Latest, None))
            .await;
    // The first event comes at once, without records.
    let first = next_event(&mut events).await;
    assert!(first.records().is_empty());
    assert_eq!(first.millis_behind_latest(), 0);

    let put = put_many(&client, &name, "live", 50).await;
    assert_eq!(receive_records(&mut events, 50).await, put);
}

#[tokio::test]
async fn records_are_pushed_over_tls_and_h2() {
    let server = TestServer::start_with(ServerOptions::default().arg("--tls-port").arg("0"));
    let tls = TlsEndpoint::of(&server);
    // The SDK's HTTPS client (ALPN h2 and http/1.1) trusting the self-signed certificate, noting
    // the protocol of every connection it opens.
    let protocols = Arc::new(Mutex::new(Vec::new()));
    let opened = protocols.clone();
    let pool = ConnectionPool::builder()
        .event_listener(move |event: &ConnectionEvent<'_>| {
            if let ConnectionEvent::Opened(open) = event {
                opened.lock().unwrap().push(open.connection().protocol());
            }
        })
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(
            TlsContext::builder()
                .with_trust_store(TrustStore::empty().with_pem_certificate(tls.pem.clone()))
                .build()
                .unwrap(),
        )
        .build_https()
        .unwrap();
    let http = aws_smithy_http_client::pool::Client::new(&pool).unwrap();
    let client = Client::from_conf(config_for(&tls.url(), RetryConfig::disabled()).http_client(http).build());

    let (name, arn) = stream(&client, 1).await;
    let consumer = active_consumer(&client, &arn, "secure").await;
    let mut events =
        subscribe(&client, &consumer, "shardId-000000000000", position(ShardIteratorType::Latest, None))
            .await;
    assert!(next_event(&mut events).await.records().is_empty());
    let put = put_many(&client, &name, "tls", 50).await;
    assert_eq!(receive_records(&mut events, 50).await, put);
    // One h2 connection carried everything, the puts beside the open subscription.
    assert_eq!(*protocols.lock().unwrap(), [ConnectionProtocol::Http2]);
}

#[tokio::test]
async fn every_starting_position_type_is_honoured() {
    let server = TestServer::start();
    let client = server.client_no_retry();
    let (name, arn) = stream(&client, 1).await;
    let shard = "shardId-000000000000";
    let put = put_many(&client, &name, "old", 10).await;
    // A consumer each: a second subscription for the same consumer and shard would have to
    // wait 5 s.
    let consumer = |n: &'static str| {
        let (client, arn) = (client.clone(), arn.clone());
        async move { active_consumer(&client, &arn, n).await }
    };

    let mut events =
        subscribe(&client, &consumer("horizon").await, shard, position(ShardIteratorType::TrimHorizon, None))
            .await;
    assert_eq!(receive_records(&mut events, 10).await, put);

    let at = position(ShardIteratorType::AtSequenceNumber, Some(&put[4].0));
    let mut events = subscribe(&client, &consumer("at").await, shard, at).await;
    assert_eq!(receive_records(&mut events, 6).await, put[4..]);

    let after = position(ShardIteratorType::AfterSequenceNumber, Some(&put[4].0));
    let mut events = subscribe(&client, &consumer("after").await, shard, after).await;
    assert_eq!(receive_records(&mut events, 5).await, put[5..]);

    let long_ago = StartingPosition::builder()
        .r#type(ShardIteratorType::AtTimestamp)
        .timestamp(DateTime::from_secs(now_ms() / 1000 - 3600))
        .build()
        .unwrap();
    let mut events = subscribe(&client, &consumer("timestamp").await, shard, long_ago).await;
    assert_eq!(receive_records(&mut events, 10).await, put);

    // LATEST starts after the last record; the empty first event's continuation resumes with
    // AFTER_SEQUENCE_NUMBER without losing the next record.
    let mut events =
        subscribe(&client, &consumer("latest").await, shard, position(ShardIteratorType::Latest, None)).await;
    let empty = next_event(&mut events).await;
    assert!(empty.records().is_empty());
    let continuation = empty.continuation_sequence_number().to_owned();
    let next = put_many(&client, &name, "new", 1).await;
    assert_eq!(receive_records(&mut events, 1).await, next);
    let resumed = position(ShardIteratorType::AfterSequenceNumber, Some(&continuation));
    let mut events = subscribe(&client, &consumer("resumed").await, shard, resumed).await;
    assert_eq!(receive_records(&mut events, 1).await, next);
    // ... and so does GetShardIterator.
    let iterator = client
        .get_shard_iterator()
        .stream_name(&name)
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
        .starting_sequence_number(&continuation)
        .send()
        .await
        .unwrap();
    let read = client.get_records().shard_iterator(iterator.shard_iterator().unwrap()).send().await.unwrap();
    assert_eq!(read.records()[0].sequence_number(), next[0].0);

    // Even on a shard without any record yet.
    let (_, empty_arn) = stream(&client, 1).await;
    let consumer_arn = active_consumer(&client, &empty_arn, "empty").await;
    let mut events =
        subscribe(&client, &consumer_arn, shard, position(ShardIteratorType::Latest, None)).await;
    let continuation = next_event(&mut events).await.continuation_sequence_number().to_owned();
    drop(events);
    let empty_name = empty_arn.rsplit('/').next().unwrap().to_owned();
    let first = put_many(&client, &empty_name, "first", 1).await;
    let other = active_consumer(&client, &empty_arn, "empty-2").await;
    let resumed = position(ShardIteratorType::AfterSequenceNumber, Some(&continuation));
    let mut events = subscribe(&client, &other, shard, resumed).await;
    assert_eq!(receive_records(&mut events, 1).await, first);
}

#[tokio::test]
async fn bad_subscriptions_fail_before_streaming() {
    let server = TestServer::start();
    let client = server.client_no_retry();
    let (_, arn) = stream(&client, 1).await;
    let consumer = active_consumer(&client, &arn, "strict").await;
    let latest = || position(ShardIteratorType::Latest, None);
    let attempt = |consumer: String, shard: &'static str, start: StartingPosition| {
        let client = client.clone();
        async move {
            client
                .subscribe_to_shard()
                .consumer_arn(consumer)
                .shard_id(shard)
                .starting_position(start)
                .send()
                .await
        }
    };
    let unknown = format!("{arn}/consumer/ghost:1700000000");
    expect_err(attempt(unknown, "shardId-000000000000", latest()).await, "ResourceNotFoundException");
    expect_err(
        attempt(consumer.clone(), "shardId-000000000009", latest()).await,
        "ResourceNotFoundException",
    );
    let no_number = position(ShardIteratorType::AtSequenceNumber, None);
    expect_err(
        attempt(consumer.clone(), "shardId-000000000000", no_number).await,
        "InvalidArgumentException",
    );
    let foreign = position(ShardIteratorType::AtSequenceNumber, Some("12345"));
    expect_err(attempt(consumer, "shardId-000000000000", foreign).await, "InvalidArgumentException");
}

#[tokio::test]
async fn a_second_subscription_is_refused_for_five_seconds_then_takes_over() {
    let server = TestServer::start();
    let client = server.client_no_retry();
    let (name, arn) = stream(&client, 2).await;
    let consumer = active_consumer(&client, &arn, "exclusive").await;
    let shard = "shardId-000000000000";
    let mut first = subscribe(&client, &consumer, shard, position(ShardIteratorType::Latest, None)).await;
    next_event(&mut first).await;

    let started = Instant::now();
    let again = client
        .subscribe_to_shard()
        .consumer_arn(&consumer)
        .shard_id(shard)
        .starting_position(position(ShardIteratorType::Latest, None))
        .send()
        .await;
    expect_err(again, "ResourceInUseException");
    // Another shard of the same consumer is independent.
    let mut other =
        subscribe(&client, &consumer, "shardId-000000000001", position(ShardIteratorType::Latest, None))
            .await;
    next_event(&mut other).await;

    tokio::time::sleep(Duration::from_millis(5_100).saturating_sub(started.elapsed())).await;
    let mut second =
        subscribe(&client, &consumer, shard, position(ShardIteratorType::TrimHorizon, None)).await;
    // The first subscription ends with a ResourceInUseException event.
    let ended = tokio::time::timeout(EVENT_TIMEOUT, async {
        loop {
            match first.event_stream.recv().await {
                Ok(Some(_)) => continue,
                other => return other,
            }
        }
    })
    .await
    .expect("the replaced subscription ends");
    let error = ended.expect_err("the replaced subscription ends with an exception");
    let in_use = matches!(error.as_service_error(), Some(StreamError::ResourceInUseException(_)));
    assert!(in_use, "{}", show(&error));
    // The new subscription reads on.
    let out = client
        .put_record()
        .stream_name(&name)
        .partition_key("pk")
        .explicit_hash_key("0")
        .data(Blob::new("taken over"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.shard_id(), shard);
    let received = receive_records(&mut second, 1).await;
    assert_eq!(received, [(out.sequence_number().to_owned(), b"taken over".to_vec())]);
}

#[tokio::test]
async fn deregistering_the_consumer_ends_its_subscriptions() {
    let server = TestServer::start();
    let client = server.client_no_retry();
    let (_, arn) = stream(&client, 1).await;
    let consumer = active_consumer(&client, &arn, "leaving").await;
    let mut events =
        subscribe(&client, &consumer, "shardId-000000000000", position(ShardIteratorType::Latest, None))
            .await;
    next_event(&mut events).await;
    client.deregister_stream_consumer().consumer_arn(&consumer).send().await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(2), events.event_stream.recv())
        .await
        .expect("ends promptly");
    let error = ended.expect_err("an exception event");
    let not_found = matches!(error.as_service_error(), Some(StreamError::ResourceNotFoundException(_)));
    assert!(not_found, "{}", show(&error));
}

#[tokio::test]
async fn a_closed_shard_ends_with_its_children_and_no_continuation() {
    let server = TestServer::start();
    let client = server.client_no_retry();
    let (name, arn) = stream(&client, 1).await;
    let consumer = active_consumer(&client, &arn, "resharded").await;
    let parent = "shardId-000000000000";
    let mut live = subscribe(&client, &consumer, parent, position(ShardIteratorType::Latest, None)).await;
    next_event(&mut live).await;
    let before = put_many(&client, &name, "before-split", 3).await;
    assert_eq!(receive_records(&mut live, 3).await, before);

    client
        .split_shard()
        .stream_name(&name)
        .shard_to_split(parent)
        .new_starting_hash_key((u128::MAX / 2).to_string())
        .send()
        .await
        .unwrap();
    wait_active(&client, &name).await;
    // The live subscription learns of the split at once (no record needs to arrive).
    let started = Instant::now();
    let end = next_event(&mut live).await;
    assert!(started.elapsed() < Duration::from_secs(2), "shard end took {:?}", started.elapsed());
    assert!(end.records().is_empty());
    assert!(end.continuation_sequence_number().is_empty(), "no continuation at shard end");
    let mut children: Vec<&str> = end.child_shards().iter().map(|c| c.shard_id()).collect();
    children.sort();
    assert_eq!(children, ["shardId-000000000001", "shardId-000000000002"]);
    assert!(end.child_shards().iter().all(|c| c.parent_shards() == [parent]));
    let after_end =
        tokio::time::timeout(EVENT_TIMEOUT, live.event_stream.recv()).await.expect("the stream ends");
    assert!(matches!(after_end, Ok(None)), "{after_end:?}");
}

// ---------------------------------------------------------------------------------------------
// Raw connections: the frames themselves, JSON and CBOR, HTTP/1.1 and h2c
// ---------------------------------------------------------------------------------------------

/// Sends SubscribeToShard on a fresh HTTP/1.1 or h2c connection and reads the whole response,
/// which ends when the (short) subscription lifetime is up.
async fn raw_subscribe(
    endpoint: &str,
    http2: bool,
    content_type: &str,
    body: Vec<u8>,
) -> (hyper::http::response::Parts, Bytes) {
    let authority = endpoint.trim_start_matches("http://").to_owned();
    let io = TokioIo::new(tokio::net::TcpStream::connect(&authority).await.unwrap());
    let (amz_date, date) = amz_date();
    let request = hyper::Request::post(format!("http://{authority}/"))
        .header("host", &authority)
        .header("x-amz-target", "Kinesis_20131202.SubscribeToShard")
        .header("content-type", content_type)
        .header("x-amz-date", amz_date)
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{date}/{REGION}/kinesis/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature={}",
                "0".repeat(64)
            ),
        )
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = if http2 {
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await.unwrap();
        tokio::spawn(connection);
        sender.send_request(request).await.unwrap()
    } else {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await.unwrap();
        tokio::spawn(connection);
        sender.send_request(request).await.unwrap()
    };
    let (parts, body) = response.into_parts();
    let body = tokio::time::timeout(EVENT_TIMEOUT, body.collect()).await.expect("the stream ends").unwrap();
    (parts, body.to_bytes())
}

/// Splits a body into event-stream messages (checking both CRCs of each).
fn messages(mut body: Bytes) -> Vec<Message> {
    let mut messages = Vec::new();
    while body.has_remaining() {
        let length = u32::from_be_bytes(body[..4].try_into().unwrap()) as usize;
        messages.push(read_message_from(body.split_to(length)).expect("a valid message"));
    }
    messages
}

fn header(message: &Message, name: &str) -> Option<String> {
    let header = message.headers().iter().find(|h| h.name().as_str() == name)?;
    Some(header.value().as_string().unwrap().as_str().to_owned())
}

#[tokio::test]
async fn frames_over_raw_http1_and_h2c_in_json_and_cbor() {
    let (endpoint, _data) = in_process_server(800).await;
    let client = client_for(&endpoint, aws_sdk_kinesis::config::retry::RetryConfig::disabled());
    let (name, arn) = stream(&client, 1).await;
    let put = put_many(&client, &name, "raw", 3).await;
    let consumers = [
        active_consumer(&client, &arn, "h1-json").await,
        active_consumer(&client, &arn, "h2-json").await,
        active_consumer(&client, &arn, "h1-cbor").await,
        active_consumer(&client, &arn, "h2-cbor").await,
    ];
    for (i, consumer) in consumers.iter().enumerate() {
        let (http2, cbor) = (i % 2 == 1, i >= 2);
        let json = serde_json::json!({
            "ConsumerARN": consumer,
            "ShardId": "shardId-000000000000",
            "StartingPosition": {"Type": "TRIM_HORIZON"},
        });
        let (content_type, body) = if cbor {
            let value: ciborium::Value = ciborium::Value::serialized(&json).unwrap();
            (CBOR, cbor_java_style(&value))
        } else {
            (JSON, serde_json::to_vec(&json).unwrap())
        };
        let started = Instant::now();
        let (parts, body) = raw_subscribe(&endpoint, http2, content_type, body).await;
        let lasted = started.elapsed();
        let case = format!("http2={http2} cbor={cbor}");
        assert_eq!(parts.status, 200, "{case}");
        assert_eq!(parts.headers["content-type"], "application/vnd.amazon.eventstream", "{case}");
        assert!(parts.headers.contains_key("x-amzn-requestid"), "{case}");
        if !http2 {
            assert_eq!(parts.headers["transfer-encoding"], "chunked", "{case}");
        }
        // The subscription ends after its lifetime (800 ms here), cleanly.
        assert!(
            lasted >= Duration::from_millis(700) && lasted < Duration::from_secs(5),
            "{case}: {lasted:?}"
        );

        let messages = messages(body);
        assert_eq!(header(&messages[0], ":event-type").as_deref(), Some("initial-response"), "{case}");
        let payload_type = if cbor { "application/x-amz-cbor-1.1" } else { "application/json" };
        for message in &messages {
            assert_eq!(header(message, ":message-type").as_deref(), Some("event"), "{case}");
            assert_eq!(header(message, ":content-type").as_deref(), Some(payload_type), "{case}");
        }
        let event = &messages[1];
        assert_eq!(header(event, ":event-type").as_deref(), Some("SubscribeToShardEvent"), "{case}");
        if cbor {
            let payload: ciborium::Value = ciborium::from_reader(&event.payload()[..]).unwrap();
            let records = match cget(&payload, "Records") {
                Some(ciborium::Value::Array(records)) => records.clone(),
                other => panic!("{case}: Records {other:?}"),
            };
            assert_eq!(records.len(), 3, "{case}");
            // Blobs are byte strings and timestamps integer milliseconds (`docs/protocol/encodings.md`).
            assert_eq!(cget(&records[0], "Data"), Some(&ciborium::Value::Bytes(put[0].1.clone())), "{case}");
            let arrival = cint_of(cget(&records[0], "ApproximateArrivalTimestamp").unwrap()).unwrap();
            assert!((arrival as i64 - now_ms()).abs() < 60_000, "{case}: {arrival}");
            let continuation = cget(&payload, "ContinuationSequenceNumber").and_then(ctext_of);
            assert_eq!(continuation, Some(put[2].0.as_str()), "{case}");
        } else {
            let payload: serde_json::Value = serde_json::from_slice(event.payload()).unwrap();
            let records = payload["Records"].as_array().unwrap();
            assert_eq!(records.len(), 3, "{case}");
            assert_eq!(records[1]["SequenceNumber"], put[1].0, "{case}");
            assert_eq!(records[1]["Data"], "cmF3LTE=", "{case}");
            assert!(records[1]["ApproximateArrivalTimestamp"].is_f64(), "{case}");
            assert_eq!(payload["ContinuationSequenceNumber"], put[2].0, "{case}");
            assert_eq!(payload["MillisBehindLatest"], 0, "{case}");
        }
    }
}

#[tokio::test]
async fn subscriptions_end_after_their_lifetime() {
    let (endpoint, _data) = in_process_server(1_500).await;
    let client = client_for(&endpoint, aws_sdk_kinesis::config::retry::RetryConfig::disabled());
    let (_, arn) = stream(&client, 1).await;
    let consumer = active_consumer(&client, &arn, "short-lived").await;
    let started = Instant::now();
    let mut events =
        subscribe(&client, &consumer, "shardId-000000000000", position(ShardIteratorType::Latest, None))
            .await;
    loop {
        match tokio::time::timeout(EVENT_TIMEOUT, events.event_stream.recv()).await.expect("the stream ends")
        {
            Ok(Some(_)) => continue,
            Ok(None) => break,
            Err(e) => panic!("the stream failed: {}", show(&e)),
        }
    }
    let lasted = started.elapsed();
    assert!(lasted >= Duration::from_millis(1_400) && lasted < Duration::from_secs(4), "{lasted:?}");
}

// ---------------------------------------------------------------------------------------------
// boto3 (botocore runs SubscribeToShard over HTTP/1.1 with a streamed body)
// ---------------------------------------------------------------------------------------------

#[test]
fn boto3_subscribes_over_http1() {
    let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-tests/bin/python");
    if !python.exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{} is missing: .ci/run creates it (python3 -m venv .venv-tests && .venv-tests/bin/pip install boto3)",
            python.display()
        );
        eprintln!("skipping: no {} (create it as .ci/run does)", python.display());
        return;
    }
    let server = TestServer::start();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fanout_boto3.py");
    let output = std::process::Command::new(&python)
        .arg(&script)
        .arg(server.endpoint())
        .arg(unique_name("boto3"))
        .output()
        .expect("run python");
    assert!(
        output.status.success(),
        "boto3 script failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// Put-to-push latency
// ---------------------------------------------------------------------------------------------

/// Measures, for records put one at a time, the time from sending PutRecord to receiving the
/// event that carries the record, and from the put's acknowledgement to that event.
/// `cargo test --release --test fanout -- --ignored --nocapture put_to_push`.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a measurement; run explicitly in release mode"]
async fn put_to_push_latency() {
    for durability in ["fsync", "os"] {
        let server = TestServer::start_with(ServerOptions::default().durability(durability));
        let client = server.client_no_retry();
        let (name, arn) = stream(&client, 1).await;
        let consumer = active_consumer(&client, &arn, "latency").await;
        let mut events =
            subscribe(&client, &consumer, "shardId-000000000000", position(ShardIteratorType::Latest, None))
                .await;
        next_event(&mut events).await;
        let (mut from_send, mut from_ack) = (Vec::new(), Vec::new());
        for i in 0..3_000 {
            let sent = Instant::now();
            let put = client
                .put_record()
                .stream_name(&name)
                .partition_key("pk")
                .data(Blob::new(format!("record-{i}")))
                .send()
                .await
                .unwrap();
            let acked = Instant::now();
            let pushed = loop {
                let event = next_event(&mut events).await;
                if let Some(record) = event.records().first() {
                    assert_eq!(record.sequence_number(), put.sequence_number());
                    break Instant::now();
                }
            };
            if i >= 100 {
                // Warmed up.
                from_send.push(pushed - sent);
                from_ack.push(pushed.saturating_duration_since(acked));
            }
        }
        let stats = |samples: &mut Vec<Duration>| {
            samples.sort();
            let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
            format!("median {:?}, p99 {:?}, max {:?}", at(0.5), at(0.99), at(1.0))
        };
        println!(
            "durability={durability}: {} records; put sent -> pushed: {}; put acknowledged -> pushed: {}",
            from_send.len(),
            stats(&mut from_send),
            stats(&mut from_ack)
        );
    }
}
