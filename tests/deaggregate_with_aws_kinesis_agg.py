"""Reads a whole stream with boto3 and de-aggregates it with AWS's `aws-kinesis-agg` (the Python
library Lambda functions use), in the Lambda record format it is written for.

Run by tests/producer.rs: deaggregate_with_aws_kinesis_agg.py ENDPOINT STREAM. Prints one JSON
object per user record: partitionKey, explicitHashKey, data (base64), sequenceNumber,
subSequenceNumber (absent for a record that was not aggregated).
"""
import base64
import json
import sys

import boto3
from aws_kinesis_agg.deaggregator import deaggregate_records

endpoint, stream = sys.argv[1], sys.argv[2]
kinesis = boto3.client(
    "kinesis",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="AKIDEXAMPLE",
    aws_secret_access_key="secret",
)

for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
    iterator = kinesis.get_shard_iterator(
        StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    while iterator:
        page = kinesis.get_records(ShardIterator=iterator)
        lambda_records = [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r["PartitionKey"],
                    "sequenceNumber": r["SequenceNumber"],
                    "approximateArrivalTimestamp": r["ApproximateArrivalTimestamp"].timestamp(),
                    "data": base64.b64encode(r["Data"]).decode(),
                }
            }
            for r in page["Records"]
        ]
        for user in deaggregate_records(lambda_records):
            k = user["kinesis"]
            data = k["data"]
            print(
                json.dumps(
                    {
                        "partitionKey": k["partitionKey"],
                        "explicitHashKey": k.get("explicitHashKey"),
                        "data": data.decode() if isinstance(data, bytes) else data,
                        "sequenceNumber": k["sequenceNumber"],
                        "subSequenceNumber": k.get("subSequenceNumber"),
                    }
                )
            )
        caught_up = not page["Records"] and page.get("MillisBehindLatest") == 0
        iterator = None if caught_up else page.get("NextShardIterator")
