//! DynamoDB on the kinesin endpoint, end to end: boto3 drives every operation, expression and
//! error against the real server (`tests/dynamodb_boto3.py`), and acknowledged writes survive
//! `kill -9`.

mod common;

use std::path::Path;

use common::*;

/// Runs one case of the boto3 script against `server`.
fn boto3_case(python: &Path, server: &TestServer, case: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dynamodb_boto3.py");
    let output = std::process::Command::new(python)
        .arg(&script)
        .arg(server.endpoint())
        .arg(case)
        .output()
        .expect("run python");
    assert!(
        output.status.success(),
        "boto3 case {case} failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Each case on a server of its own.
fn run_case(case: &str) {
    let Some(python) = venv_python() else { return };
    let server = TestServer::start();
    boto3_case(&python, &server, case);
}

#[test]
fn boto3_tables() {
    run_case("tables");
}

#[test]
fn boto3_items_and_expressions() {
    run_case("items");
}

#[test]
fn boto3_errors() {
    run_case("errors");
}

#[test]
fn boto3_queries_and_scans() {
    run_case("reads");
}

#[test]
fn boto3_indexes() {
    run_case("indexes");
}

#[test]
fn boto3_legacy_parameters_as_the_kcl_sends_them() {
    run_case("legacy");
}

#[test]
fn boto3_transactions() {
    run_case("transactions");
}

/// Tables, items and an index written and acknowledged, then `kill -9`: all of it is there
/// after the restart.
#[test]
fn acknowledged_writes_survive_kill_9() {
    let Some(python) = venv_python() else { return };
    let mut server = TestServer::start();
    boto3_case(&python, &server, "durable_write");
    server.kill9();
    server.start_again();
    boto3_case(&python, &server, "durable_check");
}
