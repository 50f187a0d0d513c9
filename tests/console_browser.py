"""Drives the web console (docs/console.md) in headless Chromium with Playwright, against a
running `kinesin serve`, while boto3 plays the producer and the reader. Run by tests/console.rs:

    console_browser.py ENDPOINT ADMIN_URL SCREENSHOT_DIR [ACCESS_KEY SECRET]

With a key, the server was started with --credentials: the console must ask for the key, then
work. Exits non-zero with the reason on the first failed check."""

import sys
import threading
import time

import boto3
from aws_kinesis_agg.aggregator import RecordAggregator
from botocore.config import Config
from playwright.sync_api import expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
TIMEOUT_MS = 15_000

endpoint, admin, screenshots = sys.argv[1:4]
key = tuple(sys.argv[4:6]) if len(sys.argv) > 5 else ("console-test", "not-checked")
kinesis = boto3.client(
    "kinesis",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id=key[0],
    aws_secret_access_key=key[1],
    config=Config(retries={"max_attempts": 2}),
)


def create_stream(name, shards):
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2})


def wait_until(check, what, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class Console:
    """A page on the console that records every console error and uncaught exception."""

    def __init__(self, browser):
        self.page = browser.new_page(viewport={"width": 1280, "height": 860})
        self.page.set_default_timeout(TIMEOUT_MS)
        self.errors = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(f"{m.text} ({m.location})"))
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))

    def open(self, fragment=""):
        """Loads the console, or once loaded follows a link inside it (keeping its live figures)."""
        if self.page.url.startswith(admin):
            self.page.evaluate("fragment => { location.hash = fragment }", fragment or "#/streams")
        else:
            self.page.goto(f"{admin}/{fragment}")

    def screenshot(self, name):
        self.page.screenshot(path=f"{screenshots}/{name}.png", full_page=True)

    def no_errors(self, step, allowed=()):
        unexpected = [e for e in self.errors if not any(a in e for a in allowed)]
        assert not unexpected, f"console errors during {step}: {unexpected}"
        self.errors.clear()


def streams_page(console, name):
    """A stream created through boto3 appears, with its status, mode and shards."""
    console.open()
    row = console.page.locator(f'tr[data-stream="{name}"]')
    expect(row).to_contain_text("ACTIVE")
    expect(row).to_contain_text("provisioned")
    expect(row.locator("td.number").first).to_have_text("2")
    console.no_errors("the streams page")


def create_scale_delete(console, prefix):
    """Create, scale and delete from the console, each through its confirmation dialog."""
    page = console.page
    name = f"{prefix}-from-console"
    page.get_by_role("button", name="Create stream").click()
    page.locator("dialog input[name=name]").fill(name)
    page.locator("dialog input[name=shards]").fill("1")
    page.locator("dialog").get_by_role("button", name="Create").click()
    row = page.locator(f'tr[data-stream="{name}"]')
    expect(row).to_contain_text("ACTIVE")
    assert kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["OpenShardCount"] == 1

    row.get_by_role("button", name="Scale").click()
    page.locator("dialog input[name=target]").fill("2")
    page.locator("dialog").get_by_role("button", name="Scale").click()
    wait_until(
        lambda: kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["OpenShardCount"] == 2,
        "UpdateShardCount from the console",
    )
    expect(row.locator("td.number").first).to_have_text("2")

    # Cancelling changes nothing; confirming deletes.
    row.get_by_role("button", name="Delete").click()
    page.locator("dialog").get_by_role("button", name="Cancel").click()
    expect(page.locator("dialog")).to_have_count(0)
    assert name in kinesis.list_streams()["StreamNames"]
    row.get_by_role("button", name="Delete").click()
    page.locator("dialog").get_by_role("button", name="Delete").click()
    wait_until(lambda: name not in kinesis.list_streams()["StreamNames"], "DeleteStream from the console")
    expect(row).to_have_count(0)
    console.no_errors("create, scale and delete")


def reshard(name):
    """Split shard 0, then merge its two children: the map shows both kinds of lineage."""
    shards = kinesis.list_shards(StreamName=name)["Shards"]
    first = shards[0]
    low, high = int(first["HashKeyRange"]["StartingHashKey"]), int(first["HashKeyRange"]["EndingHashKey"])
    kinesis.split_shard(StreamName=name, ShardToSplit=first["ShardId"], NewStartingHashKey=str((low + high) // 2))
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2})
    children = [s for s in kinesis.list_shards(StreamName=name)["Shards"] if s.get("ParentShardId") == first["ShardId"]]
    kinesis.merge_shards(StreamName=name, ShardToMerge=children[0]["ShardId"], AdjacentShardToMerge=children[1]["ShardId"])
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2})


def traffic(name, stop):
    """A producer and a reader, so that both directions of the charts move."""
    shard = kinesis.list_shards(StreamName=name)["Shards"][-1]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    n = 0
    while not stop.is_set():
        records = [{"Data": f'{{"n": {n + i}}}'.encode(), "PartitionKey": f"k{(n + i) % 7}"} for i in range(50)]
        kinesis.put_records(StreamName=name, Records=records)
        n += 50
        answer = kinesis.get_records(ShardIterator=iterator, Limit=1000)
        iterator = answer["NextShardIterator"]
        time.sleep(0.1)


def stream_page(console, name):
    """The shard map draws every shard with its lineage; the charts move while records flow."""
    reshard(name)
    console.open(f"#/streams/{name}")
    page = console.page
    expect(page.locator(".shard-map .shard")).to_have_count(len(kinesis.list_shards(StreamName=name)["Shards"]))
    expect(page.locator(".shard-map .lineage")).to_have_count(4)  # two for the split, two for the merge
    expect(page.locator(".shard-map .shard.closed")).to_have_count(3)
    stop = threading.Event()
    producer = threading.Thread(target=traffic, args=(name, stop))
    producer.start()
    try:
        incoming = page.locator(".chart").first.locator(".legend.incoming")
        outgoing = page.locator(".chart").first.locator(".legend.outgoing")
        expect(incoming).not_to_have_text("in 0", timeout=TIMEOUT_MS)
        expect(outgoing).not_to_have_text("out 0", timeout=TIMEOUT_MS)
        before = page.locator(".chart path.line.incoming").first.get_attribute("d")
        time.sleep(3)
        after = page.locator(".chart path.line.incoming").first.get_attribute("d")
        assert before != after, "the incoming chart did not move in three seconds of traffic"
        console.screenshot("stream")
    finally:
        stop.set()
        producer.join()
    console.no_errors("the stream page")


def record_browser(console, prefix):
    """A record just put shows as text, as hex, and a KPL aggregate as its user records."""
    name = f"{prefix}-records"
    create_stream(name, 1)
    kinesis.put_record(StreamName=name, Data=b"hello console", PartitionKey="plain")
    kinesis.put_record(StreamName=name, Data=b'{"order": 17, "items": ["a", "b"]}', PartitionKey="json")
    aggregator = RecordAggregator()
    for key, data in [("pk-1", b"first user record"), ("pk-2", b"second user record"), ("pk-1", b"third user record")]:
        aggregator.add_user_record(key, data)
    partition_key, hash_key, data = aggregator.clear_and_get().get_contents()
    routing = {"ExplicitHashKey": hash_key} if hash_key else {}
    kinesis.put_record(StreamName=name, Data=data, PartitionKey=partition_key, **routing)

    console.open(f"#/streams/{name}/records")
    page = console.page
    expect(page.locator("select[name=shard] option")).to_have_count(1)
    page.locator("select[name=position]").select_option("TRIM_HORIZON")
    page.get_by_role("button", name="Read").click()
    records = page.locator("article.record")
    expect(records).to_have_count(5)  # two plain records and three user records
    expect(records.nth(0).locator("pre")).to_have_text("hello console")
    for i, text in enumerate(["first user record", "second user record", "third user record"]):
        expect(records.nth(2 + i).locator(".kpl")).to_have_text(f"KPL {i + 1}/3")
        expect(records.nth(2 + i).locator("pre")).to_have_text(text)
    expect(records.nth(3)).to_contain_text("key pk-2")

    page.locator("select[name=view]").select_option("json")
    expect(records.nth(1).locator("pre")).to_contain_text('"order": 17')
    console.screenshot("records-json")
    page.locator("select[name=view]").select_option("hex")
    expect(records.nth(0).locator("pre")).to_contain_text("68 65 6c 6c 6f 20 63 6f")
    page.locator("input[name=deaggregate]").uncheck()
    expect(records).to_have_count(3)
    expect(records.nth(2).locator("pre")).to_contain_text("f3 89 9a c2")
    page.locator("input[name=deaggregate]").check()
    page.locator("select[name=view]").select_option("text")
    console.screenshot("records")

    # A later position: after the first record's sequence number, the first record is gone.
    first = records.nth(0).locator(".sequence").inner_text()
    page.locator("select[name=position]").select_option("AFTER_SEQUENCE_NUMBER")
    page.locator("input[name=sequence]").fill(first)
    page.get_by_role("button", name="Read").click()
    expect(records).to_have_count(4)
    console.no_errors("the record browser")


def lease_table(name):
    """A KCL application's lease table for `name` (the items KCL writes, docs/console.md), with
    one shard checkpointed at a record just put and the other at the trim horizon."""
    dynamodb = boto3.client(
        "dynamodb", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key[0], aws_secret_access_key=key[1]
    )
    table = f"{name}-app"
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "leaseKey", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "leaseKey", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 0.2})
    open_shards = [s for s in kinesis.list_shards(StreamName=name)["Shards"] if "EndingSequenceNumber" not in s["SequenceNumberRange"]]
    for i, shard in enumerate(open_shards):
        first = kinesis.put_record(StreamName=name, Data=b"leased", PartitionKey="x", ExplicitHashKey=shard["HashKeyRange"]["StartingHashKey"])
        checkpoint = first["SequenceNumber"] if i == 0 else "TRIM_HORIZON"
        dynamodb.put_item(
            TableName=table,
            Item={
                "leaseKey": {"S": shard["ShardId"]},
                "leaseOwner": {"S": f"worker-{i % 2}"},
                "leaseCounter": {"N": "3"},
                "checkpoint": {"S": checkpoint},
                "checkpointSubSequenceNumber": {"N": "0"},
                "ownerSwitchesSinceCheckpoint": {"N": "0"},
            },
        )
    return table


def consumers_page(console, name):
    """Registered fan-out consumers are listed, and a KCL application's leases with their
    workers, checkpoints and lag."""
    arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="console-test-consumer")
    table = lease_table(name)
    console.open(f"#/streams/{name}/consumers")
    page = console.page
    expect(page.locator("main table").first).to_contain_text("console-test-consumer")
    application = page.locator("section.application")
    expect(application.locator("h3")).to_have_text(table)
    expect(application.locator("table.workers")).to_contain_text("worker-0")
    expect(application.locator("table.workers")).to_contain_text("worker-1")
    expect(application.locator("table.leases tbody tr")).to_have_count(2)
    expect(application.locator("table.leases")).to_contain_text("TRIM_HORIZON")
    expect(application.locator("table.leases")).not_to_contain_text("?")
    console.screenshot("consumers")
    console.no_errors("the consumers page")


def sparklines(console, name):
    """Back on the streams page, the stream's sparkline shows the traffic of the stream page."""
    console.open("#/streams")
    line = console.page.locator(f'tr[data-stream="{name}"] .sparkline path')
    expect(line).to_have_count(1)
    heights = console.page.evaluate(
        "d => d.split(/[ML]/).filter(Boolean).map(p => Number(p.split(',')[1]))", line.get_attribute("d")
    )
    assert min(heights) < max(heights), f"a flat sparkline after traffic: {heights}"
    console.screenshot("streams")
    console.no_errors("the streams page, again")


def sign_in(console, name):
    """With --credentials: the console asks for a key, keeps it for the tab, then works."""
    console.open()
    dialog = console.page.locator("dialog")
    expect(dialog).to_contain_text("Sign in to kinesin")
    console.screenshot("sign-in")
    dialog.locator("input[name=accessKey]").fill(key[0])
    dialog.locator("input[name=secret]").fill(key[1])
    dialog.get_by_role("button", name="Sign in").click()
    expect(console.page.locator(f'tr[data-stream="{name}"]')).to_contain_text("ACTIVE")
    stored = console.page.evaluate("sessionStorage.getItem('kinesin-console-credentials')")
    assert key[0] in stored, stored
    # A wrong key is refused by the server and the console asks again.
    console.page.evaluate(
        "sessionStorage.setItem('kinesin-console-credentials', JSON.stringify({accessKey: 'AKIDWRONG', secret: 'x'}))"
    )
    console.open("#/streams")
    expect(dialog).to_contain_text("Sign in to kinesin")
    console.no_errors("signing in", allowed=["status of 400"])


def main():
    prefix = f"console-{int(time.time() * 1000) % 10**8}"
    name = f"{prefix}-orders"
    create_stream(name, 2)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        console = Console(browser)
        if len(sys.argv) > 5:
            sign_in(console, name)
        else:
            streams_page(console, name)
            create_scale_delete(console, prefix)
            stream_page(console, name)
            record_browser(console, prefix)
            consumers_page(console, name)
            sparklines(console, name)
        browser.close()
    print("console checks passed")


main()
