"""SubscribeToShard through boto3, which reads the event stream over HTTP/1.1 (chunked).

Run by tests/fanout.rs: fanout_boto3.py ENDPOINT STREAM_NAME. Exits non-zero on any failure.
"""
import sys
import time

import boto3

endpoint, stream = sys.argv[1], sys.argv[2]
kinesis = boto3.client(
    "kinesis",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="AKIDEXAMPLE",
    aws_secret_access_key="secret",
)


def wait_for(check, what):
    deadline = time.time() + 10
    while not check():
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


kinesis.create_stream(StreamName=stream, ShardCount=1)
wait_for(
    lambda: kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamStatus"]
    == "ACTIVE",
    "the stream",
)
stream_arn = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
consumer_arn = kinesis.register_stream_consumer(StreamARN=stream_arn, ConsumerName="boto3")["Consumer"]["ConsumerARN"]
wait_for(
    lambda: kinesis.describe_stream_consumer(ConsumerARN=consumer_arn)["ConsumerDescription"]["ConsumerStatus"]
    == "ACTIVE",
    "the consumer",
)

# Records before and after subscribing, read from the trim horizon.
put = [kinesis.put_record(StreamName=stream, PartitionKey="pk", Data=b"before")["SequenceNumber"]]
response = kinesis.subscribe_to_shard(
    ConsumerARN=consumer_arn, ShardId="shardId-000000000000", StartingPosition={"Type": "TRIM_HORIZON"}
)
assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/vnd.amazon.eventstream"
put += [kinesis.put_record(StreamName=stream, PartitionKey="pk", Data=f"after-{i}".encode())["SequenceNumber"] for i in range(5)]

received = []
for event in response["EventStream"]:
    shard_event = event["SubscribeToShardEvent"]
    records = shard_event["Records"]
    received += records
    if records:
        assert shard_event["ContinuationSequenceNumber"] == records[-1]["SequenceNumber"]
    assert shard_event["MillisBehindLatest"] >= 0
    if len(received) >= len(put):
        break
assert [r["SequenceNumber"] for r in received] == put, (received, put)
assert [r["Data"] for r in received] == [b"before"] + [f"after-{i}".encode() for i in range(5)]
response["EventStream"].close()

# A second subscription within 5 s is refused before streaming starts.
try:
    kinesis.subscribe_to_shard(
        ConsumerARN=consumer_arn, ShardId="shardId-000000000000", StartingPosition={"Type": "LATEST"}
    )
    raise AssertionError("a second subscription within 5 s was accepted")
except kinesis.exceptions.ResourceInUseException:
    pass
print("boto3 fan-out OK:", len(received), "records")
