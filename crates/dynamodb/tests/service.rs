//! The DynamoDB service through `DynamoDbService::run` on in-memory storage: every operation,
//! statuses, indexes kept in step, pagination and parallel scans, transactions, and DynamoDB's
//! errors.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use kinesin_dynamodb::{Context, Database, DynamoDbService, MemoryStorage, Settings};
use serde_json::{json, Value};

struct Harness {
    service: DynamoDbService,
    clock: Arc<AtomicI64>,
    context: Context,
}

fn harness_with(settings: Settings) -> Harness {
    let clock = Arc::new(AtomicI64::new(1_700_000_000_000));
    let now = clock.clone();
    let db = Database::open(
        Arc::new(MemoryStorage::default()),
        settings,
        Arc::new(move || now.load(Ordering::SeqCst)),
    )
    .unwrap();
    Harness {
        service: DynamoDbService::new(Arc::new(db)),
        clock,
        context: Context { account: "000000000000".into(), region: "us-east-1".into() },
    }
}

fn harness() -> Harness {
    harness_with(Settings::default())
}

impl Harness {
    /// The status and body of one call.
    fn raw(&self, operation: &str, body: &Value) -> (u16, Value) {
        let body = serde_json::to_vec(body).unwrap();
        let answer = self.service.run(&self.context, operation, Some("application/x-amz-json-1.0"), &body);
        (answer.status.as_u16(), serde_json::from_slice(&answer.body).unwrap_or(Value::Null))
    }

    fn ok(&self, operation: &str, body: Value) -> Value {
        let (status, answer) = self.raw(operation, &body);
        assert_eq!(status, 200, "{operation} {body}: {answer}");
        answer
    }

    /// The error's code and message.
    fn err(&self, operation: &str, body: Value) -> (String, String) {
        let (status, answer) = self.raw(operation, &body);
        assert_eq!(status, 400, "{operation} {body}: {answer}");
        let code = answer["__type"].as_str().unwrap().rsplit('#').next().unwrap().to_owned();
        let message =
            answer["message"].as_str().or(answer["Message"].as_str()).unwrap_or_default().to_owned();
        (code, message)
    }

    fn validation(&self, operation: &str, body: Value) -> String {
        let (code, message) = self.err(operation, body);
        assert_eq!(code, "ValidationException", "{message}");
        message
    }

    fn lease_table(&self, name: &str) {
        self.ok(
            "CreateTable",
            json!({"TableName": name, "KeySchema": [{"AttributeName": "leaseKey", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "leaseKey", "AttributeType": "S"}],
                "BillingMode": "PAY_PER_REQUEST"}),
        );
    }

    /// A table keyed `p` (S) and `r` (N).
    fn ranged_table(&self, name: &str) {
        self.ok(
            "CreateTable",
            json!({"TableName": name,
                "KeySchema": [{"AttributeName": "p", "KeyType": "HASH"}, {"AttributeName": "r", "KeyType": "RANGE"}],
                "AttributeDefinitions": [{"AttributeName": "p", "AttributeType": "S"}, {"AttributeName": "r", "AttributeType": "N"}],
                "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}}),
        );
    }

    fn put(&self, table: &str, item: Value) {
        self.ok("PutItem", json!({"TableName": table, "Item": item}));
    }
}

#[test]
fn tables_are_created_described_listed_and_deleted() {
    let h = harness();
    let created = h.ok(
        "CreateTable",
        json!({"TableName": "leases", "KeySchema": [{"AttributeName": "leaseKey", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "leaseKey", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST", "DeletionProtectionEnabled": false, "Tags": [{"Key": "a", "Value": "b"}]}),
    );
    assert_eq!(created["TableDescription"]["TableStatus"], "CREATING");
    let table = &h.ok("DescribeTable", json!({"TableName": "leases"}))["Table"];
    assert_eq!(table["TableStatus"], "ACTIVE", "--create-table-ms 0: ACTIVE at once");
    assert_eq!(table["TableArn"], "arn:aws:dynamodb:us-east-1:000000000000:table/leases");
    assert_eq!(table["BillingModeSummary"]["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        table["ProvisionedThroughput"],
        json!({"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0, "WriteCapacityUnits": 0})
    );
    assert_eq!((table["ItemCount"].clone(), table["TableSizeBytes"].clone()), (json!(0), json!(0)));
    assert_eq!(table["DeletionProtectionEnabled"], false);
    assert_eq!(table["TableId"].as_str().unwrap().len(), 36);

    assert_eq!(h.err("CreateTable", json!({"TableName": "leases", "KeySchema": [{"AttributeName": "leaseKey", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "leaseKey", "AttributeType": "S"}], "BillingMode": "PAY_PER_REQUEST"})),
        ("ResourceInUseException".into(), "Table already exists: leases".into()));
    h.lease_table("other");
    assert_eq!(h.ok("ListTables", json!({}))["TableNames"], json!(["leases", "other"]));
    assert_eq!(
        h.ok("ListTables", json!({"Limit": 1})),
        json!({"TableNames": ["leases"], "LastEvaluatedTableName": "leases"})
    );
    assert_eq!(
        h.ok("ListTables", json!({"ExclusiveStartTableName": "leases"}))["TableNames"],
        json!(["other"])
    );

    assert_eq!(
        h.ok("DeleteTable", json!({"TableName": "leases"}))["TableDescription"]["TableStatus"],
        "DELETING"
    );
    assert_eq!(
        h.err("DescribeTable", json!({"TableName": "leases"})),
        ("ResourceNotFoundException".into(), "Requested resource not found: Table: leases not found".into())
    );
    assert_eq!(
        h.err("DeleteTable", json!({"TableName": "leases"})),
        ("ResourceNotFoundException".into(), "Requested resource not found".into())
    );
}

#[test]
fn statuses_last_as_long_as_configured() {
    let h = harness_with(Settings { create_table_ms: 1000, update_table_ms: 500 });
    h.lease_table("tbl");
    assert_eq!(h.ok("DescribeTable", json!({"TableName": "tbl"}))["Table"]["TableStatus"], "CREATING");
    assert_eq!(
        h.err("GetItem", json!({"TableName": "tbl", "Key": {"leaseKey": {"S": "a"}}})).0,
        "ResourceNotFoundException"
    );
    assert_eq!(
        h.err("DeleteTable", json!({"TableName": "tbl"})).1,
        "Attempt to change a resource which is still in use: Table is being created: tbl"
    );
    h.clock.fetch_add(1000, Ordering::SeqCst);
    assert_eq!(h.ok("DescribeTable", json!({"TableName": "tbl"}))["Table"]["TableStatus"], "ACTIVE");
    let updated = h.ok("UpdateTable", json!({"TableName": "tbl",
        "AttributeDefinitions": [{"AttributeName": "owner", "AttributeType": "S"}],
        "GlobalSecondaryIndexUpdates": [{"Create": {"IndexName": "byOwner",
            "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"}], "Projection": {"ProjectionType": "KEYS_ONLY"}}}]}));
    assert_eq!(updated["TableDescription"]["TableStatus"], "UPDATING");
    assert_eq!(updated["TableDescription"]["GlobalSecondaryIndexes"][0]["IndexStatus"], "CREATING");
    let table = h.ok("DescribeTable", json!({"TableName": "tbl"}))["Table"].clone();
    assert_eq!(
        (table["TableStatus"].clone(), table["GlobalSecondaryIndexes"][0]["IndexStatus"].clone()),
        (json!("UPDATING"), json!("CREATING"))
    );
    h.clock.fetch_add(500, Ordering::SeqCst);
    let table = h.ok("DescribeTable", json!({"TableName": "tbl"}))["Table"].clone();
    assert_eq!(
        (table["TableStatus"].clone(), table["GlobalSecondaryIndexes"][0]["IndexStatus"].clone()),
        (json!("ACTIVE"), json!("ACTIVE"))
    );
}

#[test]
fn create_table_refuses_bad_schemas_with_dynamodbs_messages() {
    let h = harness();
    assert_eq!(h.validation("CreateTable", json!({})),
        "3 validation errors detected: Value null at 'attributeDefinitions' failed to satisfy constraint: Member must not be null; Value null at 'tableName' failed to satisfy constraint: Member must not be null; Value null at 'keySchema' failed to satisfy constraint: Member must not be null");
    let base = |extra: Value| {
        let mut body = json!({"TableName": "abc", "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "a", "AttributeType": "S"}]});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    assert_eq!(h.validation("CreateTable", base(json!({}))),
        "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED");
    assert_eq!(h.validation("CreateTable", base(json!({"BillingMode": "PAY_PER_REQUEST", "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}}))),
        "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST");
    assert_eq!(h.validation("CreateTable", base(json!({"BillingMode": "PAY_PER_REQUEST", "KeySchema": [{"AttributeName": "b", "KeyType": "HASH"}]}))),
        "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [b], AttributeDefinitions: [a]");
    assert_eq!(h.validation("CreateTable", base(json!({"BillingMode": "PAY_PER_REQUEST", "KeySchema": [{"AttributeName": "a", "KeyType": "RANGE"}]}))),
        "Invalid KeySchema: The first KeySchemaElement is not a HASH key type");
    assert_eq!(h.validation("CreateTable", base(json!({"BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "a", "AttributeType": "S"}, {"AttributeName": "b", "AttributeType": "S"}]}))),
        "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions");
    assert_eq!(h.validation("CreateTable", base(json!({"TableName": "a!", "BillingMode": "PAY_PER_REQUEST"}))),
        "2 validation errors detected: Value 'a!' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; Value 'a!' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 3");
    assert_eq!(h.validation("CreateTable", base(json!({"BillingMode": "FREE"}))),
        "1 validation error detected: Value 'FREE' at 'billingMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]");
    assert_eq!(
        h.err("CreateTable", base(json!({"BillingMode": true}))),
        ("SerializationException".into(), "class java.lang.Boolean can not be converted to an String".into())
    );
    assert!(
        h.ok("ListTables", json!({}))["TableNames"].as_array().unwrap().is_empty(),
        "bad input changes nothing"
    );
}

#[test]
fn the_protocol_is_dynamodbs() {
    let h = harness();
    let run = |content_type: Option<&str>, body: &[u8], operation: &str| {
        h.service.run(&h.context, operation, content_type, body)
    };
    let answer = run(Some("application/json"), b"{}", "ListTables");
    assert_eq!((answer.status.as_u16(), answer.content_type), (200, Some("application/json")));
    let answer = run(Some("text/plain"), b"{}", "ListTables");
    assert_eq!((answer.status.as_u16(), &answer.body[..]), (404, &b"<UnknownOperationException/>\n"[..]));
    let answer = run(Some("application/x-amz-json-1.0"), b"{", "ListTables");
    assert_eq!(
        serde_json::from_slice::<Value>(&answer.body).unwrap(),
        json!({"__type": "com.amazon.coral.service#SerializationException"})
    );
    let answer = run(Some("application/x-amz-json-1.0"), b"{}", "ListStreams");
    assert_eq!(
        serde_json::from_slice::<Value>(&answer.body).unwrap(),
        json!({"__type": "com.amazon.coral.service#UnknownOperationException"})
    );
    let (_, body) = h.raw("DescribeTable", &json!({"TableName": "nope"}));
    assert_eq!(body["__type"], "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException");
    let (_, body) = h.raw("DescribeTable", &json!({}));
    assert_eq!(body["__type"], "com.amazon.coral.validate#ValidationException");
}

#[test]
fn items_are_written_read_and_deleted_with_conditions() {
    let h = harness();
    h.lease_table("leases");
    let key = json!({"leaseKey": {"S": "shard-0"}});
    h.ok(
        "PutItem",
        json!({"TableName": "leases", "Item": {"leaseKey": {"S": "shard-0"}, "leaseCounter": {"N": "1.0"}},
        "ConditionExpression": "attribute_not_exists(leaseKey)"}),
    );
    assert_eq!(
        h.ok("GetItem", json!({"TableName": "leases", "Key": key}))["Item"]["leaseCounter"],
        json!({"N": "1"})
    );
    let (code, message) = h.err("PutItem", json!({"TableName": "leases", "Item": {"leaseKey": {"S": "shard-0"}},
        "ConditionExpression": "attribute_not_exists(leaseKey)", "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}));
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("ConditionalCheckFailedException", "The conditional request failed")
    );
    let (_, body) = h.raw("PutItem", &json!({"TableName": "leases", "Item": {"leaseKey": {"S": "shard-0"}},
        "ConditionExpression": "attribute_not_exists(leaseKey)", "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}));
    assert_eq!(body["Item"], json!({"leaseKey": {"S": "shard-0"}, "leaseCounter": {"N": "1"}}));

    let old = h.ok("PutItem", json!({"TableName": "leases", "Item": {"leaseKey": {"S": "shard-0"}, "x": {"SS": ["a"]}}, "ReturnValues": "ALL_OLD"}));
    assert_eq!(old["Attributes"]["leaseCounter"], json!({"N": "1"}));
    assert_eq!(
        h.validation("PutItem", json!({"TableName": "leases", "Item": key, "ReturnValues": "ALL_NEW"})),
        "ReturnValues can only be ALL_OLD or NONE"
    );
    assert_eq!(
        h.err(
            "DeleteItem",
            json!({"TableName": "leases", "Key": key, "ConditionExpression": "attribute_not_exists (x)"})
        )
        .0,
        "ConditionalCheckFailedException"
    );
    let deleted = h.ok("DeleteItem", json!({"TableName": "leases", "Key": key, "ReturnValues": "ALL_OLD",
        "ConditionExpression": "#k = :k AND attribute_exists (x)", "ExpressionAttributeNames": {"#k": "leaseKey"},
        "ExpressionAttributeValues": {":k": {"S": "shard-0"}}}));
    assert_eq!(deleted["Attributes"]["x"], json!({"SS": ["a"]}));
    assert_eq!(h.ok("GetItem", json!({"TableName": "leases", "Key": key})), json!({}));
}

#[test]
fn updates_upsert_and_return_what_was_asked() {
    let h = harness();
    h.lease_table("leases");
    let key = json!({"leaseKey": {"S": "k"}});
    let new = h.ok("UpdateItem", json!({"TableName": "leases", "Key": key, "UpdateExpression": "SET leaseOwner = :o ADD leaseCounter :one",
        "ExpressionAttributeValues": {":o": {"S": "w1"}, ":one": {"N": "1"}}, "ReturnValues": "ALL_NEW"}));
    assert_eq!(
        new["Attributes"],
        json!({"leaseKey": {"S": "k"}, "leaseOwner": {"S": "w1"}, "leaseCounter": {"N": "1"}})
    );
    let updated = h.ok("UpdateItem", json!({"TableName": "leases", "Key": key, "UpdateExpression": "SET leaseCounter = leaseCounter + :one REMOVE leaseOwner",
        "ConditionExpression": "leaseCounter = :one", "ExpressionAttributeValues": {":one": {"N": "1"}}, "ReturnValues": "UPDATED_OLD"}));
    assert_eq!(updated["Attributes"], json!({"leaseOwner": {"S": "w1"}, "leaseCounter": {"N": "1"}}));
    let none = h.ok(
        "UpdateItem",
        json!({"TableName": "leases", "Key": key, "UpdateExpression": "SET a = :v",
        "ExpressionAttributeValues": {":v": {"BOOL": true}}}),
    );
    assert_eq!(none, json!({}));
    assert_eq!(h.validation("UpdateItem", json!({"TableName": "leases", "Key": key, "UpdateExpression": "SET leaseKey = :v",
        "ExpressionAttributeValues": {":v": {"S": "x"}}})),
        "One or more parameter values were invalid: Cannot update attribute leaseKey. This attribute is part of the key");
    assert_eq!(
        h.validation(
            "UpdateItem",
            json!({"TableName": "leases", "Key": key, "UpdateExpression": "SET a = :v",
        "ExpressionAttributeValues": {":v": {"S": "x"}, ":unused": {"S": "y"}}})
        ),
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:unused}"
    );
    assert_eq!(h.validation("UpdateItem", json!({"TableName": "leases", "Key": key, "ExpressionAttributeValues": {":v": {"S": "x"}}})),
        "ExpressionAttributeValues can only be specified when using expressions: UpdateExpression and ConditionExpression are null");
    let item =
        h.ok("GetItem", json!({"TableName": "leases", "Key": key, "ConsistentRead": true}))["Item"].clone();
    assert_eq!(item, json!({"leaseKey": {"S": "k"}, "leaseCounter": {"N": "2"}, "a": {"BOOL": true}}));
}

#[test]
fn keys_and_values_are_checked() {
    let h = harness();
    h.ranged_table("tbl");
    assert_eq!(
        h.validation("PutItem", json!({"TableName": "tbl", "Item": {"p": {"S": "a"}}})),
        "One or more parameter values were invalid: Missing the key r in the item"
    );
    assert_eq!(
        h.validation("PutItem", json!({"TableName": "tbl", "Item": {"p": {"S": "a"}, "r": {"S": "1"}}})),
        "One or more parameter values were invalid: Type mismatch for key r expected: N actual: S"
    );
    assert_eq!(h.validation("PutItem", json!({"TableName": "tbl", "Item": {"p": {"S": ""}, "r": {"N": "1"}}})),
        "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: p");
    assert_eq!(
        h.validation("GetItem", json!({"TableName": "tbl", "Key": {"p": {"S": "a"}}})),
        "The provided key element does not match the schema"
    );
    assert_eq!(
        h.validation(
            "PutItem",
            json!({"TableName": "tbl", "Item": {"p": {"S": "a"}, "r": {"N": "1"}, "s": {"SS": []}}})
        ),
        "One or more parameter values were invalid: An AttributeValue may not contain an empty set."
    );
    assert_eq!(
        h.validation("PutItem", json!({"TableName": "tbl", "Item": {"p": {"S": "a"}, "r": {"N": "1e126"}}})),
        "Number overflow. Attempting to store a number with magnitude larger than supported range"
    );
    let big = "x".repeat(400 * 1024);
    assert_eq!(
        h.validation(
            "PutItem",
            json!({"TableName": "tbl", "Item": {"p": {"S": "a"}, "r": {"N": "1"}, "big": {"S": big}}})
        ),
        "Item size has exceeded the maximum allowed size"
    );
    assert_eq!(h.validation("PutItem", json!({"TableName": "tbl", "Item": {"p": {"S": "a"}, "r": {"N": "1"}},
        "Expected": {"p": {"Exists": false}}, "ConditionExpression": "attribute_not_exists(p)"})),
        "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {Expected} Expression parameters: {ConditionExpression}");
    assert_eq!(
        h.err("PutItem", json!({"TableName": "missing", "Item": {"p": {"S": "a"}}})),
        ("ResourceNotFoundException".into(), "Requested resource not found".into())
    );
    assert_eq!(h.ok("Scan", json!({"TableName": "tbl"}))["Count"], 0, "bad input changes nothing");
}

#[test]
fn queries_walk_the_range_key_in_dynamodbs_order() {
    let h = harness();
    h.ranged_table("tbl");
    for r in ["10", "-2.5", "3", "0", "1e2", "-100", "2.75"] {
        h.put("tbl", json!({"p": {"S": "a"}, "r": {"N": r}}));
    }
    h.put("tbl", json!({"p": {"S": "b"}, "r": {"N": "1"}}));
    let ranges = |answer: &Value| -> Vec<String> {
        answer["Items"].as_array().unwrap().iter().map(|i| i["r"]["N"].as_str().unwrap().to_owned()).collect()
    };
    let all = h.ok("Query", json!({"TableName": "tbl", "KeyConditionExpression": "p = :p", "ExpressionAttributeValues": {":p": {"S": "a"}}}));
    assert_eq!(ranges(&all), ["-100", "-2.5", "0", "2.75", "3", "10", "100"]);
    let back = h.ok("Query", json!({"TableName": "tbl", "KeyConditionExpression": "p = :p AND r BETWEEN :lo AND :hi",
        "ExpressionAttributeValues": {":p": {"S": "a"}, ":lo": {"N": "0"}, ":hi": {"N": "10"}}, "ScanIndexForward": false}));
    assert_eq!(ranges(&back), ["10", "3", "2.75", "0"]);
    let mut start = None;
    let mut pages = Vec::new();
    loop {
        let mut body = json!({"TableName": "tbl", "KeyConditionExpression": "p = :p AND r > :z",
            "ExpressionAttributeValues": {":p": {"S": "a"}, ":z": {"N": "-3"}}, "Limit": 2});
        if let Some(start) = start.take() {
            body["ExclusiveStartKey"] = start;
        }
        let page = h.ok("Query", body);
        pages.push(ranges(&page));
        match page.get("LastEvaluatedKey") {
            Some(last) => start = Some(last.clone()),
            None => break,
        }
    }
    assert_eq!(pages.concat(), ["-2.5", "0", "2.75", "3", "10", "100"]);
    let count = h.ok(
        "Query",
        json!({"TableName": "tbl", "KeyConditionExpression": "p = :p", "Select": "COUNT",
        "FilterExpression": "attribute_exists(x)", "ExpressionAttributeValues": {":p": {"S": "a"}}}),
    );
    assert_eq!(count, json!({"Count": 0, "ScannedCount": 7}));
    assert_eq!(
        h.validation(
            "Query",
            json!({"TableName": "tbl", "KeyConditionExpression": "p = :p", "FilterExpression": "r < :z",
        "ExpressionAttributeValues": {":p": {"S": "a"}, ":z": {"N": "0"}}})
        ),
        "Filter Expression can only contain non-primary key attributes: Primary key attribute: r"
    );
    let legacy = h.ok(
        "Query",
        json!({"TableName": "tbl", "Select": "COUNT", "KeyConditions": {
        "p": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "a"}]},
        "r": {"ComparisonOperator": "LT", "AttributeValueList": [{"N": "0"}]}}}),
    );
    assert_eq!(legacy, json!({"Count": 2, "ScannedCount": 2}));
    assert_eq!(
        h.validation(
            "Query",
            json!({"TableName": "tbl", "IndexName": "nope", "KeyConditionExpression": "p = :p",
        "ExpressionAttributeValues": {":p": {"S": "a"}}})
        ),
        "The table does not have the specified index: nope"
    );
    assert_eq!(h.validation("Query", json!({"TableName": "tbl", "KeyConditionExpression": "p = :p", "Select": "SPECIFIC_ATTRIBUTES",
        "ExpressionAttributeValues": {":p": {"S": "a"}}})),
        "1 validation error detected: Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES");
}

#[test]
fn scans_page_and_split_into_disjoint_complete_segments() {
    let h = harness();
    h.lease_table("tbl");
    let padding = "p".repeat(100 * 1024);
    for i in 0..40 {
        h.put("tbl", json!({"leaseKey": {"S": format!("shard-{i:03}")}, "pad": {"S": padding}}));
    }
    // 1 MB pages: about ten items of 100 KB each.
    let mut seen = Vec::new();
    let mut start = None;
    let mut pages = 0;
    loop {
        let mut body = json!({"TableName": "tbl", "ProjectionExpression": "leaseKey"});
        if let Some(start) = start.take() {
            body["ExclusiveStartKey"] = start;
        }
        let page = h.ok("Scan", body);
        pages += 1;
        assert!(page["Count"].as_u64().unwrap() <= 11, "{}", page["Count"]);
        seen.extend(
            page["Items"].as_array().unwrap().iter().map(|i| i["leaseKey"]["S"].as_str().unwrap().to_owned()),
        );
        match page.get("LastEvaluatedKey") {
            Some(last) => start = Some(last.clone()),
            None => break,
        }
    }
    assert!(pages >= 4, "{pages} pages");
    let mut expected: Vec<String> = (0..40).map(|i| format!("shard-{i:03}")).collect();
    assert_eq!(seen, expected, "every item once, in key order");

    let mut segments: Vec<String> = Vec::new();
    for segment in 0..7 {
        let mut start = None;
        loop {
            let mut body = json!({"TableName": "tbl", "Segment": segment, "TotalSegments": 7, "Limit": 3, "AttributesToGet": ["leaseKey"]});
            if let Some(start) = start.take() {
                body["ExclusiveStartKey"] = start;
            }
            let page = h.ok("Scan", body);
            segments.extend(
                page["Items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["leaseKey"]["S"].as_str().unwrap().to_owned()),
            );
            match page.get("LastEvaluatedKey") {
                Some(last) => start = Some(last.clone()),
                None => break,
            }
        }
    }
    segments.sort();
    expected.sort();
    assert_eq!(segments, expected, "segments are disjoint and complete");
    assert_eq!(h.validation("Scan", json!({"TableName": "tbl", "Segment": 1, "TotalSegments": 1})),
        "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: 1 is not less than TotalSegments: 1");
    assert_eq!(h.validation("Scan", json!({"TableName": "tbl", "TotalSegments": 2})),
        "The Segment parameter is required but was not present in the request when parameter TotalSegments is present");
    let one = h.ok("Scan", json!({"TableName": "tbl", "Limit": 1, "Select": "COUNT"}));
    assert_eq!(
        (one["Count"].clone(), one["ScannedCount"].clone(), one.get("Items")),
        (json!(1), json!(1), None)
    );
    assert_eq!(one["LastEvaluatedKey"], json!({"leaseKey": {"S": "shard-000"}}));
}

#[test]
fn indexes_are_sparse_and_kept_in_step_with_every_write() {
    let h = harness();
    h.lease_table("leases");
    h.put(
        "leases",
        json!({"leaseKey": {"S": "a"}, "leaseOwner": {"S": "w1"}, "checkpoint": {"S": "TRIM_HORIZON"}}),
    );
    h.put("leases", json!({"leaseKey": {"S": "b"}}));
    h.ok("UpdateTable", json!({"TableName": "leases",
        "AttributeDefinitions": [{"AttributeName": "leaseOwner", "AttributeType": "S"}, {"AttributeName": "leaseKey", "AttributeType": "S"}],
        "GlobalSecondaryIndexUpdates": [{"Create": {"IndexName": "LeaseOwnerToLeaseKeyIndex",
            "KeySchema": [{"AttributeName": "leaseOwner", "KeyType": "HASH"}, {"AttributeName": "leaseKey", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"}}}]}));
    let owned = |owner: &str| -> Vec<Value> {
        h.ok(
            "Query",
            json!({"TableName": "leases", "IndexName": "LeaseOwnerToLeaseKeyIndex",
            "KeyConditionExpression": "leaseOwner = :o", "ExpressionAttributeValues": {":o": {"S": owner}}}),
        )["Items"]
            .as_array()
            .unwrap()
            .clone()
    };
    assert_eq!(
        owned("w1"),
        vec![json!({"leaseKey": {"S": "a"}, "leaseOwner": {"S": "w1"}})],
        "backfilled, KEYS_ONLY"
    );
    h.ok("UpdateItem", json!({"TableName": "leases", "Key": {"leaseKey": {"S": "b"}}, "UpdateExpression": "SET leaseOwner = :o",
        "ExpressionAttributeValues": {":o": {"S": "w1"}}}));
    h.ok("UpdateItem", json!({"TableName": "leases", "Key": {"leaseKey": {"S": "a"}}, "UpdateExpression": "SET leaseOwner = :o",
        "ExpressionAttributeValues": {":o": {"S": "w2"}}}));
    assert_eq!(owned("w1").len(), 1);
    assert_eq!(owned("w2").len(), 1);
    h.ok("UpdateItem", json!({"TableName": "leases", "Key": {"leaseKey": {"S": "a"}}, "UpdateExpression": "REMOVE leaseOwner"}));
    assert!(owned("w2").is_empty(), "an item without the index key leaves the index");
    h.ok("DeleteItem", json!({"TableName": "leases", "Key": {"leaseKey": {"S": "b"}}}));
    assert!(owned("w1").is_empty());
    assert_eq!(h.validation("PutItem", json!({"TableName": "leases", "Item": {"leaseKey": {"S": "c"}, "leaseOwner": {"N": "1"}}})),
        "One or more parameter values were invalid: Type mismatch for Index Key leaseOwner Expected: S Actual: N IndexName: LeaseOwnerToLeaseKeyIndex");
    let scanned = h.ok("Scan", json!({"TableName": "leases", "IndexName": "LeaseOwnerToLeaseKeyIndex"}));
    assert_eq!(scanned["Count"], 0);
    let deleted = h.ok("UpdateTable", json!({"TableName": "leases", "GlobalSecondaryIndexUpdates": [{"Delete": {"IndexName": "LeaseOwnerToLeaseKeyIndex"}}]}));
    assert_eq!(deleted["TableDescription"]["GlobalSecondaryIndexes"][0]["IndexStatus"], "DELETING");
    assert!(h.ok("DescribeTable", json!({"TableName": "leases"}))["Table"]
        .get("GlobalSecondaryIndexes")
        .is_none());
}

#[test]
fn transactions_are_all_or_nothing() {
    let h = harness();
    h.lease_table("tbl");
    h.put("tbl", json!({"leaseKey": {"S": "lock"}, "ownerName": {"S": "w1"}}));
    let transaction = |owner: &str| {
        json!({"TransactItems": [
        {"ConditionCheck": {"TableName": "tbl", "Key": {"leaseKey": {"S": "lock"}}, "ConditionExpression": "ownerName = :o",
            "ExpressionAttributeValues": {":o": {"S": owner}}}},
        {"Put": {"TableName": "tbl", "Item": {"leaseKey": {"S": "new"}}, "ConditionExpression": "attribute_not_exists(leaseKey)"}},
        {"Update": {"TableName": "tbl", "Key": {"leaseKey": {"S": "counter"}}, "UpdateExpression": "ADD n :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        {"Delete": {"TableName": "tbl", "Key": {"leaseKey": {"S": "old"}}}}]})
    };
    let (status, body) = h.raw("TransactWriteItems", &transaction("w2"));
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "com.amazonaws.dynamodb.v20120810#TransactionCanceledException");
    assert_eq!(body["message"], "Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed, None, None, None]");
    assert_eq!(
        body["CancellationReasons"][0],
        json!({"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"})
    );
    assert_eq!(h.ok("Scan", json!({"TableName": "tbl"}))["Count"], 1, "nothing was written");
    h.ok("TransactWriteItems", transaction("w1"));
    assert_eq!(h.ok("Scan", json!({"TableName": "tbl"}))["Count"], 3);
    assert_eq!(h.validation("TransactWriteItems", json!({"TransactItems": [
        {"Delete": {"TableName": "tbl", "Key": {"leaseKey": {"S": "x"}}}}, {"Delete": {"TableName": "tbl", "Key": {"leaseKey": {"S": "x"}}}}]})),
        "Transaction request cannot include multiple operations on one item");
    assert_eq!(
        h.validation("TransactWriteItems", json!({"TransactItems": [{}]})),
        "The action or operation requested is invalid. Verify that the action is typed correctly."
    );
}

#[test]
fn batches_read_and_write_many_items() {
    let h = harness();
    h.lease_table("tbl");
    let puts: Vec<Value> =
        (0..25).map(|i| json!({"PutRequest": {"Item": {"leaseKey": {"S": format!("k{i}")}}}})).collect();
    assert_eq!(
        h.ok("BatchWriteItem", json!({"RequestItems": {"tbl": puts}})),
        json!({"UnprocessedItems": {}})
    );
    let keys: Vec<Value> = (0..30).map(|i| json!({"leaseKey": {"S": format!("k{i}")}})).collect();
    let got = h.ok("BatchGetItem", json!({"RequestItems": {"tbl": {"Keys": keys}}}));
    assert_eq!(got["Responses"]["tbl"].as_array().unwrap().len(), 25);
    assert_eq!(got["UnprocessedKeys"], json!({}));
    let deletes = json!({"RequestItems": {"tbl": [{"DeleteRequest": {"Key": {"leaseKey": {"S": "k1"}}}}, {"DeleteRequest": {"Key": {"leaseKey": {"S": "k1"}}}}]}});
    assert_eq!(h.validation("BatchWriteItem", deletes), "Provided list of item keys contains duplicates");
    h.ok(
        "BatchWriteItem",
        json!({"RequestItems": {"tbl": [{"DeleteRequest": {"Key": {"leaseKey": {"S": "k1"}}}}]}}),
    );
    assert_eq!(h.ok("DescribeTable", json!({"TableName": "tbl"}))["Table"]["ItemCount"], 24);
}

#[test]
fn settings_tags_time_to_live_and_backups() {
    let h = harness();
    h.lease_table("tbl");
    let arn = "arn:aws:dynamodb:us-east-1:000000000000:table/tbl";
    h.ok(
        "TagResource",
        json!({"ResourceArn": arn, "Tags": [{"Key": "team", "Value": "a"}, {"Key": "env", "Value": "b"}]}),
    );
    h.ok("UntagResource", json!({"ResourceArn": arn, "TagKeys": ["env"]}));
    assert_eq!(
        h.ok("ListTagsOfResource", json!({"ResourceArn": arn})),
        json!({"Tags": [{"Key": "team", "Value": "a"}]})
    );
    assert_eq!(
        h.ok("DescribeTimeToLive", json!({"TableName": "tbl"})),
        json!({"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}})
    );
    h.ok(
        "UpdateTimeToLive",
        json!({"TableName": "tbl", "TimeToLiveSpecification": {"AttributeName": "exp", "Enabled": true}}),
    );
    assert_eq!(
        h.ok("DescribeTimeToLive", json!({"TableName": "tbl"}))["TimeToLiveDescription"]["TimeToLiveStatus"],
        "ENABLED"
    );
    let backups = h.ok(
        "UpdateContinuousBackups",
        json!({"TableName": "tbl", "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true}}),
    );
    assert_eq!(
        backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
            ["PointInTimeRecoveryStatus"],
        "ENABLED"
    );
    assert_eq!(
        h.err("DescribeContinuousBackups", json!({"TableName": "nope"})),
        ("TableNotFoundException".into(), "Table not found: nope".into())
    );
}
