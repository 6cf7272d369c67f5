#!/usr/bin/env bash
# Memory per tracked flow: a capture of N connections that open (three-way handshake), send
# the first bytes of a request and then go quiet, all within a few seconds of packet time, so
# every one is still tracked at the end; `apitap read` holds them all (max_flows raised to N
# through a configuration file) and GNU time reports its peak RSS. The same run with 1,000
# connections is the baseline; the difference divided by the extra connections is the cost
# of one idle flow (flow table, reassembly and the HTTP parser's partial request).
# The peak comes at the end of input, where every connection is closed and its transaction
# emitted at once; the RSS sampled when the whole capture has been read (from /proc, while the
# reader's file position is past 99% of the file) is the cost of the idle flows alone.
#
#   scripts/bench-flows.sh [N]      (default 1000000)
#
# Needs python3, GNU time and /proc (Linux).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/rust-env.sh
n=${1:-1000000}
target=${CARGO_TARGET_DIR:-target}
cargo build --release --locked -q
apitap="$target/release/apitap"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
make_capture() { # COUNT FILE
  python3 - "$1" "$2" <<'PY'
import struct, sys
count, path = int(sys.argv[1]), sys.argv[2]

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF

def frame(src, dst, sport, dport, seq, ack, flags, payload=b""):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    pseudo = struct.pack("!4s4sBBH", src, dst, 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + ip + tcp

server = bytes([10, 9, 0, 1])
request = b"GET /accounts/12345 HTTP/1.1\r\nHost: api.bank.example\r\nAuthori"
with open(path, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1))
    t = 1_700_000_000 * 10**9
    for i in range(count):
        client = bytes([100, 64 + (i >> 16) % 64, (i >> 8) & 255, i & 255])
        sport = 1024 + (i // (64 * 65536)) % 60000
        cseq, sseq = 1000, 5000
        pkts = [
            frame(client, server, sport, 443, cseq, 0, 0x02),
            frame(server, client, 443, sport, sseq, cseq + 1, 0x12),
            frame(client, server, sport, 443, cseq + 1, sseq + 1, 0x10),
            frame(client, server, sport, 443, cseq + 1, sseq + 1, 0x18, request),
        ]
        for p in pkts:
            t += 1000  # 1 us apart: a million connections in four seconds
            f.write(struct.pack("<IIII", t // 10**9, t % 10**9, len(p), len(p)))
            f.write(p)
PY
}
printf '[limits.tcp]\nmax_flows = %d\n' "$((n + 1000))" > "$work/flows.toml"
measure() { # COUNT: prints peak RSS in KiB, RSS in KiB when the capture had been read, flows, evictions
  make_capture "$1" "$work/cap.pcap"
  python3 - "$apitap" "$work" <<'PY' || { cat "$work/err" >&2; exit 1; }
import os, subprocess, sys, time
apitap, work = sys.argv[1], sys.argv[2]
cap = os.path.join(work, "cap.pcap")
size = os.path.getsize(cap)
cmd = ["/usr/bin/time", "-o", os.path.join(work, "time"), "-f", "%M", apitap, "read", cap, "--no-progress",
       "--config", os.path.join(work, "flows.toml"), "--out", os.path.join(work, "out"), "--no-detect"]
err = open(os.path.join(work, "err"), "w")
proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
# The RSS when the whole capture has been read and every connection is idle, before the end of
# input closes them: sampled while the reader's file position is past 99% of the file.
read_rss, pid = 0, None
while proc.poll() is None:
    try:
        if pid is None:
            kids = open(f"/proc/{proc.pid}/task/{proc.pid}/children").read().split()
            pid = int(kids[0]) if kids else None
        if pid is not None:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == cap:
                    pos = int(open(f"/proc/{pid}/fdinfo/{fd}").read().split()[1])
                    if pos >= size * 0.99:
                        rss = next(l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS:"))
                        read_rss = max(read_rss, int(rss.split()[1]))
    except (OSError, ValueError, IndexError, StopIteration):
        pass
    time.sleep(0.02)
if proc.returncode != 0:
    sys.exit(1)
import json
s = json.load(open(os.path.join(work, "out", "summary.json")))["stages"]["tcp"]
print(open(os.path.join(work, "time")).read().split()[-1], read_rss, s["flows_opened"], s["evicted"])
PY
}
read -r base_rss base_read base_flows _ <<< "$(measure 1000)"
read -r big_rss big_read big_flows evicted <<< "$(measure "$n")"
python3 -c "
base, big, n0, n1, ev = $base_rss, $big_rss, $base_flows, $big_flows, $evicted
per = (big - base) * 1024 / max(n1 - n0, 1)
print(f'{n1:,} idle flows tracked ({ev} evicted): peak RSS {big / 1024:.0f} MiB '
      f'(baseline {base / 1024:.1f} MiB with {n0:,}); {per:.0f} bytes per idle flow')
r0, r1 = $base_read or $base_rss, $big_read
if r0 and r1:
    print(f'when the capture had been read (every flow idle, before the end of input closes them): '
          f'RSS {r1 / 1024:.0f} MiB; {(r1 - r0) * 1024 / max(n1 - n0, 1):.0f} bytes per idle flow')"
