#!/usr/bin/env bash
# Records the HTTP/2 benchmark capture: nginx serving HTTP/2 in the clear (prior knowledge) on
# loopback port 8080, h2load making REQUESTS requests (default 300,000) over 32 connections,
# 10 streams at a time, across 2,000 paths of an accounts API with JSON bodies of several
# sizes; tcpdump writes what crosses the port.
#
#   scripts/make-h2-mix.sh [OUT [REQUESTS]]      (default OUT: target/bench/h2-mix.pcap)
#
# Then: TSHARK_FILTER=http2 TSHARK_DECODE=tcp.port==8080,http2 scripts/bench.sh OUT
# Needs root (capture on lo), nginx, h2load (nghttp2-client) and tcpdump.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
out=${1:-$target/bench/h2-mix.pcap}
requests=${2:-300000}
port=8080
work=$(mktemp -d)
chmod 755 "$work"
nginx_pid=""
tcpdump_pid=""
cleanup() {
  [ -n "$tcpdump_pid" ] && kill "$tcpdump_pid" 2>/dev/null || true
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$(dirname "$out")"
small='{"Data":{"Account":[{"AccountId":"22289","Currency":"GBP","Nickname":"Bills"}]}}'
medium=$(python3 -c 'import json; print(json.dumps({"Data": {"Transaction": [{"TransactionId": "t%05d" % i, "Amount": {"Amount": "%d.00" % i, "Currency": "GBP"}, "BookingDateTime": "2026-03-01T10:00:00Z"} for i in range(20)]}}))')
cat > "$work/nginx.conf" <<CONF
daemon on; pid $work/nginx.pid; error_log $work/error.log; worker_processes 1;
events {}
http {
  access_log off; default_type application/json; client_body_temp_path $work/body;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:$port http2;
    location ~ ^/open-banking/v4.0/aisp/accounts/[0-9]+/transactions\$ { return 200 '$medium'; }
    location ~ ^/open-banking/v4.0/aisp/accounts/[0-9]+\$ { return 200 '$small'; }
    location / { return 404 '{"Errors":[{"ErrorCode":"UK.OBIE.NotFound"}]}'; }
  }
}
CONF
nginx -c "$work/nginx.conf"
for i in $(seq 1 1000); do
  echo "http://127.0.0.1:$port/open-banking/v4.0/aisp/accounts/$((10000 + i))"
  echo "http://127.0.0.1:$port/open-banking/v4.0/aisp/accounts/$((10000 + i))/transactions"
done > "$work/uris.txt"
echo "/missing" | sed "s|^|http://127.0.0.1:$port|" >> "$work/uris.txt"
tcpdump -i lo -B 524288 -s 0 -w "$out" "tcp port $port" 2>"$work/tcpdump.err" &
tcpdump_pid=$!
# tcpdump says nothing when it is capturing; a large buffer takes a moment to set up.
for _ in $(seq 1 50); do
  grep -q "listening on" "$work/tcpdump.err" 2>/dev/null && break
  sleep 0.1
done
sleep 1
h2load -n "$requests" -c 32 -m 10 -i "$work/uris.txt" | grep -E '^(requests|status codes|traffic):' >&2
sleep 1
kill -INT "$tcpdump_pid"
wait "$tcpdump_pid" 2>/dev/null || true
tcpdump_pid=""
grep -E "captured|dropped" "$work/tcpdump.err" >&2 || true
echo "$out" >&2
