#!/usr/bin/env python3
"""Start-up and control plane at scale (issue 20): creates streams totalling N shards, puts
one record to every shard, then times restarts (clean stop and kill -9), counts descriptors
and RSS, and times the control-plane calls. Needs a built `kinesin` (release for figures).

    python3 scripts/measure-scale.py --bin target/release/kinesin --shards 10000 --streams 10
    python3 scripts/measure-scale.py --no-restarts --shards 10000 --streams 1 --big-streams 5
"""

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

TARGET = "Kinesis_20131202."


def auth_headers():
    """A signature-shaped header: without --credentials kinesin checks only its presence."""
    now = time.gmtime()
    amz, date = time.strftime("%Y%m%dT%H%M%SZ", now), time.strftime("%Y%m%d", now)
    return {
        "X-Amz-Date": amz,
        "Authorization": f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{date}/us-east-1/kinesis/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=" + "0" * 64,
    }


def call(port, op, body):
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/",
        data=json.dumps(body).encode(),
        headers=auth_headers() | {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET + op},
    )
    try:
        with urllib.request.urlopen(req, timeout=600) as resp:
            return json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        raise SystemExit(f"{op}: {e.code} {e.read().decode()}")


def timed(port, op, body):
    start = time.perf_counter()
    out = call(port, op, body)
    return out, (time.perf_counter() - start) * 1000


class Server:
    def __init__(self, binary, data_dir, limit):
        self.binary, self.data_dir, self.limit, self.proc = binary, data_dir, limit, None

    def start(self):
        def preexec():
            if self.limit:
                resource.setrlimit(resource.RLIMIT_NOFILE, (self.limit, self.limit))

        began = time.perf_counter()
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--port", "0", "--data-dir", self.data_dir, "--shard-limit", "1000000",
             "--create-stream-ms", "0", "--update-stream-ms", "0", "--delete-stream-ms", "0"],
            stdout=subprocess.PIPE, stderr=open(os.path.join(os.path.dirname(self.data_dir), "stderr.log"), "a"),
            text=True, preexec_fn=preexec,
        )
        for line in self.proc.stdout:
            if line.startswith("kinesin listening on"):
                self.port = int(line.rsplit(":", 1)[1])
                return (time.perf_counter() - began) * 1000
        raise SystemExit("kinesin did not start; see stderr.log")

    def usage(self):
        fds = len(os.listdir(f"/proc/{self.proc.pid}/fd"))
        with open(f"/proc/{self.proc.pid}/status") as f:
            rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) // 1024
        return fds, rss

    def stop(self, sig):
        self.proc.send_signal(sig)
        self.proc.wait()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", default="target/release/kinesin")
    p.add_argument("--shards", type=int, default=10000)
    p.add_argument("--streams", type=int, default=10)
    p.add_argument("--limit", type=int, default=0,
                   help="RLIMIT_NOFILE of the server (0: inherit); --max-open-files is sized from it")
    p.add_argument("--list-streams", type=int, default=2000, help="extra 1-shard streams for ListStreams")
    p.add_argument("--big-stream", type=int, default=10000, help="shards of the last CreateStream timed")
    p.add_argument("--big-streams", type=int, default=1, help="how many such streams (the median is printed)")
    p.add_argument("--no-restarts", action="store_true",
                   help="only the control plane: no puts, restarts, descriptor or RSS counts")
    args = p.parse_args()
    root = tempfile.mkdtemp(prefix="kinesin-scale-")
    server = Server(os.path.abspath(args.bin), os.path.join(root, "data"), args.limit)
    try:
        print(f"first start: {server.start():.0f} ms")
        per = args.shards // args.streams
        create_ms = []
        for s in range(args.streams):
            _, ms = timed(server.port, "CreateStream", {"StreamName": f"s{s}", "ShardCount": per})
            create_ms.append(ms)
        print(f"CreateStream of {per} shards: median {sorted(create_ms)[len(create_ms) // 2]:.0f} ms, max {max(create_ms):.0f} ms")
        if not args.no_restarts:
            puts_and_restarts(server, args, per)
        list_and_describe(server, args, per)
        server.stop(signal.SIGTERM)
    finally:
        if server.proc and server.proc.poll() is None:
            server.proc.kill()
        shutil.rmtree(root, ignore_errors=True)


def puts_and_restarts(server, args, per):
    step = (1 << 128) // per
    began = time.perf_counter()
    for s in range(args.streams):
        for first in range(0, per, 500):
            records = [{"Data": "eA==", "PartitionKey": "k", "ExplicitHashKey": str(i * step)}
                       for i in range(first, min(first + 500, per))]
            out = call(server.port, "PutRecords", {"StreamName": f"s{s}", "Records": records})
            assert out.get("FailedRecordCount", 0) == 0, out
    print(f"one record to each of {per * args.streams} shards: {(time.perf_counter() - began):.1f} s")
    fds, rss = server.usage()
    print(f"after the puts: {fds} descriptors, RSS {rss} MB")
    server.stop(signal.SIGTERM)
    print(f"restart after a clean stop: {server.start():.0f} ms")
    time.sleep(2)
    fds, rss = server.usage()
    print(f"idle after the restart: {fds} descriptors, RSS {rss} MB")
    server.stop(signal.SIGKILL)
    print(f"restart after kill -9: {server.start():.0f} ms")
    fds, rss = server.usage()
    print(f"after the kill -9 restart: {fds} descriptors, RSS {rss} MB")


def list_and_describe(server, args, per):
    _, ms = timed(server.port, "ListShards", {"StreamName": "s0", "MaxResults": 1000})
    pages, token, total_ms = 0, None, 0.0
    while True:
        body = {"NextToken": token} if token else {"StreamName": "s0", "MaxResults": 1000}
        out, page_ms = timed(server.port, "ListShards", body)
        pages, total_ms = pages + 1, total_ms + page_ms
        token = out.get("NextToken")
        if not token:
            break
    print(f"ListShards of {per} shards: first page (1,000) {ms:.1f} ms, all {pages} pages {total_ms:.0f} ms")
    _, ms = timed(server.port, "DescribeStream", {"StreamName": "s0"})
    last = f"shardId-{per - 101:012d}"
    _, ms_last = timed(server.port, "DescribeStream", {"StreamName": "s0", "ExclusiveStartShardId": last})
    print(f"DescribeStream (100 shards): first page {ms:.1f} ms, last page {ms_last:.1f} ms")
    for s in range(args.list_streams):
        call(server.port, "CreateStream", {"StreamName": f"x{s}", "ShardCount": 1})
    n, token, pages, total_ms = 0, None, 0, 0.0
    while True:
        body = {"NextToken": token} if token else {"Limit": 1000}
        out, page_ms = timed(server.port, "ListStreams", body)
        n, pages, total_ms = n + len(out["StreamNames"]), pages + 1, total_ms + page_ms
        token = out.get("NextToken") if out.get("HasMoreStreams") else None
        if not token:
            break
    print(f"ListStreams of {n} streams: {pages} pages, {total_ms:.0f} ms, {total_ms / pages:.1f} ms a page")
    big_ms = sorted(timed(server.port, "CreateStream", {"StreamName": f"big{b}", "ShardCount": args.big_stream})[1]
                    for b in range(args.big_streams))
    print(f"CreateStream of {args.big_stream} shards: median {big_ms[len(big_ms) // 2]:.0f} ms "
          f"(of {len(big_ms)}: {', '.join(f'{ms:.0f}' for ms in big_ms)})")


if __name__ == "__main__":
    main()
