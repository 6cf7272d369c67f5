#!/usr/bin/env bash
# Live capture throughput: tcpreplay sends the first PACKETS packets of a capture at rising
# rates into one end of a veth pair; `apitap capture` listens on the other end, inside a
# network namespace, as shipped (every stage on, 64 MiB ring). Each is pinned to its own core
# (taskset). For each rate: what tcpreplay achieved, what apitap saw, every kind of loss
# (kernel and interface drops, packets missing, TCP gaps, evicted flows) and the CPU seconds
# apitap used. The highest rate without any loss is the result.
#
#   scripts/bench-live.sh [CAPTURE] [PACKETS] [RATES_MBPS...]
#
# Defaults: the benchmark's API mix (scripts/bench.sh makes it), 1,000,000 packets, rates
# 250 500 750 1000 1500 2000 Mbit/s and `top` (as fast as tcpreplay can). The packets are
# preloaded into memory; the rate reported is the one tcpreplay achieved. WORKERS (default 1)
# is apitap's `--workers`: apitap has one core here, where worker threads only add hand-overs;
# on a machine with cores to spare, pin apitap to several (APITAP_CORES, default 1) and raise
# it. Needs root, iproute2, tcpreplay, taskset and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/rust-env.sh
target=${CARGO_TARGET_DIR:-target}
cargo build --release --locked -q
apitap="$PWD/$target/release/apitap"
[ -x "$apitap" ] || apitap="$target/release/apitap"
capture=${1:-$target/bench/api-mix.pcap}
packets=${2:-1000000}
shift $(( $# > 2 ? 2 : $# )) || true
rates=("$@")
[ ${#rates[@]} -gt 0 ] || rates=(250 500 750 1000 1500 2000 top)
[ -s "$capture" ] || { echo "no capture at $capture: run scripts/bench.sh first, or give one" >&2; exit 2; }
ns=apitap-bench-$$
work=$(mktemp -d)
cleanup() {
  ip netns del "$ns" 2>/dev/null || true
  ip link del "bl$$" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns"
ip link add "bl$$" type veth peer name bench1 netns "$ns"
ip link set "bl$$" up mtu 9000
ip netns exec "$ns" ip link set bench1 up mtu 9000
ip netns exec "$ns" ip link set lo up
sysctl -q -w "net.ipv6.conf.bl$$.disable_ipv6=1" || true
ip netns exec "$ns" sysctl -q -w net.ipv6.conf.bench1.disable_ipv6=1 || true

echo "| Rate asked (Mbit/s) | Sent by tcpreplay (Mbit/s, packets/s) | Packets seen | Kernel/interface drops | Missing | TCP gaps | Evicted | apitap CPU s (of wall s) |"
echo "|---|---|---|---|---|---|---|---|"
best=0
for rate in "${rates[@]}"; do
  out="$work/out-$rate"
  : > "$work/err-$rate"
  ip netns exec "$ns" taskset -c "${APITAP_CORES:-1}" "$apitap" capture -i bench1 --workers "${WORKERS:-1}" --out "$out" 2> "$work/err-$rate" &
  pid=$!
  for _ in $(seq 100); do grep -q "capturing on" "$work/err-$rate" && break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null || { echo "apitap capture did not start:" >&2; cat "$work/err-$rate" >&2; exit 1; }
  start=$(date +%s.%N)
  if [ "$rate" = top ]; then speed=--topspeed; else speed=--mbps=$rate; fi
  taskset -c 0 tcpreplay -i "bl$$" "$speed" --preload-pcap --limit="$packets" "$capture" > "$work/replay-$rate" 2>&1
  sleep 2
  # apitap's own CPU (user + system ticks), read before it exits.
  ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  hz=$(getconf CLK_TCK)
  kill -INT "$pid"
  wait "$pid" || true
  wall=$(python3 -c "import time; print(f'{time.time() - $start:.1f}')")
  python3 - "$out/summary.json" "$work/replay-$rate" "$rate" "$packets" "$ticks" "$hz" "$wall" >> "$work/rows" <<'PY'
import json, re, sys
summary, replay, rate, sent, ticks, hz, wall = sys.argv[1:8]
s = json.load(open(summary))["stages"]
text = open(replay).read()
actual = re.search(r"Rated: [\d.]+ Bps, ([\d.]+) Mbps, ([\d.]+) pps", text)
ok_pkts = re.search(r"Successful packets:\s+(\d+)", text)
sent = int(ok_pkts.group(1)) if ok_pkts else int(sent)
seen = s["input"]["packets"]
drops = s["capture"].get("kernel_dropped", 0) + s["capture"].get("interface_dropped", 0)
missing = max(sent - seen, 0)
gaps = s["tcp"]["gaps"]
evicted = s["tcp"]["evicted"]
cpu = int(ticks) / int(hz)
clean = drops == 0 and missing == 0 and gaps == 0 and evicted == 0
mbps, pps = (actual.group(1), actual.group(2)) if actual else ("?", "?")
print(f"| {rate} | {mbps}, {float(pps):,.0f} | {seen:,} | {drops} | {missing} | {gaps} | {evicted} | {cpu:.2f} ({wall}) |" + ("" if clean else " loss"))
PY
  row=$(tail -n 1 "$work/rows")
  echo "${row% loss}"
  if [[ "$row" != *" loss" ]]; then
    achieved=$(echo "$row" | awk -F'|' '{print $3}' | cut -d, -f1 | tr -d ' ')
    best=$(python3 -c "print(max(float('$best'), float('${achieved/\?/0}')))")
  fi
done
echo
echo "highest rate without loss: ${best} Mbit/s as sent by tcpreplay ($packets packets of $(basename "$capture"))"
