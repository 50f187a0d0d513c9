#!/usr/bin/env bash
# Benchmarks kinesin against its peers in one run: installs kinesalite and kinesis-local (npm)
# and ferrokinesis (crates.io) into a cache directory, builds kinesin, and runs `kinesin bench`
# with every peer started on 127.0.0.1 — ferrokinesis twice, in memory and with --state-dir
# (its durable mode) — next to kinesin (--durability fsync) and the built-in baseline. Targets
# are alternated within each round; the table's ratio column is kinesin ÷ target.
#
#   scripts/bench-peers.sh                      # every workload, default sizes (about 30 min)
#   scripts/bench-peers.sh --rounds 1 --seconds 2 --drain-records 100000   # a quick look
#   scripts/bench-peers.sh --json-file bench.json   # any `kinesin bench` flag is passed on
#   PEERS="kinesalite ferrokinesis" scripts/bench-peers.sh  # some of the peers
#   PEERS=ferrokinesis scripts/bench-peers.sh --workloads put-records --shards 4,500,5000  # the shard curve
#
# Needs: a Rust toolchain, node and npm. Cache: $KINESIN_PEERS_DIR (default target/bench-peers).
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${KINESIN_PEERS_DIR:-target/bench-peers}
KINESALITE_VERSION=3.3.3
KINESIS_LOCAL_VERSION=0.6.2
FERROKINESIS_VERSION=0.7.0

mkdir -p "$CACHE/npm"
CACHE=$(cd "$CACHE" && pwd)
NPM="$CACHE/npm/node_modules"

if [[ ! -f "$NPM/kinesalite/package.json" || ! -f "$NPM/kinesis-local/package.json" ]]; then
    echo "installing kinesalite@$KINESALITE_VERSION and kinesis-local@$KINESIS_LOCAL_VERSION into $CACHE/npm" >&2
    npm install --prefix "$CACHE/npm" --no-audit --no-fund --loglevel=error \
        "kinesalite@$KINESALITE_VERSION" "kinesis-local@$KINESIS_LOCAL_VERSION" >&2
fi
if [[ ! -x "$CACHE/bin/ferrokinesis" ]]; then
    echo "installing ferrokinesis $FERROKINESIS_VERSION into $CACHE (a few minutes)" >&2
    cargo install --quiet --locked --root "$CACHE" ferrokinesis --version "$FERROKINESIS_VERSION" >&2
fi
cargo build --release --quiet

for tool in node; do
    command -v "$tool" >/dev/null || { echo "$tool is needed for the npm peers" >&2; exit 1; }
done

# Shard limits are far above what a run creates (`--shards 4,500,5000` makes a 5,000-shard
# stream per workload): the bench measures speed, not the account limit.
# Each --peer is NAME=COMMAND; the harness substitutes {port} (and {port2}, a second free port)
# and {dir} (a fresh data directory), runs it with `sh -c exec …`, and kills it at the end.
# PEERS picks some of them, e.g. PEERS="kinesalite ferrokinesis" (kinesis-local is slow to fill
# a large stream: give it a small --drain-records).
declare -A COMMANDS=(
    [kinesalite]="node $NPM/kinesalite/cli.js --port {port} --createStreamMs 0 --deleteStreamMs 0 --updateStreamMs 0 --shardLimit 100000"
    [kinesis-local]="env KINESIS_MOCK_PLAIN_PORT={port} KINESIS_MOCK_TLS_PORT={port2} KINESIS_MOCK_CERT_PATH=$NPM/kinesis-local/server.json CREATE_STREAM_DURATION=0ms DELETE_STREAM_DURATION=0ms REGISTER_STREAM_CONSUMER_DURATION=0ms SHARD_LIMIT=100000 LOG_LEVEL=WARN node $NPM/kinesis-local/main.js"
    [ferrokinesis]="$CACHE/bin/ferrokinesis --port {port} --create-stream-ms 0 --delete-stream-ms 0 --update-stream-ms 0 --shard-limit 100000 --log-level warn"
    [ferrokinesis-durable]="$CACHE/bin/ferrokinesis --port {port} --create-stream-ms 0 --delete-stream-ms 0 --update-stream-ms 0 --shard-limit 100000 --log-level warn --state-dir {dir}"
)
ARGS=()
for peer in ${PEERS:-kinesalite kinesis-local ferrokinesis ferrokinesis-durable}; do
    [[ -n "${COMMANDS[$peer]:-}" ]] || { echo "unknown peer '$peer' (known: ${!COMMANDS[*]})" >&2; exit 1; }
    ARGS+=(--peer "$peer=${COMMANDS[$peer]}")
done
echo "+ target/release/kinesin bench ${ARGS[*]} $*" >&2
exec target/release/kinesin bench "${ARGS[@]}" "$@"
