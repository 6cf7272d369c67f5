#!/usr/bin/env python3
"""The soak's hostile traffic (scripts/soak.sh), written as one pcap file to be replayed on the
capture interface with tcpreplay. Python standard library only.

Usage: scripts/soak/hostile.py OUT.pcap CORPUS_DIR [SEED]

What it holds, by kind (each kind's frame count is printed):
- corpus: the fuzz corpora (CORPUS_DIR/<target>, scripts/fuzz.sh's or fuzz/seed.py's), as
  traffic: `decode` and `capture` inputs as frames, `http` and `h2` inputs as both directions of
  a TCP connection to port 80, `tls_hello` inputs as one side of a connection to port 443;
- random: connections to port 80 that carry random bytes both ways, and lone TCP segments to
  port 80 with random flags, numbers and payloads;
- half_open: a flood of SYNs from random addresses and ports, never answered;
- giant: a request head of 1 MiB, one with 20,000 header lines, chunk sizes of 2^64 and more,
  a chunk size of 2^62 followed by endless data, a Content-Length of 10^30;
- bomb: gzip responses of 200 MiB of zeros (about 200 KiB each on the wire), gzip in gzip,
  and deflate;
- tunnels: HTTP requests inside GRE in VXLAN in GRE in IP-in-IP... from 2 to 40 layers deep,
  stacks of 100 VLAN tags and 100 MPLS labels;
- h2: rapid reset (HEADERS then RST_STREAM, thousands of streams), CONTINUATION floods,
  SETTINGS and PING floods, an HPACK table-size abuse;
- fragments: first fragments never completed, overlapping fragments, tiny fragments;
- out_of_order: connections whose segments arrive beyond holes that are never filled;
- tls: ClientHellos with lengths that lie, and records of garbage.
"""
import gzip
import os
import struct
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from packets import (ACK, PSH, RST, SYN, addr, connection, eth, ip_packet, ipv4, mpls_stack,  # noqa: E402
                     new_rng, tcp, udp, vlan_stack, write_pcap)

MAX_CORPUS_FILES = 3000


def corpus(rng, root):
    frames = []
    for target in ("decode", "capture", "http", "h2", "tls_hello"):
        d = os.path.join(root, target)
        if not os.path.isdir(d):
            continue
        names = sorted(os.listdir(d))
        rng.shuffle(names)
        for name in names[:MAX_CORPUS_FILES]:
            with open(os.path.join(d, name), "rb") as f:
                data = f.read()
            if target == "decode":
                frames += decode_input(data)
            elif target == "capture":
                frames += capture_input(data)
            elif target in ("http", "h2"):
                n = data[0] if data else 0
                rest = data[1 + n:]
                if len(rest) < 4:
                    continue
                cl = struct.unpack("<I", rest[:4])[0]
                frames += connection(rng, rest[4:4 + cl], rest[4 + cl:], dport=80)
            elif data:
                side, body = data[0], data[1:]
                if side == 1:
                    frames += connection(rng, b"", body, dport=443)
                else:
                    frames += connection(rng, body, b"", dport=443)
    return frames


def decode_input(data):
    """The decode target's input: [link index][length u16 LE][frame]...; Ethernet (0) as is
    with our destination MAC, raw IP (1) under an Ethernet header."""
    out, off = [], 0
    while off + 3 <= len(data):
        link = data[off]
        n = struct.unpack("<H", data[off + 1:off + 3])[0]
        frame = data[off + 3:off + 3 + n]
        off += 3 + n
        if link % 9 == 0 and len(frame) >= 14:
            out.append(eth(b"", 0)[:12] + frame[12:])
        elif link % 9 == 1 and frame:
            out.append(eth(frame, 0x86DD if frame[0] >> 4 == 6 else 0x0800))
    return out


def capture_input(data):
    """Frames of a classic pcap file of Ethernet or raw IP; nothing for anything else."""
    if len(data) < 24:
        return []
    e = {b"\xd4\xc3\xb2\xa1": "<", b"\x4d\x3c\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">", b"\xa1\xb2\x3c\x4d": ">"}.get(data[:4])
    if not e:
        return []
    link = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    out, off = [], 24
    while off + 16 <= len(data):
        incl = struct.unpack(e + "I", data[off + 8:off + 12])[0]
        frame = data[off + 16:off + 16 + min(incl, 65535)]
        off += 16 + incl
        if link == 1 and len(frame) >= 14:
            out.append(eth(b"", 0)[:12] + frame[12:])
        elif link in (101, 12, 14) and frame:
            out.append(eth(frame, 0x86DD if frame[0] >> 4 == 6 else 0x0800))
    return out


def random_bytes(rng):
    frames = []
    for _ in range(150):
        frames += connection(rng, rng.randbytes(rng.randrange(1, 48_000)), rng.randbytes(rng.randrange(0, 48_000)), dport=80,
                             close=rng.random() < 0.5)
    for _ in range(3000):
        src, dst = addr(rng), addr(rng)
        payload = rng.randbytes(rng.randrange(0, 1400))
        seg = tcp(src, dst, rng.randrange(1, 65535), 80, rng.getrandbits(32), rng.getrandbits(32), rng.randrange(256), payload)
        frames.append(eth(ipv4(src, dst, 6, seg)))
    return frames


def half_open(rng):
    frames = []
    for i in range(40_000):
        src, dst = addr(rng, v6=i % 8 == 0), addr(rng, v6=i % 8 == 0)
        pkt, et = ip_packet(src, dst, 6, tcp(src, dst, rng.randrange(1024, 65535), 80, rng.getrandbits(32), 0, SYN))
        frames.append(eth(pkt, et))
    return frames


def giant(rng):
    frames = []
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
    frames += connection(rng, b"GET / HTTP/1.1\r\nHost: giant.soak.test\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n", ok)
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(20_000))
    frames += connection(rng, b"GET /many HTTP/1.1\r\nHost: giant.soak.test\r\n" + many + b"\r\n", ok)
    for size in (b"ffffffffffffffffffffffff", b"10000000000000000", b"-1", b"7fffffffffffffff;ext=" + b"e" * 5000):
        resp = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + size + b"\r\n" + rng.randbytes(30_000)
        frames += connection(rng, b"GET /chunked HTTP/1.1\r\nHost: giant.soak.test\r\n\r\n", resp)
    resp = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4000000000000000\r\n" + b"z" * 200_000
    frames += connection(rng, b"GET /endless HTTP/1.1\r\nHost: giant.soak.test\r\n\r\n", resp, close=False)
    req = b"POST /cl HTTP/1.1\r\nHost: giant.soak.test\r\nContent-Length: 1000000000000000000000000000000\r\n\r\n" + b"b" * 20_000
    frames += connection(rng, req, ok)
    frames += connection(rng, b"GET /" + b"p" * 300_000 + b" HTTP/1.1\r\nHost: giant.soak.test\r\n\r\n", ok)
    return frames


def bomb(rng):
    frames = []
    zeros = bytes(1 << 20)

    def compress(n_mib, wbits):
        c = zlib.compressobj(9, zlib.DEFLATED, wbits)
        return b"".join(c.compress(zeros) for _ in range(n_mib)) + c.flush()

    gz = compress(200, 31)
    deflate = compress(200, 15)
    double = gzip.compress(compress(50, 31), 9)
    for body, enc in ((gz, b"gzip"), (deflate, b"deflate"), (double, b"gzip, gzip")):
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: " + enc
        frames += connection(rng, b"GET /bomb HTTP/1.1\r\nHost: bomb.soak.test\r\n\r\n",
                             head + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        req = b"POST /bomb HTTP/1.1\r\nHost: bomb.soak.test\r\nContent-Encoding: " + enc + b"\r\n"
        frames += connection(rng, req + b"Content-Length: %d\r\n\r\n" % len(body) + body, b"HTTP/1.1 204 No Content\r\n\r\n")
    return frames


def tunnels(rng):
    frames = []
    req = b"GET /tunnelled HTTP/1.1\r\nHost: tunnel.soak.test\r\n\r\n"
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
    for depth in (2, 4, 7, 8, 9, 16, 40):
        def wrap(pkt, et, depth=depth):
            for layer in range(depth):
                outer_src, outer_dst = addr(rng), addr(rng)
                kind = layer % 3
                if kind == 0:  # GRE (plain, the inner ethertype)
                    pkt = ipv4(outer_src, outer_dst, 47, struct.pack("!HH", 0, et) + pkt)
                elif kind == 1:  # VXLAN: an inner Ethernet frame
                    vx = struct.pack("!II", 0x08000000, 42 << 8) + eth(pkt, et)
                    pkt = ipv4(outer_src, outer_dst, 17, udp(outer_src, outer_dst, rng.randrange(1024, 65535), 4789, vx))
                else:  # IP-in-IP
                    pkt = ipv4(outer_src, outer_dst, 4 if et == 0x0800 else 41, pkt)
                et = 0x0800
            return eth(pkt, et)
        for _ in range(20):
            frames += connection(rng, req, resp, wrap=wrap)
    for n in (8, 17, 100):
        pkt, et = ip_packet(addr(rng), addr(rng), 6, b"")
        frames.append(eth(vlan_stack(n) + pkt, 0x8100))
        frames.append(eth(mpls_stack(n) + pkt, 0x8847))
    return frames


def h2_frame(kind, flags, stream, payload):
    return struct.pack("!I", len(payload))[1:] + bytes([kind, flags]) + struct.pack("!I", stream) + payload


PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SERVER_SETTINGS = h2_frame(4, 0, 0, b"") + h2_frame(4, 1, 0, b"")


def h2(rng):
    frames = []
    block = b"\x82\x84\x86\x41\x0eh2.soak.test:80"  # GET / http, :authority literal
    rapid = PREFACE + h2_frame(4, 0, 0, b"")
    for sid in range(1, 20_000, 2):
        rapid += h2_frame(1, 0x05, sid, block) + h2_frame(3, 0, sid, struct.pack("!I", 8))
    frames += connection(rng, rapid, SERVER_SETTINGS)
    cont = PREFACE + h2_frame(4, 0, 0, b"") + h2_frame(1, 0x01, 1, block)
    cont += b"".join(h2_frame(9, 0, 1, b"\x40\x01x\x01y") for _ in range(30_000))
    frames += connection(rng, cont, SERVER_SETTINGS)
    flood = PREFACE + b"".join(h2_frame(4, 0, 0, struct.pack("!HI", 1, 4096)) + h2_frame(6, 0, 0, bytes(8)) for _ in range(20_000))
    frames += connection(rng, flood, SERVER_SETTINGS)
    # Dynamic table size updates far over the limit, then literal fields that would fill it.
    abuse = PREFACE + h2_frame(4, 0, 0, b"") + h2_frame(1, 0x05, 1, b"\x3f\xe1\xff\xff\x0f" + block +
                                                         b"".join(b"\x40\x05name%d" % (i % 10) + b"\x7f\x81\x7f" + b"v" * 255 for i in range(200)))
    frames += connection(rng, abuse, SERVER_SETTINGS)
    return frames


def fragments(rng):
    frames = []
    for i in range(20_000):
        src, dst = addr(rng), addr(rng)
        frames.append(eth(ipv4(src, dst, 6, rng.randbytes(1200), ident=i, frag_off=0, more=True)))
    for i in range(2000):
        src, dst = addr(rng), addr(rng)
        for off in (0, 8, 16, 8, 0, 64000):
            frames.append(eth(ipv4(src, dst, 17, rng.randbytes(600), ident=i, frag_off=off, more=off != 64000)))
    return frames


def out_of_order(rng):
    frames = []
    for _ in range(100):
        c, s = addr(rng), addr(rng)
        cp, seq = rng.randrange(1024, 65535), rng.getrandbits(32)
        frames.append(eth(ipv4(c, s, 6, tcp(c, s, cp, 80, seq, 0, SYN))))
        frames.append(eth(ipv4(s, c, 6, tcp(s, c, 80, cp, 1000, seq + 1, SYN | ACK))))
        for k in range(1, 400):
            frames.append(eth(ipv4(c, s, 6, tcp(c, s, cp, 80, seq + 1 + k * 64, 1001, PSH | ACK, b"G" * 32))))
        frames.append(eth(ipv4(c, s, 6, tcp(c, s, cp, 80, seq + 2, 1001, RST))))
    return frames


def tls(rng):
    frames = []
    for _ in range(300):
        body = bytes([1]) + b"\xff\xff\xff" + b"\x03\x03" + rng.randbytes(rng.randrange(0, 3000))
        record = b"\x16\x03\x01" + struct.pack("!H", rng.choice([len(body), 0xFFFF, 5])) + body
        frames += connection(rng, record + rng.randbytes(2000), b"\x16\x03\x03\xff\xff" + rng.randbytes(4000), dport=443)
    return frames


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: scripts/soak/hostile.py OUT.pcap CORPUS_DIR [SEED]")
    out, root = sys.argv[1], sys.argv[2]
    rng = new_rng(int(sys.argv[3]) if len(sys.argv) == 4 else 11)
    kinds = [("corpus", lambda r: corpus(r, root)), ("random", random_bytes), ("half_open", half_open), ("giant", giant),
             ("bomb", bomb), ("tunnels", tunnels), ("h2", h2), ("fragments", fragments), ("out_of_order", out_of_order),
             ("tls", tls)]
    parts = []
    for name, make in kinds:
        frames = make(rng)
        print(f"{name}: {len(frames)} frames", file=sys.stderr)
        parts.append(frames)
    # Kinds interleaved frame by frame, so that every stretch of the replay mixes them.
    frames, i = [], 0
    while any(i < len(p) for p in parts):
        frames += [p[i] for p in parts if i < len(p)]
        i += 1
    write_pcap(out, frames)
    print(f"{out}: {len(frames)} frames, {os.path.getsize(out) >> 20} MiB", file=sys.stderr)


if __name__ == "__main__":
    main()
