//! Any bytes as the body of any DynamoDB operation, against a service holding a table with an
//! index and items: nothing may panic, and every answer is a status and a JSON body
//! (`docs/dynamodb.md`, "Tests").
//!
//! Run with `cargo +nightly fuzz run requests` from `crates/dynamodb`.

#![no_main]

use std::sync::{Arc, OnceLock};

use kinesin_dynamodb::{db::system_clock, Context, Database, DynamoDbService, MemoryStorage, Settings};
use libfuzzer_sys::fuzz_target;

const OPERATIONS: [&str; 21] = [
    "CreateTable", "DescribeTable", "DeleteTable", "ListTables", "UpdateTable", "UpdateTimeToLive",
    "DescribeTimeToLive", "UpdateContinuousBackups", "DescribeContinuousBackups", "TagResource",
    "UntagResource", "ListTagsOfResource", "GetItem", "PutItem", "DeleteItem", "UpdateItem",
    "BatchGetItem", "BatchWriteItem", "TransactWriteItems", "Scan", "Query",
];

fn context() -> Context {
    Context { account: "000000000000".into(), region: "us-east-1".into() }
}

/// One service for the whole run, so that inputs build on each other's tables and items.
fn service() -> &'static DynamoDbService {
    static SERVICE: OnceLock<DynamoDbService> = OnceLock::new();
    SERVICE.get_or_init(|| {
        let db = Database::open(Arc::new(MemoryStorage::default()), Settings::default(), system_clock()).unwrap();
        let service = DynamoDbService::new(Arc::new(db));
        let table = br#"{"TableName": "leases", "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}, {"AttributeName": "r", "KeyType": "RANGE"}],
            "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}, {"AttributeName": "r", "AttributeType": "N"},
                {"AttributeName": "o", "AttributeType": "S"}],
            "GlobalSecondaryIndexes": [{"IndexName": "byOwner", "KeySchema": [{"AttributeName": "o", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"}}]}"#;
        service.run(&context(), "CreateTable", Some("application/x-amz-json-1.0"), table);
        service
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else { return };
    let operation = OPERATIONS[usize::from(which) % OPERATIONS.len()];
    let answer = service().run(&context(), operation, Some("application/x-amz-json-1.0"), body);
    assert!(serde_json::from_slice::<serde_json::Value>(&answer.body).is_ok(), "{operation}: {:?}", answer.body);
});
