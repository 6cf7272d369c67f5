#!/usr/bin/env python3
"""Prints the application data tshark decrypts from the first TLS connection of a pcap with a
key log: one line per decrypted chunk, 'c <hex>' from the client, 's <hex>' from the server.
Usage: plain_from_tshark.py FILE.pcap KEYLOG"""
import subprocess, sys

pcap, keys = sys.argv[1], sys.argv[2]
out = subprocess.run(["tshark", "-r", pcap, "-o", f"tls.keylog_file:{keys}", "-q", "-z", "follow,tls,raw,0"],
                     capture_output=True, text=True, check=True).stdout
print(f"# What tshark decrypted from {pcap.rsplit('/', 1)[-1]} with the key log beside it")
print("# (tshark -o tls.keylog_file:KEYLOG -q -z follow,tls,raw,0): 'c' client, 's' server (hex).")
# The client is the TCP originator: the source of the first SYN. tshark's Node 0 is whichever
# side sent the first decrypted data, so the indentation alone does not say who is who.
first = subprocess.run(["tshark", "-r", pcap, "-Y", "tcp.flags.syn==1 && tcp.flags.ack==0", "-c", "1",
                        "-T", "fields", "-e", "ip.src", "-e", "tcp.srcport"],
                       capture_output=True, text=True, check=True).stdout.split()
client = f"{first[0]}:{first[1]}"
node0_is_client = None
body = False
for line in out.splitlines():
    if line.startswith("Node 0:"):
        node0_is_client = line.split(":", 1)[1].strip() == client
        continue
    if line.startswith("Node 1:"):
        body = True
        continue
    if not body or line.startswith("====") or not line.strip():
        continue
    node1 = line.startswith("\t")
    side = "c" if node1 != node0_is_client else "s"
    print(f"{side} {line.strip()}")
