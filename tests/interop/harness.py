"""The interop suite's harness (docs/interop.md): a fresh `kinesin serve` per test on ephemeral
ports, the Java and Python client applications as child processes, and the event logs they
write (one JSON object per line, see tests/interop/java/consumer/.../EventLog.java)."""

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import boto3
from botocore.config import Config

INTEROP = Path(__file__).resolve().parent
REPO = INTEROP.parent.parent
JAVA = INTEROP / "java"
REGION = "us-east-1"
KEYS = {"aws_access_key_id": "interop", "aws_secret_access_key": "interop"}

# Child JVMs and daemons never ask EC2's metadata address for a region or credentials: every
# address but loopback is off limits here, and kinesin needs neither.
CHILD_ENV = dict(os.environ, AWS_EC2_METADATA_DISABLED="true", AWS_REGION=REGION)


def wait_until(predicate, timeout, what, interval=0.25):
    """Polls `predicate` until it returns something truthy, which is returned."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class Kinesin:
    """One `kinesin serve` with its own data directory, on ports the OS picked."""

    def __init__(self, binary, workdir, tls=False):
        self.workdir = Path(workdir)
        self.log_path = self.workdir / "kinesin.log"
        command = [
            str(binary), "serve", "--host", "127.0.0.1", "--port", "0", "--admin-port", "0",
            "--data-dir", str(self.workdir / "data"),
            "--create-stream-ms", "100", "--update-stream-ms", "100",
        ]
        if tls:
            command += ["--tls-port", "0"]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=open(self.log_path, "wb"), text=True,
            env=dict(CHILD_ENV, NO_COLOR="1"))
        self.port = self._announced(r"kinesin listening on http://127\.0\.0\.1:(\d+)")
        self.tls_port = self._announced(r"kinesin tls on https://127\.0\.0\.1:(\d+)") if tls else None
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def _announced(self, pattern):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            found = re.search(pattern, line)
            if found:
                return int(found.group(1))
        raise AssertionError(f"kinesin did not print /{pattern}/; see {self.log_path}")

    def client(self, service):
        return boto3.client(
            service, endpoint_url=self.endpoint, region_name=REGION,
            config=Config(retries={"max_attempts": 10, "mode": "standard"}), **KEYS)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def create_stream(kinesis, name, shards):
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    wait_active(kinesis, name)


def wait_active(kinesis, name):
    wait_until(
        lambda: kinesis.describe_stream_summary(StreamName=name)
        ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE",
        60, f"stream {name} ACTIVE")


def put(kinesis, stream, records):
    """Puts (partition key, data) pairs in order, 500 a call, retrying only what failed."""
    for start in range(0, len(records), 500):
        pending = [{"PartitionKey": key, "Data": data.encode()}
                   for key, data in records[start:start + 500]]
        for _ in range(20):
            answer = kinesis.put_records(StreamName=stream, Records=pending)
            pending = [entry for entry, result in zip(pending, answer["Records"])
                       if "ErrorCode" in result]
            if not pending:
                break
            time.sleep(0.2)
        assert not pending, f"{len(pending)} records were never accepted"


def keyed_records(batch, keys, per_key):
    """`per_key` records for each of `keys` partition keys; each record's data names its key,
    its batch and its place in the key's order, so order per key can be checked."""
    return [(f"key-{k:02d}", f"key-{k:02d}:{batch}:{n:04d}")
            for n in range(per_key) for k in range(keys)]


class Worker:
    """One child process (a JVM with a test application, or the MultiLangDaemon), its output in
    files under `workdir`, its events (if any) in `<name>.events.jsonl`."""

    def __init__(self, workdir, name, command, env=None):
        self.name = name
        self.events_path = Path(workdir) / f"{name}.events.jsonl"
        self.output_path = Path(workdir) / f"{name}.out"
        self.process = subprocess.Popen(
            command, stdout=open(self.output_path, "wb"), stderr=subprocess.STDOUT,
            env=dict(CHILD_ENV, **(env or {})))

    def events(self):
        if not self.events_path.exists():
            return []
        lines = self.events_path.read_text().splitlines()
        # A kill -9 can cut the last line short; the lines before it are whole.
        return [json.loads(line) for line in lines if line.endswith("}")]

    def output(self):
        return self.output_path.read_text(errors="replace")

    def kill9(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self, timeout=45):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def java(project, main_class, args):
    """The command that runs `main_class` of the Maven project tests/interop/java/`project`."""
    classpath = f"{JAVA / project / 'target' / 'classes'}:{JAVA / project / 'target' / 'lib'}/*"
    return ["java", "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
            "-Dorg.slf4j.simpleLogger.showDateTime=true",
            "-cp", classpath, main_class, *args]


def consumer(workdir, kinesin, kcl, name, stream, app, retrieval="polling", failover_ms=10000,
             metrics="DETAILED", checkpoint_interval_ms=0):
    """A KCL worker of the consumer test application built against `kcl` (kcl2 or kcl3)."""
    return Worker(workdir, name, java(kcl, "kinesin.interop.ConsumerApp", [
        "--endpoint", kinesin.endpoint, "--stream", stream, "--app", app, "--worker", name,
        "--events", str(Path(workdir) / f"{name}.events.jsonl"), "--retrieval", retrieval,
        "--failover-ms", str(failover_ms), "--metrics", metrics,
        "--checkpoint-interval-ms", str(checkpoint_interval_ms),
    ]))


def processed(workers):
    """Every `rec` event of the workers, in time order."""
    records = [e for w in workers for e in w.events() if e["ev"] == "rec"]
    return sorted(records, key=lambda e: e["t"])


def wait_processed(workers, expected, timeout):
    """Waits until every data value in `expected` was processed by one of `workers`."""
    def done():
        missing = expected - {e["data"] for e in processed(workers)}
        return not missing
    try:
        wait_until(done, timeout, f"{len(expected)} records processed", interval=0.5)
    except AssertionError:
        missing = expected - {e["data"] for e in processed(workers)}
        raise AssertionError(
            f"{len(missing)} of {len(expected)} records never processed, e.g. "
            f"{sorted(missing)[:5]}; worker output: "
            + ", ".join(str(w.output_path) for w in workers)) from None


def sequence_key(event):
    return (int(event["seq"]), int(event["sub"]))
