"""DynamoDB on kinesin, driven by boto3: `python dynamodb_boto3.py ENDPOINT CASE`.

Each case exercises one area against a fresh server (tests/dynamodb.rs starts it) and exits
non-zero with the failing assertion. Errors are checked for their exact code, message and HTTP
status, as DynamoDB answers them (docs/dynamodb.md, "Errors").
"""

import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = sys.argv[1]
CASE = sys.argv[2]

ddb = boto3.client(
    "dynamodb",
    endpoint_url=ENDPOINT,
    region_name="us-east-1",
    aws_access_key_id="AKIDEXAMPLE",
    aws_secret_access_key="secret",
    config=Config(retries={"max_attempts": 1}),
)


def fails(code, message, call, *args, status=400, **kwargs):
    """Asserts the call fails with exactly this code, message and status; returns the error."""
    try:
        call(*args, **kwargs)
    except ClientError as e:
        error = e.response["Error"]
        got = (error["Code"], error.get("Message"), e.response["ResponseMetadata"]["HTTPStatusCode"])
        assert got == (code, message, status), f"expected {(code, message, status)}, got {got}"
        return e.response
    raise AssertionError(f"expected {code}: {message}")


def lease_table(name):
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "leaseKey", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "leaseKey", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        DeletionProtectionEnabled=False,
    )


def ranged_table(name):
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "p", "KeyType": "HASH"}, {"AttributeName": "r", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "p", "AttributeType": "S"}, {"AttributeName": "r", "AttributeType": "N"}],
        ProvisionedThroughput={"ReadCapacityUnits": 10, "WriteCapacityUnits": 10},
    )


def tables():
    created = ddb.create_table(
        TableName="leases",
        KeySchema=[{"AttributeName": "leaseKey", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "leaseKey", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        DeletionProtectionEnabled=False,
        Tags=[{"Key": "app", "Value": "kcl"}],
    )["TableDescription"]
    assert created["TableStatus"] == "CREATING", created
    ddb.get_waiter("table_exists").wait(TableName="leases", WaiterConfig={"Delay": 1, "MaxAttempts": 2})
    table = ddb.describe_table(TableName="leases")["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["TableArn"] == "arn:aws:dynamodb:us-east-1:000000000000:table/leases"
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 0
    assert table["ProvisionedThroughput"]["NumberOfDecreasesToday"] == 0
    assert table["ItemCount"] == 0 and table["TableSizeBytes"] == 0
    assert "CreationDateTime" in table and table["DeletionProtectionEnabled"] is False
    fails("ResourceInUseException", "Table already exists: leases", lease_table, "leases")
    ranged_table("ranged")
    assert ddb.list_tables()["TableNames"] == ["leases", "ranged"]
    assert ddb.list_tables(Limit=1) ["LastEvaluatedTableName"] == "leases"
    assert ddb.list_tables(ExclusiveStartTableName="leases")["TableNames"] == ["ranged"]
    arn = table["TableArn"]
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "app", "Value": "kcl"}]
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "team", "Value": "a"}])
    ddb.untag_resource(ResourceArn=arn, TagKeys=["app"])
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "a"}]
    ttl = ddb.update_time_to_live(TableName="leases", TimeToLiveSpecification={"AttributeName": "exp", "Enabled": True})
    assert ttl["TimeToLiveSpecification"] == {"AttributeName": "exp", "Enabled": True}
    assert ddb.describe_time_to_live(TableName="leases")["TimeToLiveDescription"]["TimeToLiveStatus"] == "ENABLED"
    backups = ddb.update_continuous_backups(
        TableName="leases", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    assert ddb.describe_continuous_backups(TableName="leases")["ContinuousBackupsDescription"]["ContinuousBackupsStatus"] == "ENABLED"
    fails("TableNotFoundException", "Table not found: nope", ddb.describe_continuous_backups, TableName="nope")
    fails("ResourceNotFoundException", "Requested resource not found: Table: nope not found", ddb.describe_table, TableName="nope")
    fails(
        "ValidationException",
        "1 validation error detected: Value 'ab' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 3",
        ddb.describe_table,
        TableName="ab",
    )
    deleted = ddb.delete_table(TableName="ranged")["TableDescription"]
    assert deleted["TableStatus"] == "DELETING"
    fails("ResourceNotFoundException", "Requested resource not found", ddb.delete_table, TableName="ranged")
    assert ddb.list_tables()["TableNames"] == ["leases"]


def items():
    lease_table("leases")
    key = {"leaseKey": {"S": "shard-0"}}
    ddb.put_item(
        TableName="leases",
        Item={"leaseKey": {"S": "shard-0"}, "leaseCounter": {"N": "5.0"}, "parentShardId": {"SS": ["a", "b"]},
              "checkpoint": {"S": "TRIM_HORIZON"}, "pending": {"B": b"\x00\x01"}, "h": {"L": [{"M": {"x": {"NULL": True}}}]}},
        ConditionExpression="attribute_not_exists(leaseKey)",
    )
    item = ddb.get_item(TableName="leases", Key=key, ConsistentRead=True)["Item"]
    assert item["leaseCounter"] == {"N": "5"} and item["pending"] == {"B": b"\x00\x01"}, item
    failure = fails(
        "ConditionalCheckFailedException", "The conditional request failed",
        ddb.put_item, TableName="leases", Item=key, ConditionExpression="attribute_not_exists(leaseKey)",
        ReturnValuesOnConditionCheckFailure="ALL_OLD",
    )
    assert failure["Item"]["checkpoint"] == {"S": "TRIM_HORIZON"}, failure
    new = ddb.update_item(
        TableName="leases", Key=key,
        UpdateExpression="SET leaseOwner = :o, leaseCounter = leaseCounter + :one ADD ownerSwitches :one REMOVE pending",
        ConditionExpression="leaseCounter = :five AND begins_with(checkpoint, :t) AND size(parentShardId) = :two",
        ExpressionAttributeValues={":o": {"S": "w1"}, ":one": {"N": "1"}, ":five": {"N": "5"}, ":t": {"S": "TRIM"}, ":two": {"N": "2"}},
        ReturnValues="ALL_NEW",
    )["Attributes"]
    assert new["leaseCounter"] == {"N": "6"} and new["ownerSwitches"] == {"N": "1"} and "pending" not in new, new
    old = ddb.update_item(
        TableName="leases", Key=key, UpdateExpression="SET #c = :c", ExpressionAttributeNames={"#c": "checkpoint"},
        ExpressionAttributeValues={":c": {"S": "49590338271490256608559692538361571095921575989136588898"}},
        ReturnValues="UPDATED_OLD",
    )["Attributes"]
    assert old == {"checkpoint": {"S": "TRIM_HORIZON"}}, old
    updated_new = ddb.update_item(
        TableName="leases", Key=key, UpdateExpression="SET h[0].x = :v, l = list_append(if_not_exists(l, :e), :v2)",
        ExpressionAttributeValues={":v": {"N": "1"}, ":e": {"L": []}, ":v2": {"L": [{"S": "z"}]}}, ReturnValues="UPDATED_NEW",
    )["Attributes"]
    assert updated_new == {"h": {"L": [{"M": {"x": {"N": "1"}}}]}, "l": {"L": [{"S": "z"}]}}, updated_new
    # The lock client's conditions, with the space DynamoDB allows before `(`.
    ddb.put_item(TableName="leases", Item={"leaseKey": {"S": "Leader"}, "ownerName": {"S": "w1"}, "rvn": {"S": "1"}},
                 ConditionExpression="attribute_not_exists(#pk)", ExpressionAttributeNames={"#pk": "leaseKey"})
    ddb.update_item(TableName="leases", Key={"leaseKey": {"S": "Leader"}}, UpdateExpression=" REMOVE rvn ",
                    ConditionExpression="(attribute_exists (#pk) AND #rvn = :rvn AND NOT #on <> :on)",
                    ExpressionAttributeNames={"#pk": "leaseKey", "#rvn": "rvn", "#on": "ownerName"},
                    ExpressionAttributeValues={":rvn": {"S": "1"}, ":on": {"S": "w1"}})
    projected = ddb.get_item(TableName="leases", Key=key, ProjectionExpression="leaseOwner, h[0].x, #p",
                             ExpressionAttributeNames={"#p": "parentShardId"})["Item"]
    assert projected == {"leaseOwner": {"S": "w1"}, "h": {"L": [{"M": {"x": {"N": "1"}}}]}, "parentShardId": {"SS": ["a", "b"]}}, projected
    deleted = ddb.delete_item(TableName="leases", Key=key, ReturnValues="ALL_OLD",
                              ConditionExpression="leaseOwner IN (:a, :b) AND attribute_type(leaseCounter, :n) AND contains(parentShardId, :p)",
                              ExpressionAttributeValues={":a": {"S": "w0"}, ":b": {"S": "w1"}, ":n": {"S": "N"}, ":p": {"S": "a"}})
    assert deleted["Attributes"]["leaseOwner"] == {"S": "w1"}
    assert "Item" not in ddb.get_item(TableName="leases", Key=key)
    # An update of a missing item creates it.
    ddb.update_item(TableName="leases", Key={"leaseKey": {"S": "wid"}}, UpdateExpression="SET lut = :t",
                    ExpressionAttributeValues={":t": {"N": "1700000000000"}})
    assert ddb.get_item(TableName="leases", Key={"leaseKey": {"S": "wid"}})["Item"]["lut"] == {"N": "1700000000000"}
    # Batches.
    ddb.batch_write_item(RequestItems={"leases": [{"PutRequest": {"Item": {"leaseKey": {"S": f"b{i}"}}}} for i in range(25)]})
    got = ddb.batch_get_item(RequestItems={"leases": {"Keys": [{"leaseKey": {"S": f"b{i}"}} for i in range(30)], "ProjectionExpression": "leaseKey"}})
    assert len(got["Responses"]["leases"]) == 25 and got["UnprocessedKeys"] == {}
    ddb.batch_write_item(RequestItems={"leases": [{"DeleteRequest": {"Key": {"leaseKey": {"S": f"b{i}"}}}} for i in range(25)]})
    assert ddb.describe_table(TableName="leases")["Table"]["ItemCount"] == 2


def errors():
    lease_table("leases")
    ranged_table("ranged")
    key = {"leaseKey": {"S": "k"}}
    invalid = "One or more parameter values were invalid: "
    v = "ValidationException"
    fails(v, "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
          ddb.put_item, TableName="leases", Item={"leaseKey": {"S": "k"}, "a": {}})
    fails(v, invalid + "An AttributeValue may not contain an empty set.",
          ddb.put_item, TableName="leases", Item={"leaseKey": {"S": "k"}, "a": {"SS": []}})
    fails(v, invalid + "Input collection [x, x] contains duplicates.",
          ddb.put_item, TableName="leases", Item={"leaseKey": {"S": "k"}, "a": {"SS": ["x", "x"]}})
    fails(v, "The parameter cannot be converted to a numeric value: five",
          ddb.put_item, TableName="leases", Item={"leaseKey": {"S": "k"}, "a": {"N": "five"}})
    fails(v, "Attempting to store more than 38 significant digits in a Number",
          ddb.put_item, TableName="leases", Item={"leaseKey": {"S": "k"}, "a": {"N": "1" * 39}})
    fails(v, "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: leaseKey",
          ddb.put_item, TableName="leases", Item={"leaseKey": {"S": ""}})
    fails(v, invalid + "Missing the key leaseKey in the item", ddb.put_item, TableName="leases", Item={"a": {"S": "x"}})
    fails(v, invalid + "Type mismatch for key leaseKey expected: S actual: N",
          ddb.put_item, TableName="leases", Item={"leaseKey": {"N": "1"}})
    fails(v, "The provided key element does not match the schema", ddb.get_item, TableName="leases", Key={"leaseKey": {"N": "1"}})
    fails(v, "The provided key element does not match the schema", ddb.get_item, TableName="ranged", Key={"p": {"S": "a"}})
    fails(v, "Item size has exceeded the maximum allowed size",
          ddb.put_item, TableName="leases", Item={"leaseKey": {"S": "k"}, "big": {"S": "x" * (400 * 1024)}})
    fails(v, "Value provided in ExpressionAttributeValues unused in expressions: keys: {:unused}",
          ddb.put_item, TableName="leases", Item=key, ConditionExpression="attribute_not_exists(leaseKey)",
          ExpressionAttributeValues={":unused": {"S": "x"}})
    fails(v, "Value provided in ExpressionAttributeNames unused in expressions: keys: {#unused}",
          ddb.put_item, TableName="leases", Item=key, ConditionExpression="attribute_not_exists(leaseKey)",
          ExpressionAttributeNames={"#unused": "x"})
    fails(v, "ExpressionAttributeNames can only be specified when using expressions",
          ddb.put_item, TableName="leases", Item=key, ExpressionAttributeNames={"#a": "x"})
    fails(v, "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {Expected} Expression parameters: {ConditionExpression}",
          ddb.put_item, TableName="leases", Item=key, Expected={"leaseKey": {"Exists": False}},
          ConditionExpression="attribute_not_exists(leaseKey)")
    fails(v, invalid + "Cannot update attribute leaseKey. This attribute is part of the key",
          ddb.update_item, TableName="leases", Key=key, UpdateExpression="SET leaseKey = :v", ExpressionAttributeValues={":v": {"S": "x"}})
    fails(v, "ReturnValues can only be ALL_OLD or NONE", ddb.put_item, TableName="leases", Item=key, ReturnValues="ALL_NEW")
    fails(v, "1 validation error detected: Value 'SOME' at 'returnValues' failed to satisfy constraint: Member must satisfy enum value set: [NONE, ALL_OLD, UPDATED_OLD, ALL_NEW, UPDATED_NEW]",
          ddb.put_item, TableName="leases", Item=key, ReturnValues="SOME")
    fails("ResourceNotFoundException", "Requested resource not found", ddb.put_item, TableName="missing", Item=key)
    fails("ResourceNotFoundException", "Requested resource not found", ddb.scan, TableName="missing")
    fails(v, "The table does not have the specified index: nope", ddb.query, TableName="leases", IndexName="nope",
          KeyConditionExpression="leaseKey = :k", ExpressionAttributeValues={":k": {"S": "x"}})
    fails(v, "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: 3 is not less than TotalSegments: 3",
          ddb.scan, TableName="leases", Segment=3, TotalSegments=3)
    fails(v, "Transaction request cannot include multiple operations on one item",
          ddb.transact_write_items, TransactItems=[{"Delete": {"TableName": "leases", "Key": key}}] * 2)
    assert ddb.scan(TableName="leases")["Count"] == 0, "bad input changed nothing"


def reads():
    ranged_table("ranged")
    for r in ["10", "-2.5", "3", "0", "1E+2", "-100", "2.75"]:
        ddb.put_item(TableName="ranged", Item={"p": {"S": "a"}, "r": {"N": r}, "even": {"BOOL": float(r) % 2 == 0}})
    ddb.put_item(TableName="ranged", Item={"p": {"S": "b"}, "r": {"N": "1"}})
    values = {":p": {"S": "a"}}

    def ranges(answer):
        return [i["r"]["N"] for i in answer["Items"]]

    assert ranges(ddb.query(TableName="ranged", KeyConditionExpression="p = :p", ExpressionAttributeValues=values)) == \
        ["-100", "-2.5", "0", "2.75", "3", "10", "100"]
    for condition, extra, expected in [
        ("r < :x", {":x": {"N": "0"}}, ["-100", "-2.5"]),
        ("r <= :x", {":x": {"N": "0"}}, ["-100", "-2.5", "0"]),
        ("r > :x", {":x": {"N": "3"}}, ["10", "100"]),
        ("r >= :x", {":x": {"N": "3"}}, ["3", "10", "100"]),
        ("r = :x", {":x": {"N": "2.75"}}, ["2.75"]),
        ("r BETWEEN :x AND :y", {":x": {"N": "-3"}, ":y": {"N": "3"}}, ["-2.5", "0", "2.75", "3"]),
    ]:
        got = ddb.query(TableName="ranged", KeyConditionExpression=f"p = :p AND {condition}",
                        ExpressionAttributeValues={**values, **extra})
        assert ranges(got) == expected, (condition, ranges(got))
    back = ddb.query(TableName="ranged", KeyConditionExpression="p = :p", ExpressionAttributeValues=values, ScanIndexForward=False)
    assert ranges(back) == ["100", "10", "3", "2.75", "0", "-2.5", "-100"]
    paginator = ddb.get_paginator("query")
    pages = list(paginator.paginate(TableName="ranged", KeyConditionExpression="p = :p", ExpressionAttributeValues=values,
                                    PaginationConfig={"PageSize": 3}))
    assert [ranges(p) for p in pages][:3] == [["-100", "-2.5", "0"], ["2.75", "3", "10"], ["100"]], [ranges(p) for p in pages]
    filtered = ddb.query(TableName="ranged", KeyConditionExpression="p = :p", FilterExpression="even = :t",
                         ExpressionAttributeValues={**values, ":t": {"BOOL": True}}, Select="COUNT")
    assert filtered["Count"] == 4 and filtered["ScannedCount"] == 7 and "Items" not in filtered, filtered
    specific = ddb.query(TableName="ranged", KeyConditionExpression="p = :p", ExpressionAttributeValues=values,
                         Select="SPECIFIC_ATTRIBUTES", ProjectionExpression="r", Limit=1)
    assert specific["Items"] == [{"r": {"N": "-100"}}] and specific["LastEvaluatedKey"] == {"p": {"S": "a"}, "r": {"N": "-100"}}
    # begins_with on a string range key.
    ddb.create_table(TableName="strings", KeySchema=[{"AttributeName": "p", "KeyType": "HASH"}, {"AttributeName": "s", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "p", "AttributeType": "S"}, {"AttributeName": "s", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    for s in ["b", "ab", "a", "abc", "B", "ac"]:
        ddb.put_item(TableName="strings", Item={"p": {"S": "x"}, "s": {"S": s}})
    got = ddb.query(TableName="strings", KeyConditionExpression="p = :p AND begins_with(s, :a)",
                    ExpressionAttributeValues={":p": {"S": "x"}, ":a": {"S": "a"}})
    assert [i["s"]["S"] for i in got["Items"]] == ["a", "ab", "abc", "ac"], got["Items"]
    # Scans: every page, every segment.
    scanned = [i for page in ddb.get_paginator("scan").paginate(TableName="ranged", PaginationConfig={"PageSize": 2}) for i in page["Items"]]
    assert len(scanned) == 8
    segments = []
    for segment in range(4):
        for page in ddb.get_paginator("scan").paginate(TableName="ranged", Segment=segment, TotalSegments=4,
                                                      PaginationConfig={"PageSize": 1}):
            segments += [(i["p"]["S"], i["r"]["N"]) for i in page["Items"]]
    assert sorted(segments) == sorted((i["p"]["S"], i["r"]["N"]) for i in scanned) and len(set(segments)) == 8
    filtered = ddb.scan(TableName="ranged", FilterExpression="p = :p AND NOT even = :t", ExpressionAttributeValues={**values, ":t": {"BOOL": True}},
                        ProjectionExpression="r", ConsistentRead=True)
    assert sorted(i["r"]["N"] for i in filtered["Items"]) == ["-2.5", "2.75", "3"], filtered
    fails("ValidationException", "Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES",
          ddb.scan, TableName="ranged", Select="SPECIFIC_ATTRIBUTES")


def indexes():
    lease_table("leases")
    ddb.put_item(TableName="leases", Item={"leaseKey": {"S": "shard-1"}, "leaseOwner": {"S": "w1"}, "checkpoint": {"S": "LATEST"}})
    ddb.put_item(TableName="leases", Item={"leaseKey": {"S": "shard-2"}})
    updated = ddb.update_table(
        TableName="leases",
        AttributeDefinitions=[{"AttributeName": "leaseOwner", "AttributeType": "S"}, {"AttributeName": "leaseKey", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[{"Create": {
            "IndexName": "LeaseOwnerToLeaseKeyIndex",
            "KeySchema": [{"AttributeName": "leaseOwner", "KeyType": "HASH"}, {"AttributeName": "leaseKey", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"}}}],
    )["TableDescription"]
    assert updated["TableStatus"] == "UPDATING" and updated["GlobalSecondaryIndexes"][0]["IndexStatus"] == "CREATING", updated
    table = ddb.describe_table(TableName="leases")["Table"]
    index = table["GlobalSecondaryIndexes"][0]
    assert table["TableStatus"] == "ACTIVE" and index["IndexStatus"] == "ACTIVE", table
    assert index["IndexArn"] == "arn:aws:dynamodb:us-east-1:000000000000:table/leases/index/LeaseOwnerToLeaseKeyIndex"
    assert index["ItemCount"] == 1 and index["Projection"] == {"ProjectionType": "KEYS_ONLY"}

    def owned(owner):
        pages = ddb.get_paginator("query").paginate(TableName="leases", IndexName="LeaseOwnerToLeaseKeyIndex",
                                                     KeyConditionExpression="leaseOwner = :o",
                                                     ExpressionAttributeValues={":o": {"S": owner}})
        return [i["leaseKey"]["S"] for p in pages for i in p["Items"]]

    assert owned("w1") == ["shard-1"]
    ddb.update_item(TableName="leases", Key={"leaseKey": {"S": "shard-2"}}, UpdateExpression="SET leaseOwner = :o",
                    ExpressionAttributeValues={":o": {"S": "w1"}})
    assert owned("w1") == ["shard-1", "shard-2"]
    ddb.update_item(TableName="leases", Key={"leaseKey": {"S": "shard-1"}}, UpdateExpression="REMOVE leaseOwner")
    assert owned("w1") == ["shard-2"], "sparse: an item without the key leaves the index"
    ddb.delete_item(TableName="leases", Key={"leaseKey": {"S": "shard-2"}})
    assert owned("w1") == []
    fails("ValidationException",
          "One or more parameter values were invalid: Type mismatch for Index Key leaseOwner Expected: S Actual: N IndexName: LeaseOwnerToLeaseKeyIndex",
          ddb.put_item, TableName="leases", Item={"leaseKey": {"S": "x"}, "leaseOwner": {"N": "1"}})
    fails("ValidationException",
          "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index LeaseOwnerToLeaseKeyIndex because its projection type is not ALL",
          ddb.scan, TableName="leases", IndexName="LeaseOwnerToLeaseKeyIndex", Select="ALL_ATTRIBUTES")
    fails("LimitExceededException", "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table",
          ddb.update_table, TableName="leases", GlobalSecondaryIndexUpdates=[
              {"Delete": {"IndexName": "LeaseOwnerToLeaseKeyIndex"}}, {"Delete": {"IndexName": "other"}}])
    deleted = ddb.update_table(TableName="leases", GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "LeaseOwnerToLeaseKeyIndex"}}])
    assert deleted["TableDescription"]["GlobalSecondaryIndexes"][0]["IndexStatus"] == "DELETING"
    assert "GlobalSecondaryIndexes" not in ddb.describe_table(TableName="leases")["Table"]


def transactions():
    lease_table("leases")
    ddb.put_item(TableName="leases", Item={"leaseKey": {"S": "Leader"}, "ownerName": {"S": "w1"}})
    ddb.put_item(TableName="leases", Item={"leaseKey": {"S": "old"}})

    def migrate(owner):
        return ddb.transact_write_items(TransactItems=[
            {"ConditionCheck": {"TableName": "leases", "Key": {"leaseKey": {"S": "Leader"}}, "ConditionExpression": "ownerName = :owner",
                                "ExpressionAttributeValues": {":owner": {"S": owner}}}},
            {"Put": {"TableName": "leases", "Item": {"leaseKey": {"S": "new"}}, "ConditionExpression": "attribute_not_exists(leaseKey)"}},
            {"Update": {"TableName": "leases", "Key": {"leaseKey": {"S": "state"}}, "UpdateExpression": "SET tm = :s",
                        "ExpressionAttributeValues": {":s": {"S": "COMPLETE"}}}},
            {"Delete": {"TableName": "leases", "Key": {"leaseKey": {"S": "old"}}}},
        ])

    failure = fails("TransactionCanceledException",
                    "Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed, None, None, None]",
                    migrate, "w2")
    assert failure["CancellationReasons"][0] == {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}, failure
    assert ddb.scan(TableName="leases")["Count"] == 2, "nothing was written"
    migrate("w1")
    keys = sorted(i["leaseKey"]["S"] for i in ddb.scan(TableName="leases")["Items"])
    assert keys == ["Leader", "new", "state"], keys


def legacy():
    """The KCL's lease writes, in the legacy dialect exactly as it sends them."""
    lease_table("leases")
    key = {"leaseKey": {"S": "shardId-000000000000"}}
    lease = {**key, "leaseCounter": {"N": "0"}, "checkpoint": {"S": "TRIM_HORIZON"}, "checkpointSubSequenceNumber": {"N": "0"},
             "ownerSwitchesSinceCheckpoint": {"N": "0"}, "parentShardId": {"SS": ["shardId-parent"]}}
    ddb.put_item(TableName="leases", Item=lease, Expected={"leaseKey": {"Exists": False}})
    fails("ConditionalCheckFailedException", "The conditional request failed",
          ddb.put_item, TableName="leases", Item=lease, Expected={"leaseKey": {"Exists": False}})
    # take
    ddb.update_item(TableName="leases", Key=key, Expected={"leaseCounter": {"Value": {"N": "0"}}},
                    AttributeUpdates={"leaseCounter": {"Action": "PUT", "Value": {"N": "1"}},
                                      "leaseOwner": {"Action": "PUT", "Value": {"S": "worker-1"}},
                                      "ownerSwitchesSinceCheckpoint": {"Action": "ADD", "Value": {"N": "1"}}})
    # renew with the KCL 3.x additions
    renewed = ddb.update_item(TableName="leases", Key=key,
                              Expected={"leaseCounter": {"Value": {"N": "1"}}, "checkpointOwner": {"Exists": False}},
                              AttributeUpdates={"leaseCounter": {"Action": "PUT", "Value": {"N": "2"}},
                                                "throughputKBps": {"Action": "PUT", "Value": {"N": "1.0E-4"}}},
                              ReturnValues="ALL_NEW")["Attributes"]
    assert renewed["leaseCounter"] == {"N": "2"} and renewed["throughputKBps"] == {"N": "0.0001"}, renewed
    failure = fails("ConditionalCheckFailedException", "The conditional request failed",
                    ddb.update_item, TableName="leases", Key=key, Expected={"leaseCounter": {"Value": {"N": "1"}}},
                    AttributeUpdates={"leaseCounter": {"Action": "PUT", "Value": {"N": "2"}}},
                    ReturnValuesOnConditionCheckFailure="ALL_OLD")
    assert failure["Item"]["leaseCounter"] == {"N": "2"}, failure
    # evict: Value or Exists:false through OR, a DELETE without a value
    ddb.update_item(TableName="leases", Key=key,
                    Expected={"leaseOwner": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "worker-1"}]},
                              "leaseKey": {"Exists": True, "Value": key["leaseKey"]}},
                    AttributeUpdates={"leaseOwner": {"Action": "DELETE"}, "leaseCounter": {"Action": "ADD", "Value": {"N": "1"}},
                                      "parentShardId": {"Action": "DELETE", "Value": {"SS": ["shardId-parent"]}}})
    item = ddb.get_item(TableName="leases", Key=key, ConsistentRead=True, AttributesToGet=["leaseOwner", "leaseCounter", "parentShardId"])
    assert item["Item"] == {"leaseCounter": {"N": "3"}}, item
    # the coordinator state's scans and the lease taker's filters
    ddb.put_item(TableName="leases", Item={"leaseKey": {"S": "other"}, "leaseOwner": {"S": "worker-2"}})
    owned = ddb.scan(TableName="leases", ScanFilter={"leaseOwner": {"ComparisonOperator": "NOT_NULL"}})
    assert [i["leaseKey"]["S"] for i in owned["Items"]] == ["other"], owned
    either = ddb.scan(TableName="leases", ConditionalOperator="OR", ScanFilter={
        "leaseOwner": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "worker-2"}]},
        "leaseCounter": {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "2"}]}})
    assert either["Count"] == 2, either
    fails("ValidationException",
          "One or more parameter values were invalid: Value must be provided when Exists is true for Attribute: leaseKey",
          ddb.put_item, TableName="leases", Item=key, Expected={"leaseKey": {"Exists": True}})
    fails("ValidationException",
          "1 validation error detected: Value 'EQUALS' at 'expected.leaseKey.member.comparisonOperator' failed to satisfy constraint: Member must satisfy enum value set: [IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]",
          ddb.put_item, TableName="leases", Item=key, Expected={"leaseKey": {"ComparisonOperator": "EQUALS", "AttributeValueList": [{"S": "x"}]}})


def durable_write():
    lease_table("leases")
    for i in range(50):
        ddb.put_item(TableName="leases", Item={"leaseKey": {"S": f"shard-{i}"}, "leaseCounter": {"N": str(i)}})
    ddb.update_table(
        TableName="leases",
        AttributeDefinitions=[{"AttributeName": "leaseOwner", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[{"Create": {"IndexName": "byOwner", "KeySchema": [{"AttributeName": "leaseOwner", "KeyType": "HASH"}],
                                                 "Projection": {"ProjectionType": "ALL"}}}],
    )
    for i in range(0, 50, 5):
        ddb.update_item(TableName="leases", Key={"leaseKey": {"S": f"shard-{i}"}}, UpdateExpression="SET leaseOwner = :o ADD leaseCounter :one",
                        ExpressionAttributeValues={":o": {"S": "w1"}, ":one": {"N": "1"}})
    ddb.delete_item(TableName="leases", Key={"leaseKey": {"S": "shard-49"}})


def durable_check():
    table = ddb.describe_table(TableName="leases")["Table"]
    assert table["TableStatus"] == "ACTIVE" and table["ItemCount"] == 49, table
    items = [i for p in ddb.get_paginator("scan").paginate(TableName="leases") for i in p["Items"]]
    counters = {i["leaseKey"]["S"]: int(i["leaseCounter"]["N"]) for i in items}
    assert counters == {f"shard-{i}": i + (1 if i % 5 == 0 else 0) for i in range(49)}, counters
    owned = ddb.query(TableName="leases", IndexName="byOwner", KeyConditionExpression="leaseOwner = :o",
                      ExpressionAttributeValues={":o": {"S": "w1"}})
    assert owned["Count"] == 10, owned


{
    "tables": tables,
    "items": items,
    "errors": errors,
    "reads": reads,
    "indexes": indexes,
    "transactions": transactions,
    "legacy": legacy,
    "durable_write": durable_write,
    "durable_check": durable_check,
}[CASE]()
print(f"{CASE}: ok")
