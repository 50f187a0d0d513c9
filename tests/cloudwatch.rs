//! CloudWatch on the kinesin endpoint, end to end (`docs/cloudwatch.md`): boto3 in each of the
//! three protocols, the AWS CLI, raw signed requests, accounts and regions, and the retention
//! and series bounds.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{unique_name, ServerOptions, TestServer};

/// The test virtualenv's Python, or `None` (off CI) to skip.
fn python() -> Option<PathBuf> {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-tests/bin/python");
    if python.exists() {
        return Some(python);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} is missing: .ci/run creates it (python3 -m venv .venv-tests && .venv-tests/bin/pip install boto3)",
        python.display()
    );
    eprintln!("skipping: no {} (create it as .ci/run does)", python.display());
    None
}

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
