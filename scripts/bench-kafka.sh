#!/usr/bin/env bash
# Measures what publishing to Kafka costs `apitap read` and how fast it publishes: a simulated
# capture is read by the release build four ways:
#   none   no Kafka;
#   notx   Kafka with the broker up, the default streams only (anomalies, inventory changes,
#          health; no transaction records);
#   up     the broker up and every transaction record published too
#          (`publish_transactions = true`); the topic is read back by the independent client
#          to confirm the delivered count;
#   down   as up, but the broker's address refuses connections: everything ends in the spool
#          (message_timeout_ms = 1000, so the publisher reaches an outage's steady state, every
#          message written to the spool, after one second rather than after two minutes).
# The broker is tansu on loopback with its in-memory store (BENCH_STORE=sqlite: its SQLite
# store), on the same machine, so it competes with apitap for the CPU.
# For each: processing time (start to the last transaction record written, so the flush at
# the end is not counted), packets/s and transactions/s over it, wall time (with the flush,
# at most 30 s), CPU time of the whole process (all threads), Kafka messages published,
# delivered and spooled, delivered messages per second of wall time, and peak memory (GNU
# time's maximum RSS).
#   scripts/bench-kafka.sh [SCENARIO]      (default fixtures/scenarios/behaviour.yaml)
# Needs the broker tools (scripts/install-kafka-tools.sh builds them once) and GNU time.
# CARGO_TARGET_DIR is honoured.
set -euo pipefail
cd "$(dirname "$0")/.."
scenario=${1:-fixtures/scenarios/behaviour.yaml}
store=${BENCH_STORE:-memory}
work=$(mktemp -d)
broker_pid=
cleanup() {
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cargo build --release --locked -q
bin=${CARGO_TARGET_DIR:-target}/release/apitap
eval "$(scripts/install-kafka-tools.sh)"

"$bin" simulate --scenario "$scenario" --out "$work/sim" >/dev/null 2>&1
capture="$work/sim/capture.pcap"
echo "scenario $scenario: $(($(stat -c %s "$capture") / 1000000)) MB of capture"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start_broker() {
  mkdir -p "$work/broker"
  local engine=memory://tansu/
  [ "$store" = sqlite ] && engine=sqlite://broker.db
  (cd "$work/broker" && exec "$APITAP_TANSU" broker --listener-url "tcp://127.0.0.1:$port" \
    --advertised-listener-url "tcp://127.0.0.1:$port" --storage-engine "$engine" >>broker.log 2>&1) &
  broker_pid=$!
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "error: the broker did not start: $(cat "$work/broker/broker.log")" >&2
  exit 1
}

# One read of the capture: MODE, then extra arguments for apitap. Leaves $work/MODE/ with the
# output, GNU time's report and the start time.
run() {
  local mode=$1
  shift
  mkdir -p "$work/$mode"
  sync
  date +%s.%N > "$work/$mode/start"
  /usr/bin/time -v "$bin" read "$capture" --out "$work/$mode/out" --no-progress "$@" 2> "$work/$mode/stderr"
  date +%s.%N > "$work/$mode/end"
}

config() {
  local mode=$1
  shift
  {
    echo "[kafka]"
    for line in "$@"; do echo "$line"; done
    echo "[kafka.spool]"
    echo "dir = \"$work/$mode/spool\""
  } > "$work/$mode.toml"
}

run none

start_broker
for t in apitap.anomalies apitap.inventory apitap.health apitap.transactions; do
  "$APITAP_TANSU" topic create "$t" --partitions 3 --broker "tcp://127.0.0.1:$port" >/dev/null
done
config notx
run notx --config "$work/notx.toml" --kafka-brokers "127.0.0.1:$port"
config up "publish_transactions = true"
run up --config "$work/up.toml" --kafka-brokers "127.0.0.1:$port"
tx=$(python3 -c "import json; print(json.load(open('$work/up/out/summary.json'))['transactions'])")
"$APITAP_KAFKA_PYTHON" tests/kafka/read_topics.py --brokers "127.0.0.1:$port" --topics apitap.transactions \
  --out "$work/up/read.jsonl" --expect-at-least "$tx" --idle-seconds 3 --timeout-seconds 300 2>/dev/null
read_back=$(wc -l < "$work/up/read.jsonl")

kill "$broker_pid"
wait "$broker_pid" 2>/dev/null || true
broker_pid=
config down "publish_transactions = true" "message_timeout_ms = 1000"
run down --config "$work/down.toml" --kafka-brokers "127.0.0.1:$port"

python3 - "$work" "$read_back" <<'PY'
import json, os, re, sys

work, read_back = sys.argv[1], int(sys.argv[2])
print(f"{'mode':<5} {'process s':>9} {'packets/s':>10} {'tx/s':>8} {'wall s':>7} {'CPU s':>6} {'published':>9} "
      f"{'delivered':>9} {'deliv/s':>8} {'spooled':>8} {'in spool':>8} {'RSS MiB':>7}")
for mode in ("none", "notx", "up", "down"):
    d = os.path.join(work, mode)
    start = float(open(os.path.join(d, "start")).read())
    end = float(open(os.path.join(d, "end")).read())
    # The records file is written to the end before the publisher's final flush starts.
    done = os.stat(os.path.join(d, "out", "transactions.jsonl")).st_mtime_ns / 1e9
    summary = json.load(open(os.path.join(d, "out", "summary.json")))
    err = open(os.path.join(d, "stderr")).read()
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", err).group(1)) / 1024
    cpu = sum(float(re.search(rf"{w} time \(seconds\): ([0-9.]+)", err).group(1)) for w in ("User", "System"))
    packets = summary["stages"]["input"]["packets"]
    tx = summary["transactions"]
    proc, wall = done - start, end - start
    k = summary.get("kafka")
    if k:
        s = k["stats"]
        kafka = f"{s['published']:>9} {k['delivered']:>9} {k['delivered'] / wall:>8.0f} {s['spooled']:>8} {k['left_in_spool']:>8}"
    else:
        kafka = f"{'-':>9} {'-':>9} {'-':>8} {'-':>8} {'-':>8}"
    print(f"{mode:<5} {proc:>9.2f} {packets / proc:>10.0f} {tx / proc:>8.0f} {wall:>7.2f} {cpu:>6.2f} {kafka} {rss:>7.1f}")
    if mode == "up":
        print(f"      read back by the independent client: {read_back} transaction messages of {tx} transactions")
PY
