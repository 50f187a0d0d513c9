"""tests/cli_archive.rs's S3 side, with boto3 against a SeaweedFS started by the test:
`create ENDPOINT BUCKET` makes the bucket (waiting for the server to answer), and
`download ENDPOINT BUCKET DIR` copies every object to DIR/KEY."""
import os
import sys
import time

import boto3
import botocore.exceptions


def s3(endpoint):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def create(endpoint, bucket):
    deadline = time.time() + 60
    while True:
        try:
            s3(endpoint).create_bucket(Bucket=bucket)
            return
        except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ClientError):
            if time.time() > deadline:
                raise
            time.sleep(0.3)


def download(endpoint, bucket, directory):
    client = s3(endpoint)
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            path = os.path.join(directory, item["Key"])
            os.makedirs(os.path.dirname(path), exist_ok=True)
            client.download_file(bucket, item["Key"], path)


if __name__ == "__main__":
    command, endpoint, bucket = sys.argv[1:4]
    if command == "create":
        create(endpoint, bucket)
    else:
        download(endpoint, bucket, sys.argv[4])
