//! DynamoDB tables on the simulated disk: every acknowledged write survives a power cut (with
//! torn unsynced writes), nothing unacknowledged is half there, and indexes and counts stay in
//! step with the items.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kinesin_dynamodb::{Context, Database, DynamoDbService, Settings};
use kinesin_store_local::{Durability, RedbTableStore, SimFs};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

/// How many random runs; `POWER_LOSS_SEEDS` for a longer soak.
const SEEDS: u64 = 16;

fn open_service(fs: &SimFs) -> DynamoDbService {
    let store = RedbTableStore::open(Arc::new(fs.clone()), Path::new("/data"), Durability::Fsync)
        .expect("open tables");
    let db = Database::open(Arc::new(store), Settings::default(), kinesin_dynamodb::db::system_clock())
        .expect("load tables");
    DynamoDbService::new(Arc::new(db))
}

fn call(service: &DynamoDbService, operation: &str, body: Value) -> (u16, Value) {
    let context = Context { account: "000000000000".into(), region: "us-east-1".into() };
    let answer = service.run(
        &context,
        operation,
        Some("application/x-amz-json-1.0"),
        &serde_json::to_vec(&body).unwrap(),
    );
    (answer.status.as_u16(), serde_json::from_slice(&answer.body).unwrap_or(Value::Null))
}

fn ok(service: &DynamoDbService, operation: &str, body: Value) -> Value {
    let (status, answer) = call(service, operation, body);
    assert_eq!(status, 200, "{operation}: {answer}");
    answer
}

fn run(seed: u64) {
    eprintln!("tables power-loss run, seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let fs = SimFs::new();
    fs.set_sync_delay(Duration::from_micros(rng.gen_range(0..300)));
    let service = Arc::new(open_service(&fs));
    ok(
        &service,
        "CreateTable",
        json!({"TableName": "leases", "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": "leaseKey", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "leaseKey", "AttributeType": "S"}, {"AttributeName": "owner", "AttributeType": "S"}],
        "GlobalSecondaryIndexes": [{"IndexName": "byOwner", "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"}}]}),
    );

    let acked: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for writer in 0..rng.gen_range(1..4) {
        let (service, acked, stop) = (service.clone(), acked.clone(), stop.clone());
        writers.push(std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                let key = format!("w{writer}-{n}");
                let body = json!({"TableName": "leases", "Item": {"leaseKey": {"S": key}, "owner": {"S": format!("w{writer}")},
                    "pad": {"S": "x".repeat(n % 700)}}});
                match call(&service, "PutItem", body) {
                    (200, _) => {
                        acked.lock().unwrap().insert(key);
                    }
                    // The disk is gone: nothing after this can be acknowledged.
                    (500, _) => return,
                    (status, answer) => panic!("PutItem: {status} {answer}"),
                }
                n += 1;
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(rng.gen_range(5..60)));
    let after = fs.power_cut_torn(seed);
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.join().unwrap();
    }

    // The machine after the cut, its store opened again.
    let service = open_service(&after);
    let scanned = ok(&service, "Scan", json!({"TableName": "leases", "ProjectionExpression": "leaseKey"}));
    let present: BTreeSet<String> = scanned["Items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["leaseKey"]["S"].as_str().unwrap().to_owned())
        .collect();
    let acked = acked.lock().unwrap();
    let lost: Vec<&String> = acked.difference(&present).collect();
    assert!(lost.is_empty(), "seed {seed}: acknowledged and lost: {lost:?}");
    eprintln!("seed {seed}: {} acknowledged, {} present", acked.len(), present.len());
    let described = ok(&service, "DescribeTable", json!({"TableName": "leases"}));
    assert_eq!(described["Table"]["ItemCount"], json!(present.len()), "seed {seed}: the count is in step");
    let mut indexed = 0;
    for owner in ["w0", "w1", "w2"] {
        let owned = ok(
            &service,
            "Query",
            json!({"TableName": "leases", "IndexName": "byOwner",
            "KeyConditionExpression": "#o = :o", "ExpressionAttributeNames": {"#o": "owner"},
            "ExpressionAttributeValues": {":o": {"S": owner}}}),
        );
        indexed += owned["Count"].as_u64().unwrap();
    }
    assert_eq!(indexed as usize, present.len(), "seed {seed}: the index is in step");
    // The store goes on after the cut.
    ok(&service, "PutItem", json!({"TableName": "leases", "Item": {"leaseKey": {"S": "after"}}}));
}

#[test]
fn acknowledged_writes_survive_power_cuts() {
    let seeds = std::env::var("POWER_LOSS_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(SEEDS);
    for seed in 0..seeds {
        run(seed);
    }
}

#[test]
fn tables_survive_a_clean_reopen_and_a_killed_process() {
    let fs = SimFs::new();
    let first = open_service(&fs);
    ok(
        &first,
        "CreateTable",
        json!({"TableName": "leases", "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": "leaseKey", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "leaseKey", "AttributeType": "S"}]}),
    );
    ok(&first, "PutItem", json!({"TableName": "leases", "Item": {"leaseKey": {"S": "a"}, "n": {"N": "1"}}}));
    drop(first);
    let second = open_service(&fs.kill_process());
    assert_eq!(
        ok(&second, "GetItem", json!({"TableName": "leases", "Key": {"leaseKey": {"S": "a"}}}))["Item"]["n"],
        json!({"N": "1"})
    );
    ok(&second, "DeleteTable", json!({"TableName": "leases"}));
    let third = open_service(&fs.power_cut());
    assert_eq!(ok(&third, "ListTables", json!({}))["TableNames"], json!([]));
}
