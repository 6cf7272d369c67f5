#!/usr/bin/env python3
"""Writes the TCP payloads of the first connection of a pcap in the fixture format of this
directory: one line per segment in capture order, 'c <hex>' from the client (the TCP
originator), 's <hex>' from the server. Usage: segments_from_pcap.py FILE.pcap "COMMENT" > CASE.txt"""
import subprocess, sys

pcap, comment = sys.argv[1], sys.argv[2]
out = subprocess.run(["tshark", "-r", pcap, "-q", "-z", "follow,tcp,raw,0"],
                     capture_output=True, text=True, check=True).stdout
print(f"# {comment}")
print(f"# Source: {pcap.rsplit('/', 1)[-1]} (this directory). Each line is one TCP segment's payload in capture order: 'c' from the client, 's' from the server (hex).")
print("# Extracted with: segments_from_pcap.py (tshark -r <pcap> -q -z follow,tcp,raw,0)")
body = False
for line in out.splitlines():
    if line.startswith("Node 1:"):
        body = True
        continue
    if not body or line.startswith("====") or not line.strip():
        continue
    side = "s" if line.startswith("\t") else "c"
    print(f"{side} {line.strip()}")
