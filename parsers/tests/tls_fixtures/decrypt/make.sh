#!/bin/sh
# Regenerates the decryption fixtures of this directory: for each case one real TLS
# connection on loopback (OpenSSL s_server -WWW serving a JSON file, s_client sending one
# HTTP/1.0 request), captured by tcpdump, with the key log s_client wrote. Then:
#   CASE.pcap   the capture;
#   CASE.txt    the connection's TCP payloads (segments_from_pcap.py), the decryptor's input;
#   CASE.keys   the NSS key log s_client wrote (-keylogfile);
#   CASE.plain  what tshark decrypts with that key log (follow,tls), the expected output.
# Needs openssl, tcpdump, tshark, python3, root (capture on lo). Run from this directory:
#   sh make.sh
set -e
here=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
sh "$here/../mkcerts.sh" >/dev/null 2>&1
printf '{"Data":{"Account":[{"AccountId":"22289","Currency":"GBP","Nickname":"Bills"}]}}\n' > accounts.json
SRV="-cert server.pem -key server.key -cert_chain issuing.pem"
CLI="-servername api.bank.test -CAfile server-trust.pem"
TPP="-cert tpp.pem -key tpp.key -cert_chain clientca.pem"
port=44500
run() { # NAME "SERVER_ARGS" "CLIENT_ARGS" [CLIENT_INPUT_EXTRA]
  name=$1; port=$((port + 1))
  tcpdump -i lo -U -s 0 -w "$name.pcap" "tcp port $port" 2>/dev/null & dump=$!
  sleep 1
  openssl s_server -accept "$port" -naccept 1 -WWW $2 >/dev/null 2>&1 & srv=$!
  sleep 1
  { printf 'GET /accounts.json HTTP/1.0\r\nHost: api.bank.test\r\nAuthorization: Bearer tok-%s\r\n\r\n' "$name"; printf "$4"; sleep 2; } |
    timeout 10 openssl s_client -connect "127.0.0.1:$port" -ign_eof -keylogfile "$name.keys" $3 >"$name.client.log" 2>&1 || true
  wait $srv || true
  sleep 1
  kill $dump; wait $dump || true
  python3 "$here/../segments_from_pcap.py" "$name.pcap" "$name: s_server $2 / s_client $3" > "$here/$name.txt"
  cp "$name.keys" "$name.pcap" "$here/"
  python3 "$here/plain_from_tshark.py" "$name.pcap" "$name.keys" > "$here/$name.plain"
}
run tls12-aes128gcm "-tls1_2 $SRV" "-tls1_2 $CLI -cipher ECDHE-ECDSA-AES128-GCM-SHA256"
run tls12-aes256gcm "-tls1_2 $SRV" "-tls1_2 $CLI -cipher ECDHE-ECDSA-AES256-GCM-SHA384"
run tls12-chacha "-tls1_2 $SRV" "-tls1_2 $CLI -cipher ECDHE-ECDSA-CHACHA20-POLY1305"
run tls12-cbc "-tls1_2 $SRV" "-tls1_2 $CLI -cipher ECDHE-ECDSA-AES128-SHA256"
run tls13-aes128gcm "-tls1_3 $SRV" "-tls1_3 $CLI -ciphersuites TLS_AES_128_GCM_SHA256"
run tls13-aes256gcm "-tls1_3 $SRV" "-tls1_3 $CLI -ciphersuites TLS_AES_256_GCM_SHA384"
run tls13-chacha "-tls1_3 $SRV" "-tls1_3 $CLI -ciphersuites TLS_CHACHA20_POLY1305_SHA256"
run tls13-mtls "-tls1_3 $SRV -Verify 1 -CAfile client-trust.pem" "-tls1_3 $CLI $TPP"
run tls12-mtls "-tls1_2 $SRV -Verify 1 -CAfile client-trust.pem" "-tls1_2 $CLI $TPP -cipher ECDHE-ECDSA-AES128-GCM-SHA256"
cp tpp.der "$here/tpp.der"
