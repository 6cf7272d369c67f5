#!/usr/bin/env bash
# The soak (docs/security.md, "Soak"): `apitap run`, the daemon as production runs it, captures
# a veth interface under a fixed memory cap for SECONDS (default 600) while tcpreplay sends
# hostile and malformed traffic over it (scripts/soak/hostile.py: the fuzz corpora, random
# bytes on port 80, half-open floods, giant headers and chunk sizes, decompression bombs,
# nested tunnels, HTTP/2 floods, fragments, holes) and curl sends legitimate requests to a
# real nginx across the same interface. It then checks that the daemon is alive, never
# panicked, exits cleanly on SIGTERM, parsed every legitimate request, kept its memory flat
# and under the cap, and hit its limits (the hostile traffic reached the parsers). Prints a
# report; exits non-zero on any failure.
#
#   scripts/soak.sh            # 10 minutes
#   scripts/soak.sh 60         # what CI runs (scripts/test.sh, APITAP_SOAK_SECONDS)
#
# Environment: SOAK_PPS (hostile packets per second, default 10000), SOAK_MEMORY_MIB (the cap,
# default 768), SOAK_BIN (a binary to soak instead of building the release one), SOAK_KEEP=1
# keeps the work folder. Needs root (a network namespace, a memory
# cgroup), nginx, curl, tcpreplay, sqlite3, python3 (scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
source scripts/rust-env.sh
seconds=${1:-600}
[[ "$seconds" =~ ^[0-9]+$ ]] && [ "$seconds" -ge 30 ] || { echo "usage: scripts/soak.sh [SECONDS >= 30]" >&2; exit 2; }
# scripts/soak/hostile.py imports its neighbour: no __pycache__ left in the tree.
export PYTHONDONTWRITEBYTECODE=1
pps=${SOAK_PPS:-10000}
cap_mib=${SOAK_MEMORY_MIB:-768}
[ "$(id -u)" -eq 0 ] || { echo "error: the soak needs root (network namespace, memory cgroup)" >&2; exit 1; }
for tool in ip nginx curl tcpreplay sqlite3 python3; do
  command -v "$tool" >/dev/null || { echo "error: $tool is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
done

if [ -n "${SOAK_BIN:-}" ]; then
  bin=$SOAK_BIN
else
  echo "soak: building the release binary"
  cargo build --release --locked --bin apitap >/dev/null
  bin="${CARGO_TARGET_DIR:-$repo/target}/release/apitap"
fi

work=$(mktemp -d /tmp/apitap-soak.XXXXXX)
id=$(( $$ % 250 + 1 ))
ns="apitap-soak-$$"
out_if="sk$$a"
in_if="sk$$b"
net="10.199.$id"
pids=()
cgroup=""
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  ip link del "$out_if" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  [ -n "$cgroup" ] && rmdir "$cgroup" 2>/dev/null || true
  [ "${SOAK_KEEP:-0}" = 1 ] && echo "soak: work folder kept: $work" || rm -rf "$work"
}
trap cleanup EXIT

# The network: the sensor captures $out_if; nginx listens behind its peer in a namespace.
ip netns add "$ns"
ip link add "$out_if" mtu 65535 type veth peer name "$in_if" mtu 65535
ip link set "$in_if" netns "$ns"
ip addr add "$net.1/30" dev "$out_if"
ip link set "$out_if" up
ip netns exec "$ns" ip addr add "$net.2/30" dev "$in_if"
ip netns exec "$ns" ip link set "$in_if" up
ip netns exec "$ns" ip link set lo up

mkdir -p "$work/nginx" "$work/state"
cat >"$work/nginx.conf" <<EOF
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $work/nginx;
  server {
    listen $net.2:80;
    location /soak/marker { default_type application/json; return 200 '{"ok":true,"n":1}'; }
    location / { return 404; }
  }
}
EOF
ip netns exec "$ns" nginx -c "$work/nginx.conf" -p "$work/nginx" -g 'daemon off;' &
pids+=($!)

# The sensor's configuration: the daemon with limits small enough that the floods reach them
# within a minute (so the memory they bound is reached early, and the plateau is measured).
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/hash.key"
chmod 600 "$work/hash.key"
metrics_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/apitap.toml" <<EOF
[daemon]
hash_key_file = "$work/hash.key"
log_level = "info"
shutdown_deadline_secs = 60

[capture]
interface = "$out_if"
workers = 2
http_buffer_mib = 64

[store]
path = "$work/state/apitap.db"
checkpoint_interval_secs = 60

[report]
dir = "$work/state/reports"
every_hours = 0

[metrics]
listen = "127.0.0.1:$metrics_port"

[limits.tcp]
max_flows = 10000
max_segments_per_dir = 256
max_buffered_total = 33554432
max_retained_total = 16777216

[limits.defrag]
max_bytes_total = 8388608
max_datagrams = 2048
EOF
"$bin" check-config "$work/apitap.toml" >/dev/null

# The memory cap: a cgroup (systemd scope, else a cgroup v1 or v2 folder of our own), else
# an rlimit on the data segment.
cap_bytes=$((cap_mib << 20))
launcher=()
cap_kind=""
if [ -d /run/systemd/system ] && command -v systemd-run >/dev/null; then
  launcher=(systemd-run --scope --quiet -p "MemoryMax=$cap_bytes" -p MemorySwapMax=0 --)
  cap_kind="systemd scope MemoryMax"
else
  v1=$(awk -F: '$2 == "memory" {print $3}' /proc/self/cgroup)
  v2=$(awk -F: '$1 == "0" {print $3}' /proc/self/cgroup)
  if [ -n "$v1" ] && [ -d "/sys/fs/cgroup/memory$v1" ] && mkdir "/sys/fs/cgroup/memory${v1%/}/apitap-soak-$$" 2>/dev/null; then
    cgroup="/sys/fs/cgroup/memory${v1%/}/apitap-soak-$$"
    echo "$cap_bytes" >"$cgroup/memory.limit_in_bytes"
    echo "$cap_bytes" >"$cgroup/memory.memsw.limit_in_bytes" 2>/dev/null || true
    cap_kind="cgroup v1 memory.limit_in_bytes"
  elif [ -f /sys/fs/cgroup/cgroup.controllers ] && mkdir "/sys/fs/cgroup${v2%/}/apitap-soak-$$" 2>/dev/null; then
    cgroup="/sys/fs/cgroup${v2%/}/apitap-soak-$$"
    if echo "$cap_bytes" >"$cgroup/memory.max" 2>/dev/null; then
      echo 0 >"$cgroup/memory.swap.max" 2>/dev/null || true
      cap_kind="cgroup v2 memory.max"
    else
      rmdir "$cgroup"
      cgroup=""
    fi
  fi
  if [ -n "$cgroup" ]; then
    launcher=(sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cgroup")
  else
    launcher=(prlimit "--data=$cap_bytes" --)
    cap_kind="rlimit RLIMIT_DATA (no writable memory cgroup)"
  fi
fi

echo "soak: $seconds s, hostile traffic at $pps packets/s, memory cap $cap_mib MiB ($cap_kind)"
corpus="${CARGO_TARGET_DIR:-$repo/target}/fuzz/corpus"
[ -d "$corpus" ] || { python3 fuzz/seed.py "$work/corpus" 2>/dev/null; corpus="$work/corpus"; }
python3 scripts/soak/hostile.py "$work/hostile.pcap" "$corpus" 2>"$work/hostile.txt"
sed 's/^/  /' "$work/hostile.txt"

"${launcher[@]}" "$bin" run --config "$work/apitap.toml" 2>"$work/apitap.log" &
sensor=$!
pids+=("$sensor")
for _ in $(seq 100); do
  grep -q "capture open" "$work/apitap.log" && break
  kill -0 "$sensor" 2>/dev/null || { cat "$work/apitap.log" >&2; echo "error: apitap run did not start" >&2; exit 1; }
  sleep 0.2
done

tcpreplay -i "$out_if" --pps="$pps" --loop=0 --unique-ip --no-flow-stats "$work/hostile.pcap" >"$work/tcpreplay.log" 2>&1 &
replay=$!
pids+=("$replay")

# Legitimate traffic: 4 requests per connection (3 GET, 1 POST with a JSON body) every half
# second, to a host no hostile packet names; each 200 is counted.
(
  n=0
  end=$((SECONDS + seconds))
  while [ $SECONDS -lt $end ]; do
    u="http://$net.2/soak/marker"
    h=(-s -m 5 -H 'Host: marker.soak.test' -w '%{stderr}%{http_code}\n')
    curl "${h[@]}" "$u?n=$n" "$u?n=$((n + 1))" "$u?n=$((n + 2))" \
      --next "${h[@]}" -H 'Content-Type: application/json' -d '{"amount":1}' "$u" >/dev/null 2>>"$work/legit.txt" || true
    n=$((n + 3))
    sleep 0.5
  done
) &
legit=$!
pids+=("$legit")

# Samples every 5 s: wall seconds, the sensor's RSS (KiB), the cgroup's usage (bytes), and
# the metrics page.
start=$SECONDS
: >"$work/samples.tsv"
while kill -0 "$legit" 2>/dev/null; do
  kill -0 "$sensor" 2>/dev/null || break
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$sensor/status" 2>/dev/null || echo 0)
  usage=0
  [ -n "$cgroup" ] && usage=$(cat "$cgroup/memory.current" 2>/dev/null || cat "$cgroup/memory.usage_in_bytes" 2>/dev/null || echo 0)
  echo -e "$((SECONDS - start))\t${rss:-0}\t$usage" >>"$work/samples.tsv"
  curl -s -m 2 "http://127.0.0.1:$metrics_port/metrics" >"$work/metrics.last" 2>/dev/null || true
  sleep 5
done
wait "$legit" 2>/dev/null || true
kill "$replay" 2>/dev/null || true
wait "$replay" 2>/dev/null || true
# Let the sensor finish what is queued, then read its counters and stop it as systemd would.
sleep 5
curl -s -m 5 "http://127.0.0.1:$metrics_port/metrics" >"$work/metrics.last" 2>/dev/null || true
peak=0
[ -n "$cgroup" ] && peak=$(cat "$cgroup/memory.peak" 2>/dev/null || cat "$cgroup/memory.max_usage_in_bytes" 2>/dev/null || echo 0)
status=0
if kill -0 "$sensor" 2>/dev/null; then
  alive=1
  kill -TERM "$sensor"
  wait "$sensor" || status=$?
else
  alive=0
  wait "$sensor" || status=$?
fi
parsed=$(sqlite3 "$work/state/apitap.db" "SELECT COALESCE(SUM(requests), 0) FROM endpoints WHERE service LIKE 'marker.soak.test%'" 2>/dev/null || echo 0)
sent=$(cat "$work/legit.txt" 2>/dev/null | grep -c '^200$' || true)

python3 scripts/soak/judge.py --seconds "$seconds" --cap "$cap_bytes" --cap-kind "$cap_kind" --alive "$alive" --status "$status" \
  --sent "$sent" --parsed "$parsed" --cgroup-peak "$peak" --samples "$work/samples.tsv" --metrics "$work/metrics.last" \
  --log "$work/apitap.log" --frames "$(grep -oE ': [0-9]+ frames, ' "$work/hostile.txt" | grep -oE '[0-9]+')"
