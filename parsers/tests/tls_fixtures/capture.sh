#!/bin/sh
# capture.sh NAME PORT "SERVER_ARGS" "CLIENT_ARGS": one s_server/s_client connection on
# loopback, captured by tcpdump into NAME.pcap.
set -e
name=$1; port=$2; sargs=$3; cargs=$4
tcpdump -i lo -U -s 0 -w "$name.pcap" "tcp port $port" 2>/dev/null & dump=$!
sleep 1
openssl s_server -accept "$port" -naccept 1 -quiet $sargs >/dev/null 2>&1 & srv=$!
sleep 1
openssl s_client -connect "127.0.0.1:$port" -brief $cargs </dev/null >"$name.client.log" 2>&1 || true
wait $srv || true
sleep 1
kill $dump; wait $dump || true
