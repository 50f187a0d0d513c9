"""amazon-kclpy: the Python MultiLangDaemon (the KCL jars its install fetched from Maven) runs
a Python record processor end to end against one kinesin (docs/interop.md)."""

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import unavailable
from harness import INTEROP, KEYS, Worker, create_stream, keyed_records, put, wait_processed
from test_kcl import wait_checkpoints_in_lease_table

# The properties an application changes to reach kinesin: both endpoints (with their scheme) and
# the region. The daemon has no CloudWatch endpoint property, so metrics stay off.
PROPERTIES = """\
executableName = {python} {processor}
streamName = {stream}
applicationName = {app}
processingLanguage = python/3
AwsCredentialsProvider = DefaultCredentialsProvider
initialPositionInStream = TRIM_HORIZON
regionName = us-east-1
kinesisEndpoint = {endpoint}
dynamoDBEndpoint = {endpoint}
metricsLevel = NONE
retrievalMode = POLLING
idleTimeBetweenReadsInMillis = 250
"""


def daemon_command(properties):
    try:
        import amazon_kclpy  # noqa: F401  (only whether it is installed)
    except ImportError:
        unavailable("amazon-kclpy is not installed (run scripts/interop.sh)")
    java = shutil.which("java")
    if java is None:
        unavailable("no java on PATH")
    helper = Path(sys.executable).parent / "amazon_kclpy_helper.py"
    printed = subprocess.run(
        [sys.executable, str(helper), "--print_command", "--java", java,
         "--properties", str(properties)],
        check=True, capture_output=True, text=True).stdout
    return printed.split()


def test_kclpy_multilang_daemon_processes_every_record(kinesin, workdir, workers):
    kinesis = kinesin.client("kinesis")
    create_stream(kinesis, "events", 2)
    records = keyed_records("A", keys=10, per_key=20)
    put(kinesis, "events", records)

    properties = workdir / "app.properties"
    properties.write_text(PROPERTIES.format(
        python=sys.executable, processor=INTEROP / "kclpy" / "record_processor.py",
        stream="events", app="kclpy-app", endpoint=kinesin.endpoint))
    events = workdir / "kclpy.events.jsonl"
    daemon = Worker(workdir, "kclpy", daemon_command(properties), env={
        "INTEROP_EVENTS": str(events), "AWS_ACCESS_KEY_ID": KEYS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": KEYS["aws_secret_access_key"]})
    workers.append(daemon)
    wait_processed([daemon], {data for _, data in records}, 180)
    wait_checkpoints_in_lease_table(kinesin, "kclpy-app", [daemon])
    print(f"\nINTEROP amazon-kclpy: {len(records)} records processed by a Python processor")
