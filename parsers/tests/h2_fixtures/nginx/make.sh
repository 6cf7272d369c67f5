#!/bin/sh
# Records real HTTP/2 traffic for parsers/tests/h2_nginx.rs: nginx with `http2` on a
# cleartext port (prior knowledge), curl (a GET, a POST with a body, a 404, one connection
# each) and client.py (the same and a larger GET on one connection), captured with tcpdump
# on loopback. Then extracts each direction's TCP payload with tshark (conversationN.txt for
# TCP stream N, "> hex" / "< hex" per segment run) and tshark's own HTTP/2 dissection of the
# same capture (tshark.tsv), the oracle the test compares with.
#
# Needs root (tcpdump on lo), nginx (Debian 12: 1.22, `listen ... http2`), curl with
# nghttp2, tcpdump, tshark, Python h2 (pip install h2). Run from this directory: sh make.sh
set -eu
trap 'kill $tcpdump_pid $nginx_pid 2>/dev/null || true' EXIT
tcpdump_pid=
nginx_pid=
here=$(pwd)
tmp=$(mktemp -d)
port=18080
mkdir -p "$tmp/html" "$tmp/logs"
printf '{"accounts":[{"iban":"DE89370400440532013000","balance":1200}]}' > "$tmp/html/accounts.json"
head -c 3000 /dev/zero | tr '\0' 'x' > "$tmp/html/statement.txt"
cat > "$tmp/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
error_log $tmp/logs/error.log;
pid $tmp/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $tmp;
    default_type application/octet-stream;
    types { application/json json; text/plain txt; }
    server {
        listen 127.0.0.1:$port http2;
        root $tmp/html;
        location = /v1/payments { return 201 '{"id":77}'; }
    }
}
CONF
nginx -c "$tmp/nginx.conf" -p "$tmp" >/dev/null 2>&1 &
nginx_pid=$!
tcpdump -i lo -U -w "$tmp/capture.pcap" "tcp port $port" >/dev/null 2>&1 &
tcpdump_pid=$!
sleep 1
# One connection per curl (curl 7.88 does not send a second request on a reused
# prior-knowledge connection), then several requests on one connection from client.py.
body='{"from":"DE89370400440532013000","to":"FR1420041010050500013M02606","amount":"250.00"}'
curl -s -o /dev/null --http2-prior-knowledge -A "bankapp/3.1" "http://127.0.0.1:$port/accounts.json?token=s3cret"
curl -s -o /dev/null --http2-prior-knowledge -A "bankapp/3.1" -H 'content-type: application/json' \
    -d "$body" "http://127.0.0.1:$port/v1/payments"
curl -s -o /dev/null --http2-prior-knowledge -A "bankapp/3.1" "http://127.0.0.1:$port/missing"
python3 "$here/client.py" "$port"
sleep 1
kill "$tcpdump_pid" "$nginx_pid"
wait "$tcpdump_pid" 2>/dev/null || true
wait "$nginx_pid" 2>/dev/null || true
cp "$tmp/capture.pcap" "$here/capture.pcap"
for i in 0 1 2 3; do
    tshark -r capture.pcap -q -z "follow,tcp,raw,$i" > "$tmp/follow.txt"
    python3 - "$tmp/follow.txt" > "conversation$i.txt" <<'PY'
import sys
# tshark's raw follow output: one line of hex per segment run, server lines indented by a tab.
lines = open(sys.argv[1]).read().splitlines()
start = next(i for i, l in enumerate(lines) if l.startswith("Node 1:")) + 1
for l in lines[start:]:
    if l.startswith("===="):
        break
    print("<" if l.startswith("\t") else ">", l.strip())
PY
done
tshark -r capture.pcap -d "tcp.port==$port,http2" -Y http2 -T fields -E separator=/t -E occurrence=a -E aggregator=';' \
    -e tcp.stream -e tcp.srcport -e http2.streamid -e http2.type -e http2.length -e http2.flags.end_stream \
    -e http2.header.name -e http2.header.value > tshark.tsv
rm -rf "$tmp"
wc -l conversation*.txt tshark.tsv
