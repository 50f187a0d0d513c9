"""CloudWatch through boto3, in one protocol: what the installed botocore picks, or one forced by
loading a copy of botocore's CloudWatch model that names only that protocol.

Run by tests/cloudwatch.rs: cloudwatch_boto3.py ENDPOINT PROTOCOL NAMESPACE, where PROTOCOL is
`default`, `smithy-rpc-v2-cbor`, `json` or `query`. Prints the protocol the requests used (from
their content type) on the last line; exits non-zero on any failure.
"""
import datetime
import gzip
import json
import os
import sys
import tempfile

endpoint, protocol, namespace = sys.argv[1], sys.argv[2], sys.argv[3]

if protocol != "default":
    import botocore

    model_dir = os.path.join(os.path.dirname(botocore.__file__), "data", "cloudwatch", "2010-08-01")
    path = os.path.join(model_dir, "service-2.json")
    model = json.load(gzip.open(path + ".gz") if os.path.exists(path + ".gz") else open(path))
    model["metadata"]["protocol"] = protocol
    model["metadata"]["protocols"] = [protocol]
    data_path = tempfile.mkdtemp()
    os.makedirs(os.path.join(data_path, "cloudwatch", "2010-08-01"))
    with open(os.path.join(data_path, "cloudwatch", "2010-08-01", "service-2.json"), "w") as f:
        json.dump(model, f)
    os.environ["AWS_DATA_PATH"] = data_path

import boto3
from botocore.exceptions import ClientError

cloudwatch = boto3.client(
    "cloudwatch",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="AKIDEXAMPLE",
    aws_secret_access_key="secret",
)
content_types = set()
encodings = set()


def text(value):
    return value.decode() if isinstance(value, bytes) else value


def record(request, **_):
    content_types.add(text(request.headers.get("Content-Type", "")))
    if request.headers.get("Content-Encoding"):
        encodings.add(text(request.headers["Content-Encoding"]))


cloudwatch.meta.events.register("before-send.cloudwatch", record)

now = datetime.datetime.now(datetime.timezone.utc)
shard = [{"Name": "ShardId", "Value": "shardId-000000000000"}, {"Name": "Operation", "Value": "ProcessTask"}]

# What the KCL sends: statistic sets, no timestamp.
cloudwatch.put_metric_data(
    Namespace=namespace,
    MetricData=[
        {
            "MetricName": "RecordsProcessed",
            "Dimensions": shard,
            "StatisticValues": {"SampleCount": 2, "Sum": 30, "Minimum": 10, "Maximum": 20},
            "Unit": "Count",
        },
        {"MetricName": "Time", "Dimensions": shard[:1], "Value": 12.5, "Unit": "Milliseconds"},
    ],
)
# Values and counts with a timestamp, high resolution.
cloudwatch.put_metric_data(
    Namespace=namespace,
    MetricData=[
        {
            "MetricName": "Latency",
            "Timestamp": now - datetime.timedelta(seconds=30),
            "Values": [1.0, 2.0, 100.0],
            "Counts": [5, 4, 1],
            "StorageResolution": 1,
            "Unit": "Milliseconds",
        }
    ],
)
# A large put: botocore gzips bodies of 10 KiB and more (PutMetricData is `requestcompression`).
cloudwatch.put_metric_data(
    Namespace=namespace,
    MetricData=[{"MetricName": "Bulk", "Dimensions": [{"Name": "N", "Value": str(i)}], "Value": i} for i in range(600)],
)

window = {"StartTime": now - datetime.timedelta(minutes=10), "EndTime": now + datetime.timedelta(minutes=10)}
stats = cloudwatch.get_metric_statistics(
    Namespace=namespace,
    MetricName="RecordsProcessed",
    Dimensions=list(reversed(shard)),
    Period=60,
    Statistics=["Sum", "SampleCount", "Average", "Minimum", "Maximum"],
    **window,
)
points = stats["Datapoints"]
assert stats["Label"] == "RecordsProcessed", stats
assert len(points) == 1, stats
point = points[0]
assert (point["Sum"], point["SampleCount"], point["Average"], point["Minimum"], point["Maximum"]) == (30, 2, 15, 10, 20), point
assert point["Unit"] == "Count", point
assert isinstance(point["Timestamp"], datetime.datetime), point

percentiles = cloudwatch.get_metric_statistics(
    Namespace=namespace, MetricName="Latency", Period=60, ExtendedStatistics=["p50", "p99"], **window
)
assert percentiles["Datapoints"][0]["ExtendedStatistics"] == {"p50": 1.0, "p99": 100.0}, percentiles

data = cloudwatch.get_metric_data(
    MetricDataQueries=[
        {
            "Id": "latency",
            "MetricStat": {"Metric": {"Namespace": namespace, "MetricName": "Latency"}, "Period": 1, "Stat": "Maximum"},
        },
        {
            "Id": "time",
            "Label": "processing time",
            "MetricStat": {
                "Metric": {"Namespace": namespace, "MetricName": "Time", "Dimensions": shard[:1]},
                "Period": 300,
                "Stat": "Average",
                "Unit": "Milliseconds",
            },
        },
    ],
    ScanBy="TimestampAscending",
    **window,
)
results = {r["Id"]: r for r in data["MetricDataResults"]}
assert results["latency"]["Values"] == [100.0], data
assert results["time"]["Values"] == [12.5] and results["time"]["Label"] == "processing time", data
assert results["time"]["StatusCode"] == "Complete", data

listed = cloudwatch.list_metrics(Namespace=namespace, Dimensions=[{"Name": "ShardId"}])
names = sorted(m["MetricName"] for m in listed["Metrics"])
assert names == ["RecordsProcessed", "Time"], listed
pages = list(cloudwatch.get_paginator("list_metrics").paginate(Namespace=namespace, MetricName="Bulk"))
assert len(pages) == 2 and sum(len(p["Metrics"]) for p in pages) == 600, [len(p["Metrics"]) for p in pages]


def error_of(call, **kwargs):
    try:
        call(**kwargs)
    except ClientError as error:
        return error.response["Error"]["Code"], error.response["Error"]["Message"], error.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError(f"{call.__name__} succeeded")


code, message, status = error_of(
    cloudwatch.put_metric_data,
    Namespace=namespace,
    MetricData=[{"MetricName": "m", "Value": 1, "Values": [1]}],
)
assert (code, status) == ("InvalidParameterCombination", 400), (code, message)
assert message == "The parameters MetricData.member.1.Value and MetricData.member.1.Values are mutually exclusive and you have specified both.", message

code, message, _ = error_of(cloudwatch.put_metric_data, Namespace="AWS/Kinesis", MetricData=[{"MetricName": "m", "Value": 1}])
assert (code, message) == ("InvalidParameterValue", "The value AWS/ for parameter Namespace is invalid."), (code, message)

code, message, _ = error_of(
    cloudwatch.get_metric_statistics, Namespace=namespace, MetricName="m", Period=60, Statistics=["Sum"],
    StartTime=now - datetime.timedelta(days=30), EndTime=now,
)
assert code == "InvalidParameterCombination" and message.startswith("You have requested up to 43,200 datapoints"), (code, message)

code, message, _ = error_of(
    cloudwatch.get_metric_data, MetricDataQueries=[{"Id": "e", "Expression": "SUM(METRICS())"}], **window
)
assert code == "ValidationError" and "metric math" in message, (code, message)

print(sorted(content_types), sorted(encodings))
