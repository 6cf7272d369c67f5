#!/usr/bin/env python3
"""Builds the fuzz targets' seed corpora from the repository's fixtures and the shared traces.

Usage: fuzz/seed.py OUT_DIR  (writes OUT_DIR/<target>/<sha1>; safe to run again)

Sources, per target (the input formats are described at the top of each target):
- decode: the frames of every capture (../shared/pcaps, fixtures/, parsers/tests/), four
  consecutive frames per seed, at most 256 frames per capture;
- http: the TCP payloads of each connection that starts like HTTP, both directions, and the
  parser transcripts (parsers/tests/transcripts/*.txt);
- h2: the TCP payloads of each connection that starts with the HTTP/2 preface (nginx's in
  parsers/tests/h2_fixtures/nginx), whole and with the first bytes of each side cut off;
- tls_hello: the first 16 KiB of each direction of each connection that starts with a TLS
  handshake record;
- openapi: the specifications in ../shared/specs and fixtures/ up to 128 KiB (the fuzzer's
  input limit), and the small documents checked in under fuzz/seeds/openapi;
- graphql: the documents under fuzz/seeds/graphql, each as a JSON body, an
  application/graphql body and a query string;
- intel: the feeds in fixtures/intel, each with its format byte;
- capture: the captures above up to 16 KiB whole, and pcapng copies of them when editcap
  (Wireshark's) is installed;
- config: deploy/apitap.example.toml and the configurations written as raw strings in the
  tests and sources;
- every target: its regression inputs (fuzz/regressions/<target>).
The structured targets (defrag, reassembly, tls_decrypt) start from nothing: their input is
a sequence of operations that the fuzzer builds itself.

Only the Python standard library; classic pcap files (either byte order, micro- or
nanosecond), Ethernet (with VLAN tags), Linux cooked v1/v2 and raw IP links. Connections are
put together from their segments in capture order, retransmissions dropped by sequence number;
good enough for seeds, not a reassembler.
"""
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SHARED = os.path.join(os.path.dirname(REPO), "shared")
MAX_FRAMES_PER_CAPTURE = 256
MAX_SPEC = 128 * 1024
MAX_STREAM = 64 * 1024
MAX_CAPTURE = 16 * 1024
MAX_CONFIG = 64 * 1024
HTTP_STARTS = (b"GET ", b"POST ", b"PUT ", b"HEAD ", b"DELETE ", b"PATCH ", b"OPTIONS ", b"CONNECT ", b"HTTP/")


def write(out, target, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def files(roots, suffixes):
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in ("target", "corpus", "artifacts", ".git")]
            for f in sorted(filenames):
                if f.endswith(suffixes):
                    yield os.path.join(dirpath, f)


def pcap_frames(path):
    """(linktype, frame) of each record of a classic pcap file; [] for anything else."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return []
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return []
    link = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    out, off = [], 24
    while off + 16 <= len(data):
        incl = struct.unpack(e + "I", data[off + 8:off + 12])[0]
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        out.append((link, frame))
    return out


# The decode target's link byte: index into its table.
LINK_INDEX = {1: 0, 101: 1, 12: 1, 14: 1, 228: 2, 229: 3, 113: 4, 276: 5, 0: 6, 108: 7, 239: 8}


def ip_payload(link, frame):
    """(ip_packet) under the link header, or None."""
    if link == 1:
        off, ethertype = 14, frame[12:14]
        while ethertype in (b"\x81\x00", b"\x88\xa8") and len(frame) >= off + 4:
            ethertype, off = frame[off + 2:off + 4], off + 4
        return frame[off:] if ethertype in (b"\x08\x00", b"\x86\xdd") else None
    if link in (101, 12, 14, 228, 229):
        return frame
    if link == 113:
        return frame[16:] if frame[14:16] in (b"\x08\x00", b"\x86\xdd") else None
    if link == 276:
        return frame[20:] if frame[0:2] in (b"\x08\x00", b"\x86\xdd") else None
    return None


def tcp_of(ip):
    """(src, dst, sport, dport, seq, flags, payload) of an unfragmented IPv4/IPv6 TCP packet."""
    if not ip:
        return None
    v = ip[0] >> 4
    if v == 4 and len(ip) >= 20:
        ihl = (ip[0] & 15) * 4
        total = struct.unpack(">H", ip[2:4])[0] or len(ip)
        if ip[9] != 6 or struct.unpack(">H", ip[6:8])[0] & 0x3FFF:
            return None
        src, dst, seg = ip[12:16], ip[16:20], ip[ihl:total]
    elif v == 6 and len(ip) >= 40:
        if ip[6] != 6:
            return None
        src, dst, seg = ip[8:24], ip[24:40], ip[40:40 + struct.unpack(">H", ip[4:6])[0]]
    else:
        return None
    if len(seg) < 20:
        return None
    sport, dport, seq = struct.unpack(">HHI", seg[:8])
    doff = (seg[12] >> 4) * 4
    return src, dst, sport, dport, seq, seg[13], seg[doff:]


def connections(frames):
    """{key: [client_bytes, server_bytes]} by connection, client = SYN sender or first sender."""
    conns, nexts = {}, {}
    for link, frame in frames:
        t = tcp_of(ip_payload(link, frame))
        if t is None:
            continue
        src, dst, sport, dport, seq, flags, payload = t
        a, b = (src, sport), (dst, dport)
        key = (min(a, b), max(a, b))
        if key not in conns:
            syn_ack = flags & 0x12 == 0x12
            conns[key] = {"client": b if syn_ack else a, "data": [bytearray(), bytearray()]}
        c = conns[key]
        side = 0 if a == c["client"] else 1
        if flags & 0x02:
            nexts[(key, side)] = (seq + 1) & 0xFFFFFFFF
            continue
        if not payload:
            continue
        want = nexts.get((key, side))
        if want is not None and seq != want:
            continue  # retransmission or out of order: good enough for a seed
        nexts[(key, side)] = (seq + len(payload)) & 0xFFFFFFFF
        buf = c["data"][side]
        if len(buf) < MAX_STREAM:
            buf.extend(payload[:MAX_STREAM - len(buf)])
    return [c["data"] for c in conns.values()]


def http_input(client, server, ctl=b""):
    return bytes([len(ctl)]) + ctl + struct.pack("<I", len(client)) + bytes(client) + bytes(server)


def unescape(s):
    out, i = bytearray(), 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            n = s[i + 1]
            if n == "x" and i + 3 < len(s):
                out.append(int(s[i + 2:i + 4], 16))
                i += 4
                continue
            out.extend({"r": b"\r", "n": b"\n", "t": b"\t", "\\": b"\\"}.get(n, n.encode()))
            i += 2
            continue
        out.extend(c.encode())
        i += 1
    return out


def transcripts(out):
    for path in files([os.path.join(REPO, "parsers", "tests", "transcripts")], (".txt",)):
        client, server = bytearray(), bytearray()
        with open(path, encoding="utf-8") as f:
            for line in f.read().splitlines() + ["---"]:
                if line.startswith("> "):
                    client.extend(unescape(line[2:]))
                elif line.startswith("< "):
                    server.extend(unescape(line[2:]))
                elif line.strip() == "---":
                    if client or server:
                        write(out, "http", http_input(client, server))
                    client, server = bytearray(), bytearray()


CONFIG_SECTIONS = ("spec", "inventory", "template", "accept", "identity", "behaviour", "kafka", "daemon",
                   "capture", "store", "report", "metrics", "limits", "tls", "http2")


def config_seeds(out):
    """The config target's seeds: deploy/apitap.example.toml and every raw string in the Rust
    tests and sources that holds a configuration table (`[section]` or `[[section]]` at the
    start of a line). Strings built with format! keep their {placeholders}: they are mutated
    into valid TOML soon enough, and their shape is what matters."""
    example = os.path.join(REPO, "deploy", "apitap.example.toml")
    if os.path.exists(example):
        with open(example, "rb") as f:
            write(out, "config", f.read())
    headers = re.compile(r"^\s*\[\[?(" + "|".join(CONFIG_SECTIONS) + r")[\].]", re.M)
    # Raw strings, then ordinary ones (a regular expression, not a Rust lexer: a stray quote
    # costs a seed or two, nothing else).
    literal = re.compile(r'r(#+)"(.*?)"\1|"((?:[^"\\]|\\.)*)"', re.S)
    for path in files([os.path.join(REPO, "tests"), os.path.join(REPO, "src")], (".rs",)):
        with open(path, encoding="utf-8", errors="replace") as f:
            source = f.read()
        for m in literal.finditer(source):
            text = m.group(2) if m.group(1) else rust_string(m.group(3))
            if headers.search(text) and len(text) <= MAX_CONFIG:
                write(out, "config", text.encode())


def rust_string(body):
    """The value of a Rust string literal's body: escapes and line continuations."""
    simple = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'"}

    def one(m):
        e = m.group(1)
        if e[0] in simple:
            return simple[e[0]]
        if e[0] == "\n":
            return ""
        if e.startswith("x"):
            return chr(int(e[1:3], 16))
        if e.startswith("u{"):
            return chr(int(e[2:-1], 16))
        return e

    return re.sub(r"\\(\n\s*|x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|.)", one, body)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: fuzz/seed.py OUT_DIR")
    out = sys.argv[1]
    roots = [os.path.join(SHARED, "pcaps"), os.path.join(REPO, "fixtures"), os.path.join(REPO, "parsers", "tests")]
    captures = list(files(roots, (".pcap",)))
    editcap = shutil.which("editcap")
    for path in captures:
        if os.path.getsize(path) <= MAX_CAPTURE:
            with open(path, "rb") as f:
                write(out, "capture", f.read())
            if editcap:
                with tempfile.TemporaryDirectory() as tmp:
                    ng = os.path.join(tmp, "x.pcapng")
                    if subprocess.run([editcap, "-F", "pcapng", path, ng], capture_output=True).returncode == 0:
                        with open(ng, "rb") as f:
                            write(out, "capture", f.read())
        frames = pcap_frames(path)
        kept = [(LINK_INDEX[link], f) for link, f in frames[:MAX_FRAMES_PER_CAPTURE] if link in LINK_INDEX]
        for i in range(0, len(kept), 4):
            seed = b"".join(bytes([l]) + struct.pack("<H", min(len(f), 65535)) + f[:65535] for l, f in kept[i:i + 4])
            write(out, "decode", seed)
        for client, server in connections(frames):
            first = (client or server)[:8]
            if client.startswith(HTTP_STARTS) or server.startswith(HTTP_STARTS):
                write(out, "http", http_input(client, server))
            if client.startswith(b"PRI * HTTP/2.0"):
                # Whole, and joined mid-way (the first 120 bytes of each side cut off).
                write(out, "h2", http_input(client, server))
                write(out, "h2", http_input(client[120:], server[120:]))
            if client[:1] == b"\x16":
                write(out, "tls_hello", b"\x00" + bytes(client[:16384]))
                write(out, "tls_hello", b"\x02" + bytes(client[:16384]))
            if server[:1] == b"\x16":
                write(out, "tls_hello", b"\x01" + bytes(server[:16384]))
    transcripts(out)
    specs = [os.path.join(SHARED, "specs"), os.path.join(REPO, "fixtures"), os.path.join(HERE, "seeds", "openapi")]
    for path in files(specs, (".yaml", ".yml", ".json")):
        if os.path.getsize(path) <= MAX_SPEC:
            with open(path, "rb") as f:
                write(out, "openapi", f.read())
    # GraphQL: each document as a JSON body, an application/graphql body and a query string
    # (the target's first byte picks the form).
    for path in files([os.path.join(HERE, "seeds", "graphql")], ("",)):
        with open(path, "rb") as f:
            doc = f.read()
        write(out, "graphql", b"\x00" + json.dumps({"query": doc.decode("utf-8", "replace"), "variables": {"a": 1}}).encode())
        write(out, "graphql", b"\x01" + doc)
        write(out, "graphql", b"\x02query=" + urllib.parse.quote(doc).encode())
    # Threat-intelligence feeds: the first byte picks the format (0 STIX, 1 plain, 2 MISP CSV).
    for name, form in (("bundle.json", b"\x00"), ("list.txt", b"\x01"), ("misp.csv", b"\x02")):
        with open(os.path.join(REPO, "fixtures", "intel", name), "rb") as f:
            write(out, "intel", form + f.read())
    config_seeds(out)
    regressions = os.path.join(HERE, "regressions")
    if os.path.isdir(regressions):
        for target in sorted(os.listdir(regressions)):
            for path in files([os.path.join(regressions, target)], ("",)):
                with open(path, "rb") as f:
                    write(out, target, f.read())
    for target in sorted(os.listdir(out)):
        print(f"{target}: {len(os.listdir(os.path.join(out, target)))} seeds", file=sys.stderr)


if __name__ == "__main__":
    main()
