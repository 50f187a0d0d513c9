"""The real Java KCL (2.x and 3.x lines) against one kinesin: Kinesis over h2c, its lease table
in kinesin's DynamoDB, its metrics in kinesin's CloudWatch (docs/interop.md)."""

import time
from collections import Counter, defaultdict

import pytest

from conftest import require_java_project
from harness import (consumer, create_stream, keyed_records, processed, put, sequence_key,
                     wait_active, wait_processed, wait_until)

KCL_LINES = ["kcl2", "kcl3"]


def live_leases(worker):
    """The shards whose processor `worker` initialized and has not ended or lost."""
    held = set()
    for event in worker.events():
        if event["ev"] == "init":
            held.add(event["shard"])
        elif event["ev"] in ("lease_lost", "shard_end", "shutdown"):
            held.discard(event["shard"])
    return held


def start_pair(workdir, kinesin, kcl, app, workers, checkpoint_interval_ms=0):
    """Two workers of one application on the stream "orders". The second starts once the first
    holds leases: two KCL 3.x workers that start together both try to create the lease table's
    index, and the one refused never starts its worker-metrics reporter (docs/interop.md)."""
    first = consumer(workdir, kinesin, kcl, "w1", "orders", app, failover_ms=5000,
                     checkpoint_interval_ms=checkpoint_interval_ms)
    workers.append(first)
    wait_until(lambda: live_leases(first), 180, "the first worker to hold leases")
    second = consumer(workdir, kinesin, kcl, "w2", "orders", app, failover_ms=5000,
                      checkpoint_interval_ms=checkpoint_interval_ms)
    workers.append(second)
    return first, second


def wait_shared(first, second, shards):
    """Waits until each worker holds leases, none held by both, all `shards` covered."""
    def shared():
        a, b = live_leases(first), live_leases(second)
        return a and b and not a & b and len(a | b) == shards
    wait_until(shared, 240, "the two workers to share the leases", interval=1)


def checkpoint_mismatches(kinesin, app, workers):
    """The shards whose lease does not hold the last checkpoint a worker logged for it."""
    logged = {}
    for event in sorted((e for w in workers for e in w.events()), key=lambda e: e["t"]):
        if event["ev"] == "ckpt":
            logged[event["shard"]] = event["seq"]
        elif event["ev"] == "shard_end":
            logged[event["shard"]] = "SHARD_END"
    dynamodb = kinesin.client("dynamodb")
    leases = {}
    for page in dynamodb.get_paginator("scan").paginate(TableName=app):
        for item in page["Items"]:
            if item["leaseKey"]["S"].startswith("shardId-"):
                leases[item["leaseKey"]["S"]] = item.get("checkpoint", {}).get("S")
    return {shard: (leases.get(shard), checkpoint) for shard, checkpoint in logged.items()
            if leases.get(shard) != checkpoint}


def wait_checkpoints_in_lease_table(kinesin, app, workers):
    """Each lease holds the last checkpoint logged for its shard (a worker logs a checkpoint
    just after the KCL wrote it, so the two can differ for a moment)."""
    try:
        wait_until(lambda: not checkpoint_mismatches(kinesin, app, workers), 30, "checkpoints")
    except AssertionError:
        raise AssertionError(f"lease table vs logged checkpoints: "
                             f"{checkpoint_mismatches(kinesin, app, workers)}") from None


def wait_for_metrics(kinesin, app):
    """The KCL's PutMetricData reached kinesin's CloudWatch (it flushes every 10 s)."""
    cloudwatch = kinesin.client("cloudwatch")
    metrics = wait_until(
        lambda: cloudwatch.list_metrics(Namespace=app)["Metrics"], 60, f"metrics in {app}")
    return sorted({m["MetricName"] for m in metrics})


@pytest.mark.parametrize("kcl,retrieval", [
    ("kcl2", "polling"), ("kcl3", "polling"), ("kcl3", "fanout"),
])
def test_one_worker_consumes_every_record(kinesin, workdir, workers, kcl, retrieval):
    require_java_project(kcl)
    kinesis = kinesin.client("kinesis")
    create_stream(kinesis, "orders", 4)
    before = keyed_records("A", keys=20, per_key=20)
    put(kinesis, "orders", before)

    started = time.monotonic()
    worker = consumer(workdir, kinesin, kcl, "w1", "orders", "one-worker", retrieval)
    workers.append(worker)
    wait_until(lambda: len(live_leases(worker)) == 4, 180, "the worker to hold all 4 leases")
    leases_after = time.monotonic() - started
    after = keyed_records("B", keys=20, per_key=20)
    put(kinesis, "orders", after)
    expected = {data for _, data in before + after}
    wait_processed([worker], expected, 120)
    all_after = time.monotonic() - started

    counts = Counter(e["data"] for e in processed([worker]))
    assert set(counts) == expected and max(counts.values()) == 1, "each record exactly once"
    wait_checkpoints_in_lease_table(kinesin, "one-worker", [worker])
    metric_names = wait_for_metrics(kinesin, "one-worker")
    start = next(e for e in worker.events() if e["ev"] == "start")
    print(f"\nINTEROP {kcl} {start['kcl']} {retrieval}: 4 leases after {leases_after:.1f} s, "
          f"{len(expected)} records after {all_after:.1f} s; metrics: {', '.join(metric_names[:8])}")
    worker.stop()


@pytest.mark.parametrize("kcl", KCL_LINES)
def test_fail_over_after_kill_9(kinesin, workdir, workers, kcl):
    require_java_project(kcl)
    kinesis = kinesin.client("kinesis")
    create_stream(kinesis, "orders", 4)
    first = keyed_records("A", keys=20, per_key=10)
    put(kinesis, "orders", first)
    # Checkpoints at most every 3 s: the victim dies with records processed after its last one.
    leader, other = start_pair(workdir, kinesin, kcl, "fail-over", workers,
                               checkpoint_interval_ms=3000)
    wait_shared(leader, other, 4)
    # KCL 3.x: the first worker holds the leader lock (a 120 s lease) and runs lease assignment;
    # killing it adds those 120 s to the fail-over (measured in docs/interop.md), so the other
    # worker dies here. KCL 2.x has no such lock: the first worker dies.
    victim, survivor = (other, leader) if kcl == "kcl3" else (leader, other)
    wait_processed(workers, {data for _, data in first}, 120)

    # Records in flight when the victim dies: some are processed but not yet checkpointed.
    second = keyed_records("B", keys=20, per_key=10)
    put(kinesis, "orders", second)
    victim_shards = live_leases(victim)
    killed_at = time.time()
    victim.kill9()
    third = keyed_records("C", keys=20, per_key=10)
    put(kinesis, "orders", third)
    expected = {data for _, data in first + second + third}
    wait_processed([victim, survivor], expected, 180)

    taken_after = {}
    for shard in victim_shards:
        init = next(e for e in survivor.events() if e["ev"] == "init" and e["shard"] == shard
                    and e["t"] / 1e6 > killed_at)
        taken_after[shard] = init["t"] / 1e6 - killed_at

    checkpoints = [e for w in (victim, survivor) for e in w.events() if e["ev"] == "ckpt"]
    seen = defaultdict(list)
    for event in processed([victim, survivor]):
        seen[event["data"]].append(event)
    duplicates = [events for events in seen.values() if len(events) > 1]
    for first_time, again in (events[:2] for events in duplicates):
        # The second processing must start from a checkpoint the first processor made before
        # the record: after a kill -9, or after the lease moved when the second worker joined.
        before = [sequence_key(c) for c in checkpoints if c["worker"] == first_time["worker"]
                  and c["shard"] == first_time["shard"] and c["t"] < again["t"]]
        assert sequence_key(first_time) > max(before, default=(-1, -1)), (
            f"processed again though checkpointed: {first_time}, {again}")
    print(f"\nINTEROP {kcl} fail-over: the survivor ({survivor.name}) took {len(victim_shards)} leases "
          f"{max(taken_after.values()):.1f} s after kill -9 (failoverTimeMillis 5000; per shard "
          + ", ".join(f"{s[-3:]}: {t:.1f} s" for s, t in sorted(taken_after.items()))
          + f"); {len(expected)} records, {len(duplicates)} processed twice, each after the "
          "first processor's last checkpoint")


@pytest.mark.parametrize("kcl", KCL_LINES)
def test_split_and_merge_while_consuming(kinesin, workdir, workers, kcl):
    require_java_project(kcl)
    kinesis = kinesin.client("kinesis")
    create_stream(kinesis, "orders", 2)
    pair = start_pair(workdir, kinesin, kcl, "reshard", workers)
    records = []
    for batch, shards in (("A", 4), ("B", 2), ("C", None)):
        batch_records = keyed_records(batch, keys=20, per_key=10)
        put(kinesis, "orders", batch_records)
        records += batch_records
        wait_processed(pair, {data for _, data in records}, 180)
        if shards:
            # 2 -> 4 splits both shards; 4 -> 2 merges the children pairwise.
            kinesis.update_shard_count(StreamName="orders", TargetShardCount=shards,
                                       ScalingType="UNIFORM_SCALING")
            wait_active(kinesis, "orders")

    shards = kinesis.list_shards(StreamName="orders")["Shards"]
    events = sorted((e for w in pair for e in w.events()), key=lambda e: e["t"])
    ended = {e["shard"]: e["t"] for e in events if e["ev"] == "shard_end"}
    first_init = {}
    for event in events:
        if event["ev"] == "init":
            first_init.setdefault(event["shard"], event["t"])
    parents_of = {s["ShardId"]: [p for p in (s.get("ParentShardId"), s.get("AdjacentParentShardId"))
                                 if p] for s in shards}
    children = 0
    for shard, parents in parents_of.items():
        if not parents or shard not in first_init:
            continue
        children += 1
        for parent in parents:
            assert parent in ended, f"{parent} never reached its shard end"
            assert ended[parent] < first_init[shard], f"{shard} started before {parent} ended"
    closed = [s for s in shards if "EndingSequenceNumber" in s["SequenceNumberRange"]]
    assert set(ended) == {s["ShardId"] for s in closed}

    order = defaultdict(list)
    for event in processed(pair):
        key, batch, n = event["data"].split(":")
        place = (batch, int(n))
        if place not in order[key]:
            order[key].append(place)
    for key, places in order.items():
        assert places == sorted(places), f"{key} out of order across parent and child shards"
    print(f"\nINTEROP {kcl} resharding 2 -> 4 -> 2: {len(closed)} parents ended before "
          f"{children} children started; order per key held for {len(order)} keys")
