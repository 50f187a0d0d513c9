//! The compose example (docs/compose/, docs/docker.md) cannot rot: its files hang together, the
//! streams it asks for at start-up are the ones its KCL application reads, and its producer's
//! command puts records into a real kinesin. (No Docker engine runs the whole of it here.)

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use aws_sdk_kinesis::types::StreamStatus;
use common::*;
use serde_json::Value;

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/compose")
}

/// docker-compose.yml as JSON, read by PyYAML (which the AWS CLI in .venv-tests brings).
fn compose_file(python: &Path) -> Value {
    let output = Command::new(python)
        .args(["-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))"])
        .arg(example_dir().join("docker-compose.yml"))
        .output()
        .expect("run python");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// `key = value` lines, as the MultiLangDaemon reads its properties.
fn properties(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
        .collect()
}

#[tokio::test]
async fn the_compose_example_hangs_together_and_its_producer_feeds_the_kcl_applications_stream() {
    let Some(python) = venv_python() else { return };
    let compose = compose_file(&python);
    let services = &compose["services"];
    let dir = example_dir();

    // kinesin from the repository's Dockerfile, whose health check gates the others.
    let kinesin = &services["kinesin"];
    let root = dir.join(kinesin["build"].as_str().unwrap());
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    assert!(dockerfile.contains("HEALTHCHECK"));
    for dependent in ["producer", "kcl-app"] {
        assert_eq!(
            services[dependent]["depends_on"]["kinesin"]["condition"], "service_healthy",
            "{dependent}"
        );
    }
    assert_eq!(services["producer"]["image"], kinesin["image"], "the producer runs the kinesin image");
    assert!(kinesin["ports"].as_array().unwrap().iter().any(|p| p == "4567:4567"));

    // The KCL application: what its Dockerfile copies exists, and its properties point at the
    // kinesin service for both Kinesis and DynamoDB.
    let app_dir = dir.join(services["kcl-app"]["build"].as_str().unwrap());
    let app_dockerfile = std::fs::read_to_string(app_dir.join("Dockerfile")).unwrap();
    let copied: Vec<&str> = app_dockerfile
        .lines()
        .filter_map(|line| line.strip_prefix("COPY "))
        .flat_map(|line| line.split_whitespace().rev().skip(1))
        .collect();
    assert!(!copied.is_empty());
    for file in copied {
        assert!(app_dir.join(file).is_file(), "the KCL application's Dockerfile copies a missing {file}");
    }
    let settings = properties(&app_dir.join("app.properties"));
    assert_eq!(settings["kinesisEndpoint"], "http://kinesin:4567");
    assert_eq!(settings["dynamoDBEndpoint"], "http://kinesin:4567");
    let processor = settings["executableName"].split_whitespace().last().unwrap();
    assert_eq!(processor, "/app/record_processor.py", "where the Dockerfile copies it");
    let stream = settings["streamName"].clone();

    // A kinesin started as the example starts it has the application's stream...
    let created = kinesin["environment"]["KINESIN_CREATE_STREAMS"].as_str().unwrap();
    let server = TestServer::start_with(ServerOptions::default().env("KINESIN_CREATE_STREAMS", created));
    let client = server.client();
    let summary = client.describe_stream_summary().stream_name(&stream).send().await.unwrap();
    let summary = summary.stream_description_summary().unwrap();
    assert_eq!(summary.stream_status(), &StreamStatus::Active);
    assert_eq!(summary.open_shard_count(), 2);

    // ...and the producer's own command, run for a few seconds against it, puts records there.
    let producer = &services["producer"];
    let entrypoint: Vec<&str> =
        producer["entrypoint"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    let binary_dir = binary().parent().unwrap().to_owned();
    let path = format!("{}:{}", binary_dir.display(), std::env::var("PATH").unwrap_or_default());
    let mut command = Command::new(entrypoint[0]);
    command.args(&entrypoint[1..]).env("PATH", path);
    for (name, value) in producer["environment"].as_object().unwrap() {
        command.env(name, value.as_str().unwrap());
    }
    command.env("AWS_ENDPOINT_URL", server.endpoint());
    let mut running = command.spawn().unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    running.kill().unwrap();
    running.wait().unwrap();
    let mut records = 0;
    for shard in ["shardId-000000000000", "shardId-000000000001"] {
        records += read_shard(&client, &stream, shard).await.len();
    }
    assert!(records >= 2, "the producer put {records} records in 4 seconds");
}
