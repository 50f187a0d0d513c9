//! Running kinesin as an operator does: a config file, streams created at start-up, health
//! checks and metrics on the admin port, and a clean stop on SIGTERM or SIGINT with requests in flight.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{
    ConsumerStatus, MetricsName, PutRecordsRequestEntry, ShardIteratorType, StartingPosition, StreamMode,
    StreamStatus,
};
use aws_sdk_kinesis::Client;
use common::*;

/// `GET path` on `endpoint` (`http://HOST:PORT`): the status and the body.
fn get(endpoint: &str, path: &str) -> (u16, String) {
    let address = endpoint.strip_prefix("http://").expect("an http:// endpoint");
    let mut stream = TcpStream::connect(address).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    (status, body)
}

fn write_config(dir: &Path, text: &str) -> String {
    let path = dir.join("kinesin.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

async fn summary(client: &Client, name: &str) -> aws_sdk_kinesis::types::StreamDescriptionSummary {
    let out = client.describe_stream_summary().stream_name(name).send().await.unwrap();
    out.stream_description_summary().unwrap().clone()
}

async fn tags(client: &Client, name: &str) -> BTreeMap<String, String> {
    let out = client.list_tags_for_stream().stream_name(name).send().await.unwrap();
    out.tags().iter().map(|t| (t.key().to_owned(), t.value().unwrap_or_default().to_owned())).collect()
}

async fn consumers(client: &Client, name: &str) -> Vec<(String, ConsumerStatus)> {
    let arn = summary(client, name).await.stream_arn().to_owned();
    let out = client.list_stream_consumers().stream_arn(arn).send().await.unwrap();
    let mut consumers: Vec<_> =
        out.consumers().iter().map(|c| (c.consumer_name().to_owned(), c.consumer_status().clone())).collect();
    consumers.sort_by(|a, b| a.0.cmp(&b.0));
    consumers
}

#[tokio::test]
async fn settings_come_from_the_flag_then_the_environment_then_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "account_id = \"111111111111\"\nshard_limit = 7\ncreate_stream_ms = 60000\n",
    );
    // TestServer passes --create-stream-ms 0, which beats the file's 60000 and this variable.
    let server = TestServer::start_with(
        ServerOptions::default()
            .arg("--config")
            .arg(&config)
            .env("KINESIN_ACCOUNT_ID", "222222222222")
            .env("KINESIN_CREATE_STREAM_MS", "60000"),
    );
    let client = server.client();
    let limits = client.describe_limits().send().await.unwrap();
    assert_eq!(limits.shard_limit(), 7, "the file's shard_limit beats the default");
    client.create_stream().stream_name("s").shard_count(1).send().await.unwrap();
    let created = summary(&client, "s").await;
    assert_eq!(
        *created.stream_status(),
        StreamStatus::Active,
        "the flag's 0 ms beats the file and the variable"
    );
    assert!(
        created.stream_arn().contains(":222222222222:"),
        "the variable beats the file: {}",
        created.stream_arn()
    );
}

#[tokio::test]
async fn a_config_file_mistake_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "shard_limit = 7\nport_number = 1\n");
    let error = start_fails(&[], &[("KINESIN_CONFIG", &config)]);
    assert!(error.contains(&format!("config file {config}: unknown key `port_number`")), "{error}");
    let config = write_config(dir.path(), "shard_limit = \"many\"\n");
    let error = start_fails(&["--config", &config], &[]);
    assert!(error.contains("`shard_limit` must be an integer, not the string \"many\""), "{error}");
}

#[tokio::test]
async fn start_up_streams_are_active_when_the_server_listens_and_left_alone_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        r#"
        create_stream = ["from-file-key:2"]

        [[streams]]
        name = "orders"
        shards = 3
        retention_hours = 48
        tags = { team = "payments", tier = "gold" }
        consumers = ["audit", "search"]

        [[streams]]
        name = "clicks"
        mode = "on-demand"
        "#,
    );
    // Status changes take a while here, as on AWS: the server must wait for them.
    let mut server = TestServer::start_with(
        ServerOptions::default()
            .transition_ms(300, 300, 300)
            .arg("--config")
            .arg(&config)
            .arg("--create-stream")
            .arg("from-flag")
            .env("KINESIN_CREATE_STREAMS", "ignored-as-the-flag-wins"),
    );
    let client = server.client_no_retry();

    let names = client.list_streams().send().await.unwrap().stream_names().to_vec();
    let names: BTreeSet<String> = names.into_iter().collect();
    assert_eq!(
        names,
        ["clicks", "from-flag", "orders"].map(String::from).into(),
        "the flag replaced the key"
    );
    let orders = summary(&client, "orders").await;
    assert_eq!(*orders.stream_status(), StreamStatus::Active);
    assert_eq!((orders.open_shard_count(), orders.retention_period_hours()), (3, 48));
    let expected_tags = [("team", "payments"), ("tier", "gold")].map(|(k, v)| (k.to_owned(), v.to_owned()));
    assert_eq!(tags(&client, "orders").await, expected_tags.into());
    let active = |name: &str| (name.to_owned(), ConsumerStatus::Active);
    assert_eq!(consumers(&client, "orders").await, [active("audit"), active("search")]);
    let clicks = summary(&client, "clicks").await;
    assert_eq!(*clicks.stream_status(), StreamStatus::Active);
    assert_eq!(*clicks.stream_mode_details().unwrap().stream_mode(), StreamMode::OnDemand);
    let from_flag = summary(&client, "from-flag").await;
    assert_eq!((from_flag.stream_status(), from_flag.open_shard_count()), (&StreamStatus::Active, 1));

    // Changed through the API, then a restart: the change stays, nothing is created twice.
    client.add_tags_to_stream().stream_name("orders").tags("tier", "silver").send().await.unwrap();
    client
        .decrease_stream_retention_period()
        .stream_name("orders")
        .retention_period_hours(24)
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    server.restart();
    let client = server.client_no_retry();
    assert_eq!(tags(&client, "orders").await["tier"], "silver");
    assert_eq!(summary(&client, "orders").await.retention_period_hours(), 24);
    assert_eq!(client.list_streams().send().await.unwrap().stream_names().len(), 3);
    assert!(server.stderr().matches("created at start-up").count() == 3, "{}", server.stderr());
}

#[tokio::test]
async fn a_bad_start_up_stream_stops_start_up_with_the_aws_message() {
    let error = start_fails(&["--create-stream", "ok", "--create-stream", "big:0"], &[]);
    assert!(
        error.contains("cannot create the start-up stream big (account 000000000000, us-east-1)"),
        "{error}"
    );
    assert!(
        error.contains("ValidationException: 1 validation error detected: Value '0' at 'shardCount'"),
        "{error}"
    );
    let error = start_fails(&[], &[("KINESIN_CREATE_STREAMS", "a,clicks:2:on-demand")]);
    assert!(
        error.contains("stream clicks")
            && error.contains("ShardCount cannot be specified when StreamMode is ON_DEMAND."),
        "{error}"
    );
    let error = start_fails(&["--create-stream", "a:b:c:d"], &[]);
    assert!(error.contains("expected NAME[:SHARDS[:MODE]]"), "{error}");
    let error = start_fails(&["--create-stream", "twice", "--create-stream", "twice:2"], &[]);
    assert!(error.contains("stream twice is listed twice"), "{error}");
}

#[tokio::test]
async fn health_readiness_and_metrics_on_the_admin_port() {
    let mut server = TestServer::start();
    let admin = server.admin_endpoint();
    assert_ne!(admin, server.endpoint());
    assert_eq!(get(&admin, "/health"), (200, r#"{"status":"ok"}"#.to_owned()));
    assert_eq!(get(&admin, "/ready"), (200, r#"{"status":"ready"}"#.to_owned()));
    let (status, body) = get(&admin, "/metrics/nope");
    assert_eq!(status, 404, "{body}");

    // Prometheus figures: requests by operation and outcome, and each stream's figures (the
    // shard's too, with enhanced monitoring).
    let client = server.client_no_retry();
    create_stream_and_wait(&client, "measured", 1).await;
    client
        .enable_enhanced_monitoring()
        .stream_name("measured")
        .shard_level_metrics(MetricsName::IncomingBytes)
        .send()
        .await
        .unwrap();
    for data in ["ab", "cde"] {
        client
            .put_record()
            .stream_name("measured")
            .partition_key("k")
            .data(Blob::new(data))
            .send()
            .await
            .unwrap();
    }
    let entry = PutRecordsRequestEntry::builder().partition_key("k").data(Blob::new("x")).build().unwrap();
    client.put_records().stream_name("measured").set_records(Some(vec![entry; 3])).send().await.unwrap();
    let iterator = client
        .get_shard_iterator()
        .stream_name("measured")
        .shard_id("shardId-000000000000")
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap();
    let read = client.get_records().shard_iterator(iterator.shard_iterator().unwrap()).send().await.unwrap();
    assert_eq!(read.records().len(), 5);
    let _ = client.describe_stream_summary().stream_name("missing").send().await;
    let (status, metrics) = get(&admin, "/metrics");
    assert_eq!(status, 200);
    let stream = r#"{account="000000000000",region="us-east-1",stream="measured"}"#;
    let shard =
        r#"{account="000000000000",region="us-east-1",stream="measured",shard="shardId-000000000000"}"#;
    for (name, value) in [
        ("kinesin_incoming_records_total", 5),
        // Partition keys and data: 1 + 2, 1 + 3, then 3 × (1 + 1).
        ("kinesin_incoming_bytes_total", 13),
        ("kinesin_put_record_success_total", 2),
        ("kinesin_put_record_bytes_total", 7),
        ("kinesin_put_record_latency_milliseconds_count", 2),
        ("kinesin_put_records_records_total", 3),
        ("kinesin_put_records_total_records_total", 3),
        ("kinesin_put_records_failed_records_total", 0),
        ("kinesin_put_records_bytes_total", 6),
        ("kinesin_get_records_records_total", 5),
        ("kinesin_get_records_bytes_total", 13),
        ("kinesin_get_records_success_total", 1),
    ] {
        let line = format!("{name}{stream} {value}");
        assert!(metrics.lines().any(|l| l == line), "no {line} in\n{metrics}");
    }
    for line in [
        format!("kinesin_shard_incoming_bytes_total{shard} 13"),
        format!("kinesin_shard_outgoing_records_total{shard} 5"),
    ] {
        assert!(metrics.lines().any(|l| l == line), "no {line} in\n{metrics}");
    }
    for line in [
        r#"kinesin_requests_total{operation="PutRecord",code="OK"} 2"#,
        r#"kinesin_requests_total{operation="DescribeStreamSummary",code="ResourceNotFoundException"} 1"#,
        r#"kinesin_request_duration_seconds_count{operation="PutRecord"} 2"#,
    ] {
        assert!(metrics.lines().any(|l| l == line), "no {line} in\n{metrics}");
    }
    // The API port does not answer these.
    assert_ne!(get(&server.endpoint(), "/health").0, 200);

    // SIGINT stops it cleanly too.
    let status = server.signal_and_wait("INT", Duration::from_secs(15));
    assert_eq!(status.code(), Some(0), "{}", server.stderr());

    let quiet = TestServer::start_with(ServerOptions::default().admin_port("off"));
    assert_eq!(quiet.stdout_line("kinesin admin on "), None, "`off` serves no admin port");
}

/// A sample's value in a Prometheus exposition: the line `series value`, `series` with its
/// labels (`name{a="b"}`).
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Scrapes `/metrics` until `series` satisfies `wanted`, for up to 20 seconds (connections are
/// counted once accepted and closed, subscriptions once their task notices); returns the value.
fn await_sample(admin: &str, series: &str, wanted: impl Fn(f64) -> bool) -> f64 {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let value = sample(&get(admin, "/metrics").1, series);
        match value {
            Some(value) if wanted(value) => return value,
            _ if std::time::Instant::now() > deadline => panic!("{series} stayed at {value:?}"),
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// The server's own figures move with what it does: group commits and their syncs with puts, a
/// stream's bytes on disk with its records, the connection gauge with clients connecting and
/// leaving, the subscription gauge with SubscribeToShard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_own_metrics_follow_puts_connections_and_subscriptions() {
    let server = TestServer::start();
    let admin = server.admin_endpoint();
    let client = server.client_no_retry();
    create_stream_and_wait(&client, "gauged", 1).await;
    let stream = r#"{account="000000000000",region="us-east-1",stream="gauged"}"#;
    let disk = format!("kinesin_stream_disk_bytes{stream}");
    let before = get(&admin, "/metrics").1;
    let value = |metrics: &str, series: &str| {
        sample(metrics, series).unwrap_or_else(|| panic!("no {series} in\n{metrics}"))
    };
    let rss = value(&before, "process_resident_memory_bytes");
    assert!(rss > 1e6, "a running server holds more than a megabyte: {rss}");

    // One small record goes through the journal; each PutRecords' 200 KB share of the shard is
    // synced in its segment (docs/storage.md).
    client
        .put_record()
        .stream_name("gauged")
        .partition_key("k")
        .data(Blob::new("small"))
        .send()
        .await
        .unwrap();
    let entry = PutRecordsRequestEntry::builder()
        .partition_key("k")
        .data(Blob::new(vec![7u8; 20_000]))
        .build()
        .unwrap();
    for _ in 0..5 {
        client
            .put_records()
            .stream_name("gauged")
            .set_records(Some(vec![entry.clone(); 10]))
            .send()
            .await
            .unwrap();
    }
    let after = get(&admin, "/metrics").1;
    let grew = |series: &str| value(&after, series) - value(&before, series);
    assert!(grew("kinesin_group_commit_records_count") >= 1.0, "{after}");
    assert!(grew("kinesin_group_commit_records_sum") >= 51.0, "{after}");
    assert!(grew("kinesin_group_commit_bytes_sum") >= 1_000_000.0, "{after}");
    assert!(grew(r#"kinesin_group_commit_bytes_bucket{le="+Inf"}"#) >= 1.0, "{after}");
    assert!(grew(r#"kinesin_fsync_duration_seconds_count{file="journal"}"#) >= 1.0, "{after}");
    assert!(grew(r#"kinesin_fsync_duration_seconds_count{file="segment"}"#) >= 5.0, "{after}");
    assert!(grew(r#"kinesin_fsync_duration_seconds_sum{file="segment"}"#) > 0.0, "{after}");
    assert!(grew(&disk) >= 1_000_000.0, "{after}");

    // Connections: counted while open, not after.
    let idle = value(&after, "kinesin_open_connections");
    let address = server.endpoint().strip_prefix("http://").unwrap().to_owned();
    let clients: Vec<TcpStream> = (0..5).map(|_| TcpStream::connect(&address).unwrap()).collect();
    await_sample(&admin, "kinesin_open_connections", |open| open >= idle + 5.0);
    drop(clients);
    await_sample(&admin, "kinesin_open_connections", |open| open <= idle);

    // Subscriptions: counted while running, not after the client goes away.
    let subscriptions = format!("kinesin_fan_out_subscriptions{stream}");
    assert_eq!(value(&after, &subscriptions), 0.0);
    let stream_arn = summary(&client, "gauged").await.stream_arn().to_owned();
    let consumer = active_consumer(&client, &stream_arn, "gauge-watcher").await;
    let position = StartingPosition::builder().r#type(ShardIteratorType::Latest).build().unwrap();
    let subscription = client
        .subscribe_to_shard()
        .consumer_arn(&consumer)
        .shard_id("shardId-000000000000")
        .starting_position(position)
        .send()
        .await
        .unwrap();
    let admin_now = admin.clone();
    let series = subscriptions.clone();
    tokio::task::spawn_blocking(move || await_sample(&admin_now, &series, |n| n == 1.0)).await.unwrap();
    drop(subscription);
    tokio::task::spawn_blocking(move || await_sample(&admin, &subscriptions, |n| n == 0.0)).await.unwrap();
}

/// The example dashboard (docs/grafana/kinesin-prometheus.json) cannot rot: every series its
/// queries name is one a running server exposes.
#[tokio::test]
async fn the_grafana_prometheus_dashboard_queries_series_the_server_exposes() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/grafana/kinesin-prometheus.json");
    let dashboard: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut queries: Vec<&str> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|panel| panel["targets"].as_array().unwrap())
        .map(|target| target["expr"].as_str().unwrap())
        .collect();
    queries.extend(
        dashboard["templating"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v["query"]["query"].as_str()),
    );
    let named: BTreeSet<&str> = queries
        .iter()
        .flat_map(|query| query.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
        .filter(|word| word.starts_with("kinesin_") || word.starts_with("process_"))
        .collect();
    assert!(named.len() >= 15, "{named:?}");

    let server = TestServer::start();
    let client = server.client_no_retry();
    create_stream_and_wait(&client, "charted", 1).await;
    client.put_record().stream_name("charted").partition_key("k").data(Blob::new("x")).send().await.unwrap();
    let exposed: BTreeSet<String> = get(&server.admin_endpoint(), "/metrics")
        .1
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect();
    let missing: Vec<&&str> = named.iter().filter(|name| !exposed.contains(**name)).collect();
    assert!(missing.is_empty(), "the dashboard queries {missing:?}, which /metrics does not have");
}

/// SIGTERM while producers put and a subscription is live: the subscription ends cleanly, the
/// process exits 0 leaving the clean-stop mark, and every acknowledged record is there after a
/// restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_during_puts_and_a_subscription_stops_cleanly_and_keeps_every_acknowledged_record() {
    let mut server = TestServer::start();
    let client = server.client_no_retry();
    create_stream_and_wait(&client, "busy", 2).await;
    let stream_arn = summary(&client, "busy").await.stream_arn().to_owned();
    let consumer = active_consumer(&client, &stream_arn, "watcher").await;
    let position = StartingPosition::builder().r#type(ShardIteratorType::TrimHorizon).build().unwrap();
    let mut subscription = client
        .subscribe_to_shard()
        .consumer_arn(&consumer)
        .shard_id("shardId-000000000000")
        .starting_position(position)
        .send()
        .await
        .unwrap();

    let acknowledged = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let producers: Vec<_> = (0..4)
        .map(|p| {
            let (client, acknowledged) = (client.clone(), acknowledged.clone());
            tokio::spawn(async move {
                for i in 0.. {
                    let data = format!("producer {p} record {i}");
                    let put = client
                        .put_record()
                        .stream_name("busy")
                        .partition_key(format!("key-{i}"))
                        .data(Blob::new(data.clone()))
                        .send()
                        .await;
                    match put {
                        Ok(out) => {
                            acknowledged.lock().unwrap().push((out.sequence_number().to_owned(), data))
                        }
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    while acknowledged.lock().unwrap().len() < 100 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let data_dir = server.data_dir().to_owned();
    let (status, mut server) = tokio::task::spawn_blocking(move || {
        let status = server.signal_and_wait("TERM", Duration::from_secs(15));
        (status, server)
    })
    .await
    .unwrap();
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
    for producer in producers {
        producer.await.unwrap();
    }
    // The subscription ended as one that ran out does, not with an error.
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match subscription.event_stream.recv().await {
                Ok(Some(_)) => continue,
                other => return other.map(|_| ()),
            }
        }
    })
    .await
    .expect("the subscription ended");
    assert!(ended.is_ok(), "the subscription failed: {ended:?}");
    assert!(data_dir.join("journal/clean-stop").exists(), "no clean-stop mark");

    server.start_again();
    let client = server.client_no_retry();
    let mut stored = BTreeMap::new();
    for shard in ["shardId-000000000000", "shardId-000000000001"] {
        for record in read_shard(&client, "busy", shard).await {
            stored.insert(record.sequence_number().to_owned(), record.data().as_ref().to_vec());
        }
    }
    let acknowledged = acknowledged.lock().unwrap();
    assert!(acknowledged.len() >= 100);
    for (sequence_number, data) in acknowledged.iter() {
        assert_eq!(
            stored.get(sequence_number).map(Vec::as_slice),
            Some(data.as_bytes()),
            "{sequence_number}"
        );
    }
}

/// SIGTERM while a start recovers a large data directory (after a kill -9, with thousands of
/// shards to open, replay into and sync): the process exits at once with status 0, and the next
/// start recovers every acknowledged record (`docs/storage.md`, "Recovery").
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_during_recovery_exits_at_once_and_the_next_start_recovers_everything() {
    const SHARDS: i32 = 2_000;
    let mut server = TestServer::start_with(ServerOptions::default().shard_limit(SHARDS as u32));
    let client = server.client_no_retry();
    create_stream_and_wait(&client, "replayed", SHARDS).await;
    let mut acknowledged = BTreeMap::new();
    for batch in 0..20 {
        let datas: Vec<String> = (0..500).map(|i| format!("record {batch}-{i}")).collect();
        let entries: Vec<PutRecordsRequestEntry> = datas
            .iter()
            .map(|data| {
                PutRecordsRequestEntry::builder()
                    .partition_key(data)
                    .data(Blob::new(data.clone()))
                    .build()
                    .unwrap()
            })
            .collect();
        let out =
            client.put_records().stream_name("replayed").set_records(Some(entries)).send().await.unwrap();
        assert_eq!(out.failed_record_count(), Some(0));
        for (entry, data) in out.records().iter().zip(datas) {
            acknowledged.insert(
                entry.sequence_number().unwrap().to_owned(),
                (entry.shard_id().unwrap().to_owned(), data),
            );
        }
    }
    server.kill9();

    // The next start: SIGTERM once /ready says the recovery runs.
    let stderr_path = server.data_dir().with_file_name("recovering-stderr.log");
    let mut recovering = std::process::Command::new(binary())
        .args(["serve", "--port", "0", "--host", "127.0.0.1", "--admin-port", "0"])
        .args(["--shard-limit", &SHARDS.to_string()])
        .arg("--data-dir")
        .arg(server.data_dir())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(recovering.stdout.take().unwrap());
    let admin = std::io::BufRead::lines(stdout)
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("kinesin admin on ").map(str::to_owned))
        .expect("the admin port line");
    let (status, body) = get(&admin, "/ready");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("recovery is running"), "the start was over before the signal: {body}");
    let pid = recovering.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let exited = loop {
        if let Some(status) = recovering.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = recovering.kill();
            panic!("still running 30 s after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    assert_eq!(exited.code(), Some(0), "{stderr}");
    assert!(stderr.contains("stopping during recovery"), "{stderr}");

    server.start_again();
    let client = server.client_no_retry();
    let shards: BTreeSet<String> = acknowledged.values().map(|(shard, _)| shard.clone()).collect();
    let mut reads = tokio::task::JoinSet::new();
    let mut stored = BTreeMap::new();
    for shard in shards {
        if reads.len() >= 16 {
            stored.extend(reads.join_next().await.unwrap().unwrap());
        }
        let client = client.clone();
        reads.spawn(async move {
            let records = read_shard(&client, "replayed", &shard).await;
            records
                .into_iter()
                .map(|r| {
                    (r.sequence_number().to_owned(), String::from_utf8(r.data().as_ref().to_vec()).unwrap())
                })
                .collect::<Vec<_>>()
        });
    }
    while let Some(read) = reads.join_next().await {
        stored.extend(read.unwrap());
    }
    for (sequence_number, (_, data)) in &acknowledged {
        assert_eq!(stored.get(sequence_number), Some(data), "{sequence_number}");
    }
    assert_eq!(stored.len(), acknowledged.len());
}
