#!/usr/bin/env bash
# Offline throughput of `apitap read`, stage by stage, against tshark on the same capture.
#
#   scripts/bench.sh [CAPTURE]
#
# Without CAPTURE, the traffic simulator writes the benchmark's API mix
# (fixtures/scenarios/bench.yaml: about 2.2 GB, 5.1 million packets, 770,000 requests) to
# target/bench/api-mix.pcap once and reuses it.
#
# Each stage is a separate run of the release build, timed by GNU time (wall, user and system
# CPU, peak resident memory from the OS). Every run includes the stages above it:
#   capture    reading the file and its records (read --stop-after capture)
#   decode     + link, tunnel and IP decode, defragmentation
#   tcp        + flow table and TCP reassembly
#   http       + content detection and HTTP parsing (records made, then dropped)
#   records    + transaction records written as JSON lines (--out, --no-inventory)
#   inventory  + endpoint inventory: templates, spec matching, body shapes, sensitive data
#   full-1     + identities and the behavioural detectors, on one thread
#   full       `apitap read CAPTURE --out DIR` as shipped: the same on worker threads, one per
#              core (docs/ARCHITECTURE.md, "Workers")
# The stages run with --workers 1, so that each run minus the one before is that stage's cost.
# Then `tshark -r CAPTURE -Y http -T fields ...` (TSHARK=0 skips it: it takes minutes).
# Needs GNU time, python3 and tshark (scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/rust-env.sh
target=${CARGO_TARGET_DIR:-target}
cargo build --release --locked -q
apitap="$target/release/apitap"
capture=${1:-}
if [ -z "$capture" ]; then
  capture="$target/bench/api-mix.pcap"
  if [ ! -s "$capture" ]; then
    mkdir -p "$target/bench"
    "$apitap" simulate --scenario fixtures/scenarios/bench.yaml --out "$target/bench/sim" >&2
    mv "$target/bench/sim/capture.pcap" "$capture"
  fi
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
timed() { # NAME COMMAND...: runs it, GNU time's figures into $work/NAME.time
  local name=$1
  shift
  /usr/bin/time -o "$work/$name.time" -f "%e %U %S %M" "$@" > /dev/null 2> "$work/$name.err" || {
    echo "$name failed:" >&2
    tail -n 5 "$work/$name.err" >&2
    exit 1
  }
}
for stage in capture decode tcp http; do
  echo "stage $stage" >&2
  timed "$stage" "$apitap" read "$capture" --no-progress --workers 1 --stop-after "$stage"
done
echo "stage records" >&2
timed records "$apitap" read "$capture" --no-progress --workers 1 --out "$work/records" --no-inventory
echo "stage inventory" >&2
timed inventory "$apitap" read "$capture" --no-progress --workers 1 --out "$work/inventory" --no-detect
echo "stage full-1" >&2
timed full-1 "$apitap" read "$capture" --no-progress --workers 1 --out "$work/full-1"
echo "stage full" >&2
timed full "$apitap" read "$capture" --no-progress --out "$work/full"
if [ "${TSHARK:-1}" != 0 ]; then
  echo "tshark" >&2
  # TSHARK_FILTER (default http) and TSHARK_DECODE (a tshark -d rule) serve other mixes, e.g.
  # HTTP/2 in the clear on a port tshark does not take for HTTP/2 (scripts/make-h2-mix.sh).
  decode=()
  if [ -n "${TSHARK_DECODE:-}" ]; then decode=(-d "$TSHARK_DECODE"); fi
  /usr/bin/time -o "$work/tshark.time" -f "%e %U %S %M" tshark -n -r "$capture" "${decode[@]}" -Y "${TSHARK_FILTER:-http}" -T fields \
    -e frame.time_epoch -e ip.src -e ip.dst -e http.request.method -e http.request.uri -e http.response.code \
    -e http2.headers.method -e http2.headers.path -e http2.headers.status \
    > "$work/tshark.out" 2> "$work/tshark.err"
fi
python3 - "$work" "$capture" <<'PY'
import json, os, sys
work, capture = sys.argv[1], sys.argv[2]
summary = json.load(open(os.path.join(work, "full", "summary.json")))
packets = summary["stages"]["input"]["packets"]
size = summary["stages"]["input"]["bytes"]
tx = summary["stages"]["app"]["transactions"]
def figures(name):
    wall, user, sys_, rss = open(os.path.join(work, name + ".time")).read().split()[-4:]
    return float(wall), float(user) + float(sys_), int(rss)
print(f"capture: {capture}: {os.path.getsize(capture) / 1e9:.2f} GB, {packets:,} packets "
      f"({size * 8 / 1e9:.1f} Gbit of frames), {tx:,} transactions")
print()
print("| Run | Wall s | CPU s | Packets/s | Packets per CPU-s | Gbit/s | Transactions/s | Peak RSS MiB |")
print("|---|---|---|---|---|---|---|---|")
rows = ["capture", "decode", "tcp", "http", "records", "inventory", "full-1", "full"]
if os.path.exists(os.path.join(work, "tshark.time")):
    rows.append("tshark")
fig = {}
for name in rows:
    wall, cpu, rss = figures(name)
    fig[name] = (wall, cpu, rss)
    print(f"| {name} | {wall:.2f} | {cpu:.2f} | {packets / wall / 1e6:.2f} M | {packets / cpu / 1e6:.2f} M "
          f"| {size * 8 / wall / 1e9:.2f} | {tx / wall / 1e3:.0f} k | {rss / 1024:.1f} |")
print()
prev = 0.0
parts = []
for name in rows[:7]:  # the one-thread runs
    cpu = fig[name][1]
    parts.append(f"{name} {max(cpu - prev, 0):.2f} s")
    prev = cpu
print("CPU by stage (each run minus the one before): " + ", ".join(parts))
if "tshark" in fig:
    lines = sum(1 for _ in open(os.path.join(work, "tshark.out")))
    print(f"tshark printed {lines:,} HTTP messages (requests and responses)")
    print(f"apitap full vs tshark: {fig['tshark'][0] / fig['full'][0]:.1f}x faster in wall time, "
          f"{fig['tshark'][1] / fig['full'][1]:.1f}x per CPU-second, "
          f"{fig['tshark'][2] / max(fig['full'][2], 1):.1f}x less peak memory")
PY
