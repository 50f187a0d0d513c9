//! CloudWatch on the kinesin endpoint, end to end (`docs/cloudwatch.md`): boto3 in each of the
//! three protocols, the AWS CLI, raw signed requests, accounts and regions, and the retention
//! and series bounds.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{raw, unique_name, venv_python as python, RawRequest, ServerOptions, TestServer};

/// Runs the boto3 script in `protocol` and returns its last line (the content types used).
fn boto3(python: &Path, server: &TestServer, protocol: &str) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cloudwatch_boto3.py");
    let output = Command::new(python)
        .arg(&script)
        .arg(server.endpoint())
        .arg(protocol)
        .arg(unique_name("app"))
        .env_remove("AWS_DATA_PATH")
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "boto3 ({protocol}) failed ({}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout.lines().last().unwrap_or_default().to_string()
}

#[test]
fn boto3_in_the_protocol_botocore_picks() {
    let Some(python) = python() else { return };
    let server = TestServer::start();
    let used = boto3(&python, &server, "default");
    // The model lists smithy-rpc-v2-cbor, json and query; botocore 1.44 prefers json
    // (`PRIORITY_ORDERED_SUPPORTED_PROTOCOLS` in botocore/utils.py).
    assert!(used.contains("application/x-amz-json-1.0"), "{used}");
    assert!(used.contains("gzip"), "the large put was compressed: {used}");
}

#[test]
fn boto3_in_rpc_v2_cbor() {
    let Some(python) = python() else { return };
    let used = boto3(&python, &TestServer::start(), "smithy-rpc-v2-cbor");
    assert!(used.contains("application/cbor"), "{used}");
}

#[test]
fn boto3_in_aws_json() {
    let Some(python) = python() else { return };
    let used = boto3(&python, &TestServer::start(), "json");
    assert!(used.contains("application/x-amz-json-1.0"), "{used}");
}

#[test]
fn boto3_in_aws_query() {
    let Some(python) = python() else { return };
    let used = boto3(&python, &TestServer::start(), "query");
    assert!(used.contains("application/x-www-form-urlencoded"), "{used}");
    assert!(used.contains("gzip"), "the large put was compressed: {used}");
}

// ---------------------------------------------------------------------------------------------
// The AWS CLI
// ---------------------------------------------------------------------------------------------

/// The AWS CLI: the test virtualenv's (`.ci/run` installs it there), else `aws` on the PATH, or
/// `None` (off CI) to skip.
fn aws_cli() -> Option<PathBuf> {
    let in_venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-tests/bin/aws");
    let cli = if in_venv.exists() { in_venv } else { PathBuf::from("aws") };
    if Command::new(&cli).arg("--version").output().is_ok_and(|output| output.status.success()) {
        return Some(cli);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the AWS CLI must be installed on CI (.ci/run does)"
    );
    eprintln!("skipping: the AWS CLI (`aws`) is not installed");
    None
}

#[test]
fn aws_cli_get_metric_statistics_shows_what_was_put() {
    let Some(cli) = aws_cli() else { return };
    let server = TestServer::start();
    let namespace = unique_name("cli");
    let aws = |args: &[&str]| {
        let output = Command::new(&cli)
            .args([
                "cloudwatch",
                "--endpoint-url",
                &server.endpoint(),
                "--region",
                "us-east-1",
                "--output",
                "json",
            ])
            .args(args)
            .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
            .env("AWS_SECRET_ACCESS_KEY", "secret")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_DATA_PATH")
            .output()
            .expect("run aws");
        assert!(output.status.success(), "aws {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    for value in ["5", "7"] {
        aws(&[
            "put-metric-data",
            "--namespace",
            &namespace,
            "--metric-name",
            "RecordsProcessed",
            "--value",
            value,
            "--unit",
            "Count",
            "--dimensions",
            "ShardId=shardId-000000000000",
        ]);
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let (start, end) = ((now - 600).to_string(), (now + 600).to_string());
    let statistics = aws(&[
        "get-metric-statistics",
        "--namespace",
        &namespace,
        "--metric-name",
        "RecordsProcessed",
        "--dimensions",
        "Name=ShardId,Value=shardId-000000000000",
        "--start-time",
        &start,
        "--end-time",
        &end,
        "--period",
        "60",
        "--statistics",
        "Sum",
        "SampleCount",
    ]);
    let answer: serde_json::Value = serde_json::from_str(&statistics).unwrap();
    let points = answer["Datapoints"].as_array().unwrap();
    let sum: f64 = points.iter().map(|p| p["Sum"].as_f64().unwrap()).sum();
    let count: f64 = points.iter().map(|p| p["SampleCount"].as_f64().unwrap()).sum();
    assert_eq!((sum, count, answer["Label"].as_str()), (12.0, 2.0, Some("RecordsProcessed")), "{statistics}");
    assert_eq!(points[0]["Unit"], "Count");
    let listed: serde_json::Value =
        serde_json::from_str(&aws(&["list-metrics", "--namespace", &namespace])).unwrap();
    assert_eq!(listed["Metrics"][0]["MetricName"], "RecordsProcessed");
}

// ---------------------------------------------------------------------------------------------
// Raw requests: headers, regions, bounds, signatures
// ---------------------------------------------------------------------------------------------

const TARGET: &str = "GraniteServiceVersion20100801";

/// A CloudWatch request in `protocol` (`json`, `cbor` or `query`), for `op`, in `region`, with
/// an Authorization header that names the `monitoring` scope (not verified without
/// `--credentials`).
fn request(protocol: &str, op: &str, body: Vec<u8>, region: &str) -> RawRequest {
    let (amz, date) = common::amz_date();
    let (path, target, content_type) = match protocol {
        "json" => ("/".to_string(), Some(format!("{TARGET}.{op}")), "application/x-amz-json-1.0"),
        "cbor" => (format!("/service/{TARGET}/operation/{op}"), None, "application/cbor"),
        _ => ("/".to_string(), None, "application/x-www-form-urlencoded; charset=utf-8"),
    };
    let mut raw = RawRequest::op(op, content_type, body).unsigned().target(target.as_deref()).header("x-amz-date", &amz).header(
        "authorization",
        &format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{date}/{region}/monitoring/aws4_request, SignedHeaders=host;x-amz-date, Signature=00"
        ),
    );
    raw.path = path;
    if protocol == "cbor" {
        raw = raw.header("smithy-protocol", "rpc-v2-cbor").header("accept", "application/cbor");
    }
    raw
}

fn put_form(namespace: &str, metric: &str, value: f64) -> Vec<u8> {
    format!("Action=PutMetricData&Version=2010-08-01&Namespace={namespace}&MetricData.member.1.MetricName={metric}&MetricData.member.1.Value={value}").into_bytes()
}

fn list_form(namespace: &str) -> Vec<u8> {
    format!("Action=ListMetrics&Version=2010-08-01&Namespace={namespace}").into_bytes()
}

fn text(response: &common::RawResponse) -> String {
    String::from_utf8_lossy(&response.body).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_protocol_answers_with_its_headers() {
    let server = TestServer::start();
    let endpoint = server.endpoint();
    let query =
        raw(&endpoint, request("query", "PutMetricData", put_form("app", "m", 1.0), "us-east-1")).await;
    assert_eq!(
        (query.status, query.header("content-type").as_deref()),
        (200, Some("text/xml")),
        "{}",
        text(&query)
    );

    let cbor_body = common::cmap(vec![("Namespace", common::ctext("app"))]);
    let mut bytes = Vec::new();
    ciborium::ser::into_writer(&cbor_body, &mut bytes).unwrap();
    let cbor = raw(&endpoint, request("cbor", "PutMetricData", bytes, "us-east-1")).await;
    assert_eq!(cbor.status, 400);
    assert_eq!(cbor.header("smithy-protocol").as_deref(), Some("rpc-v2-cbor"));
    assert_eq!(cbor.header("x-amzn-query-error").as_deref(), Some("MissingParameter;Sender"));
    assert_eq!(
        common::ctext_of(common::cget(&cbor.cbor(), "__type").unwrap()),
        Some("com.amazonaws.cloudwatch#MissingRequiredParameterException")
    );

    let json =
        raw(&endpoint, request("json", "ListMetrics", br#"{"Namespace":"app"}"#.to_vec(), "us-east-1")).await;
    assert_eq!(
        (json.status, json.header("content-type").as_deref()),
        (200, Some("application/x-amz-json-1.0"))
    );
    assert_eq!(json.json()["Metrics"][0]["MetricName"], "m");

    let unknown = raw(&endpoint, request("json", "PutMetricAlarm", b"{}".to_vec(), "us-east-1")).await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.json()["__type"], "UnknownOperationException");
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_are_kept_per_account_and_region() {
    let server = TestServer::start();
    let endpoint = server.endpoint();
    assert_eq!(
        raw(&endpoint, request("query", "PutMetricData", put_form("app", "west", 1.0), "us-west-2"))
            .await
            .status,
        200
    );
    let east = raw(&endpoint, request("query", "ListMetrics", list_form("app"), "us-east-1")).await;
    assert!(!text(&east).contains("west"), "{}", text(&east));
    let west = raw(&endpoint, request("query", "ListMetrics", list_form("app"), "us-west-2")).await;
    assert!(text(&west).contains("<MetricName>west</MetricName>"), "{}", text(&west));
    // A 12-digit access key id is its own account.
    let (amz, date) = common::amz_date();
    let other_account =
        request("query", "ListMetrics", list_form("app"), "us-west-2").header("x-amz-date", &amz);
    let other_account = RawRequest {
        extra_headers: other_account.extra_headers.into_iter().filter(|(name, _)| name != "authorization").collect(),
        ..other_account
    }
    .header(
        "authorization",
        &format!("AWS4-HMAC-SHA256 Credential=111122223333/{date}/us-west-2/monitoring/aws4_request, SignedHeaders=host, Signature=00"),
    );
    let elsewhere = raw(&endpoint, other_account).await;
    assert!(!text(&elsewhere).contains("west"), "{}", text(&elsewhere));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_retention_flag_drops_old_datapoints() {
    let server =
        TestServer::start_with(ServerOptions::default().arg("--cloudwatch-retention-hours").arg("1"));
    let endpoint = server.endpoint();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let put = |minutes_ago: u64| {
        serde_json::json!({"Namespace": "app", "MetricData": [{"MetricName": "m", "Value": minutes_ago, "Timestamp": now - minutes_ago * 60}]})
            .to_string()
            .into_bytes()
    };
    for minutes_ago in [90, 30] {
        assert_eq!(
            raw(&endpoint, request("json", "PutMetricData", put(minutes_ago), "us-east-1")).await.status,
            200
        );
    }
    let statistics = serde_json::json!({
        "Namespace": "app", "MetricName": "m", "StartTime": now - 3 * 3600, "EndTime": now + 60,
        "Period": 3600, "Statistics": ["Sum", "SampleCount"]
    });
    let answer = raw(
        &endpoint,
        request("json", "GetMetricStatistics", statistics.to_string().into_bytes(), "us-east-1"),
    )
    .await
    .json();
    let points = answer["Datapoints"].as_array().unwrap();
    let count: f64 = points.iter().map(|p| p["SampleCount"].as_f64().unwrap()).sum();
    let sum: f64 = points.iter().map(|p| p["Sum"].as_f64().unwrap()).sum();
    assert_eq!((count, sum), (1.0, 30.0), "only the datapoint within the hour is kept: {answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_series_bound_refuses_new_metrics_whole() {
    let server = TestServer::start_with(ServerOptions::default().arg("--cloudwatch-max-series").arg("2"));
    let endpoint = server.endpoint();
    let put = |names: &[&str]| {
        let data: Vec<_> =
            names.iter().map(|name| serde_json::json!({"MetricName": name, "Value": 1})).collect();
        serde_json::json!({"Namespace": "app", "MetricData": data}).to_string().into_bytes()
    };
    assert_eq!(
        raw(&endpoint, request("json", "PutMetricData", put(&["a", "b"]), "us-east-1")).await.status,
        200
    );
    let refused = raw(&endpoint, request("json", "PutMetricData", put(&["a", "c"]), "us-east-1")).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.header("x-amzn-query-error").as_deref(), Some("LimitExceeded;Sender"));
    assert!(refused.json()["message"].as_str().unwrap().contains("--cloudwatch-max-series"));
    assert_eq!(
        raw(&endpoint, request("json", "PutMetricData", put(&["a"]), "us-east-1")).await.status,
        200,
        "existing metrics still take data"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn signatures_are_verified_for_the_monitoring_scope() {
    let dir = tempfile::tempdir().unwrap();
    let credentials = dir.path().join("credentials");
    std::fs::write(&credentials, "AKIDCLOUDWATCH secretsecret 123456789012\n").unwrap();
    let server = TestServer::start_with(
        ServerOptions::default().arg("--credentials").arg(credentials.to_str().unwrap()),
    );
    let endpoint = server.endpoint();
    let good = raw(&endpoint, signed(&endpoint, "monitoring", list_form("app"))).await;
    assert_eq!(good.status, 200, "{}", text(&good));
    let wrong_scope = raw(&endpoint, signed(&endpoint, "kinesis", list_form("app"))).await;
    assert_eq!(wrong_scope.status, 400, "{}", text(&wrong_scope));
    assert!(
        text(&wrong_scope).contains("<Code>SignatureDoesNotMatch</Code><Message>Credential should be scoped to correct service: &apos;monitoring&apos;. </Message>"),
        "{}",
        text(&wrong_scope)
    );
}

/// An awsQuery form signed with aws-sigv4 for `service`.
fn signed(endpoint: &str, service: &str, body: Vec<u8>) -> RawRequest {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    use aws_sigv4::sign::v4;
    let identity =
        aws_sdk_kinesis::config::Credentials::new("AKIDCLOUDWATCH", "secretsecret", None, None, "test")
            .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(std::time::SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let host = endpoint.trim_start_matches("http://");
    let headers = [("content-type", content_type), ("host", host)];
    let signable =
        SignableRequest::new("POST", format!("{endpoint}/"), headers.into_iter(), SignableBody::Bytes(&body))
            .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = RawRequest::op("", content_type, body).unsigned().target(None);
    for (name, value) in instructions.headers() {
        request = request.header(name, value);
    }
    request
}

/// Puts `records` records of 3 bytes with one PutRecords to the one-shard `stream`, then reads
/// them with GetRecords from its start: traffic for the stream's metrics.
async fn put_records_and_read_them(client: &aws_sdk_kinesis::Client, stream: &str, records: usize) {
    use aws_sdk_kinesis::primitives::Blob;
    use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};

    let entry = PutRecordsRequestEntry::builder().partition_key("k").data(Blob::new("abc")).build().unwrap();
    client.put_records().stream_name(stream).set_records(Some(vec![entry; records])).send().await.unwrap();
    let iterator = client
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id("shardId-000000000000")
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap();
    client.get_records().shard_iterator(iterator.shard_iterator().unwrap()).send().await.unwrap();
}

/// kinesin's own AWS/Kinesis metrics (`docs/metrics.md`, "In CloudWatch"): what a stream took in
/// and gave out is queryable through GetMetricStatistics and ListMetrics, under the stream's
/// name, in the stream's account and region.
#[tokio::test(flavor = "multi_thread")]
async fn streams_publish_their_aws_kinesis_metrics() {
    let server = TestServer::start_with(ServerOptions::default().arg("--metrics-publish-seconds").arg("1"));
    let endpoint = server.endpoint();
    let client = server.client();
    client.create_stream().stream_name("watched").shard_count(1).send().await.unwrap();
    put_records_and_read_them(&client, "watched", 3).await;

    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let statistics = |metric: &str, statistic: &str| {
        serde_json::json!({
            "Namespace": "AWS/Kinesis", "MetricName": metric,
            "Dimensions": [{"Name": "StreamName", "Value": "watched"}],
            "StartTime": now - 600, "EndTime": now + 600, "Period": 3600, "Statistics": [statistic]
        })
        .to_string()
        .into_bytes()
    };
    let total = |answer: &serde_json::Value, statistic: &str| -> f64 {
        answer["Datapoints"].as_array().unwrap().iter().map(|p| p[statistic].as_f64().unwrap()).sum()
    };
    // Published every second: wait for the period holding the puts and the read.
    let mut incoming = 0.0;
    for _ in 0..50 {
        let answer = raw(
            &endpoint,
            request("json", "GetMetricStatistics", statistics("IncomingRecords", "Sum"), "us-east-1"),
        )
        .await
        .json();
        incoming = total(&answer, "Sum");
        if incoming == 3.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(incoming, 3.0, "IncomingRecords");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    for (metric, statistic, expected) in [
        ("IncomingBytes", "Sum", 12.0),
        ("PutRecords.Records", "Sum", 3.0),
        ("PutRecords.TotalRecords", "Sum", 3.0),
        ("PutRecords.Success", "Average", 1.0),
        ("PutRecords.Latency", "SampleCount", 1.0),
        ("GetRecords.Records", "Sum", 3.0),
        ("GetRecords.Bytes", "Sum", 12.0),
    ] {
        let answer = raw(
            &endpoint,
            request("json", "GetMetricStatistics", statistics(metric, statistic), "us-east-1"),
        )
        .await
        .json();
        assert_eq!(total(&answer, statistic), expected, "{metric} {statistic}: {answer}");
    }
    let listed = raw(
        &endpoint,
        request("json", "ListMetrics", br#"{"Namespace":"AWS/Kinesis"}"#.to_vec(), "us-east-1"),
    )
    .await
    .json();
    let names: Vec<&str> =
        listed["Metrics"].as_array().unwrap().iter().map(|m| m["MetricName"].as_str().unwrap()).collect();
    assert!(names.contains(&"GetRecords.IteratorAgeMilliseconds"), "{names:?}");
    // Another region sees none of it.
    let elsewhere = raw(
        &endpoint,
        request("json", "ListMetrics", br#"{"Namespace":"AWS/Kinesis"}"#.to_vec(), "eu-west-1"),
    )
    .await
    .json();
    assert_eq!(elsewhere["Metrics"].as_array().map(Vec::len), Some(0), "{elsewhere}");
}

/// The example dashboard for Grafana's CloudWatch data source (docs/grafana/kinesin-cloudwatch.json)
/// cannot rot: each metric it charts is one kinesin publishes under AWS/Kinesis with the
/// StreamName dimension, as ListMetrics (which Grafana's stream variable calls) shows.
#[tokio::test(flavor = "multi_thread")]
async fn the_grafana_cloudwatch_dashboard_charts_metrics_kinesin_publishes() {
    use aws_sdk_kinesis::primitives::Blob;

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/grafana/kinesin-cloudwatch.json");
    let dashboard: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let targets: Vec<&serde_json::Value> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|panel| panel["targets"].as_array().unwrap())
        .collect();
    assert!(targets.len() >= 8);
    for target in &targets {
        assert_eq!(target["namespace"], "AWS/Kinesis", "{target}");
        assert_eq!(target["dimensions"]["StreamName"], "$stream", "{target}");
    }

    let server = TestServer::start_with(ServerOptions::default().arg("--metrics-publish-seconds").arg("1"));
    let endpoint = server.endpoint();
    let client = server.client();
    client.create_stream().stream_name("charted").shard_count(1).send().await.unwrap();
    client.put_record().stream_name("charted").partition_key("k").data(Blob::new("a")).send().await.unwrap();
    put_records_and_read_them(&client, "charted", 2).await;

    let charted: std::collections::BTreeSet<&str> =
        targets.iter().map(|target| target["metricName"].as_str().unwrap()).collect();
    let list = br#"{"Namespace":"AWS/Kinesis","Dimensions":[{"Name":"StreamName","Value":"charted"}]}"#;
    let mut missing = charted.clone();
    // Published every second: wait for the period holding the calls.
    for _ in 0..50 {
        let listed = raw(&endpoint, request("json", "ListMetrics", list.to_vec(), "us-east-1")).await.json();
        for metric in listed["Metrics"].as_array().unwrap() {
            missing.remove(metric["MetricName"].as_str().unwrap());
        }
        if missing.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(missing.is_empty(), "the dashboard charts {missing:?}, which kinesin never published");
}
