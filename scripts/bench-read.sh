#!/usr/bin/env bash
# Measures `apitap read` throughput and peak memory on a real capture: nginx serves JSON on
# loopback, wrk drives it over keep-alive connections while tcpdump records, then the release
# build of apitap reads the capture. Needs root, nginx, wrk, tcpdump and GNU time.
#   scripts/bench-read.sh [SECONDS_OF_TRAFFIC] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
conns=${2:-64}
work=$(mktemp -d)
chmod 755 "$work"
trap 'kill $(cat "$work/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT
port=18181
mkdir -p "$work/www"
python3 -c "import json; print(json.dumps({'Data': {'Account': [{'AccountId': str(i), 'Currency': 'GBP', 'Nickname': 'acct %d' % i} for i in range(12)]}}))" > "$work/www/accounts.json"
cat > "$work/nginx.conf" <<CONF
daemon on; pid $work/nginx.pid; error_log $work/error.log; worker_processes 1;
events {}
http { access_log off; default_type application/json; client_body_temp_path $work/body;
  keepalive_requests 100000;
  server { listen 127.0.0.1:$port; root $work/www; } }
CONF
nginx -c "$work/nginx.conf"
tcpdump -i lo -s 0 -B 262144 -w "$work/bench.pcap" "tcp port $port" 2>/dev/null &
dump=$!
sleep 1
wrk -t 1 -c "$conns" -d "${secs}s" -H 'Authorization: Bearer eyJhbGciOiJub25lIn0.eyJjbGllbnRfaWQiOiJiZW5jaCJ9.x' \
  "http://127.0.0.1:$port/accounts.json" | sed -n '1,/Requests\/sec/p' | tail -n 2
sleep 1
kill "$dump"; wait "$dump" 2>/dev/null || true
cargo build --release --locked -q
size=$(stat -c %s "$work/bench.pcap")
echo "capture: $((size / 1000000)) MB"
/usr/bin/time -f "elapsed %e s, peak RSS %M KiB" target/release/apitap read "$work/bench.pcap" --out "$work/out" --no-progress --summary-json 2> "$work/err"
packets=$(python3 -c "import json,sys; print(json.load(open('$work/out/summary.json'))['stages']['input']['packets'])")
tx=$(wc -l < "$work/out/transactions.jsonl")
el=$(grep -o 'elapsed [0-9.]*' "$work/err" | cut -d' ' -f2)
grep -o 'elapsed.*' "$work/err"
python3 -c "
p, b, t, e = $packets, $size, $tx, $el
print(f'packets {p}, transactions {t}: {p/e/1e6:.2f} Mpackets/s, {b*8/e/1e9:.2f} Gbit/s of capture file, {t/e/1e3:.0f} k transactions/s')"
