"""The real KPL (Java wrapper and native daemon) puts aggregated records through kinesin's TLS
port, and the KCL test application de-aggregates every one of them (docs/interop.md)."""

import re

from conftest import require_java_project
from harness import Worker, consumer, java, create_stream, processed, wait_processed

COUNT = 3000


def test_kpl_aggregates_and_the_kcl_deaggregates_every_record(kinesin_tls, workdir, workers):
    require_java_project("kpl")
    require_java_project("kcl3")
    kinesis = kinesin_tls.client("kinesis")
    create_stream(kinesis, "clicks", 4)

    producer = Worker(workdir, "kpl", java("kpl", "kinesin.interop.ProducerApp", [
        "--host", "127.0.0.1", "--port", str(kinesin_tls.tls_port), "--stream", "clicks",
        "--count", str(COUNT), "--keys", "64", "--prefix", "kpl",
    ]))
    workers.append(producer)
    assert producer.process.wait(timeout=180) == 0, f"the KPL failed: see {producer.output_path}"
    summary = re.search(r"KPL put (\d+) user records in (\d+) Kinesis records, 0 failed",
                        producer.output())
    assert summary, f"no summary line in {producer.output_path}"
    user_records, kinesis_records = int(summary.group(1)), int(summary.group(2))
    assert user_records == COUNT
    assert kinesis_records < COUNT / 10, "the KPL should have aggregated"

    worker = consumer(workdir, kinesin_tls, "kcl3", "w1", "clicks", "kpl-reader")
    workers.append(worker)
    expected = {f"kpl:{i:06d}" for i in range(COUNT)}
    wait_processed([worker], expected, 180)
    records = processed([worker])
    aggregated = [e for e in records if e["aggregated"]]
    assert len(aggregated) >= COUNT - kinesis_records, "sub-records carry the aggregated flag"
    assert any(e["sub"] > 0 for e in records), "sub-records carry their sub-sequence numbers"
    print(f"\nINTEROP KPL 0.15.12 -> TLS -> KCL: {user_records} user records in "
          f"{kinesis_records} aggregated Kinesis records, all de-aggregated by the KCL")
    worker.stop()
