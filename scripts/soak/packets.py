"""Packet building for the soak's hostile traffic (scripts/soak/hostile.py): Ethernet, VLAN,
MPLS, IPv4 (with fragments), IPv6, TCP and UDP headers with correct checksums, the tunnels the
decoder walks (GRE, VXLAN, GENEVE, IP-in-IP), whole TCP connections and a classic pcap
writer. Python standard library only; nothing here knows what the sensor does with it.
"""
import random
import struct

# Frames go out with this destination MAC: the veth peer is not it, so its kernel drops them
# before IP (the sensor, capturing the sending side, still sees every one).
DST_MAC = bytes.fromhex("020000005afe")
SRC_MAC = bytes.fromhex("020000005aff")
MAX_FRAME = 65535 + 14


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def eth(payload, ethertype=0x0800, dst=DST_MAC, src=SRC_MAC):
    return dst + src + struct.pack("!H", ethertype) + payload


def vlan_stack(n, inner_type=0x0800):
    """n 802.1Q tags; the frame's ethertype must be 0x8100."""
    out = b""
    for i in range(n):
        nxt = 0x8100 if i + 1 < n else inner_type
        out += struct.pack("!HH", i % 4095 + 1, nxt)
    return out


def mpls_stack(n):
    out = b""
    for i in range(n):
        bos = 1 if i + 1 == n else 0
        out += struct.pack("!I", ((16 + i) << 12) | (bos << 8) | 64)
    return out


def ipv4(src, dst, proto, payload, ident=0, frag_off=0, more=False, ttl=64):
    total = 20 + len(payload)
    flags = (0x2000 if more else 0) | (frag_off // 8)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, min(total, 65535), ident & 0xFFFF, flags, ttl, proto, 0, src, dst)
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + payload


def ipv6(src, dst, nxt, payload):
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload) & 0xFFFF, nxt, 64, src, dst) + payload


def _pseudo(src, dst, proto, length):
    if len(src) == 4:
        return src + dst + struct.pack("!BBH", 0, proto, length)
    return src + dst + struct.pack("!IxxxB", length, proto)


def tcp(src, dst, sport, dport, seq, ack, flags, payload=b"", window=65535):
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, window, 0, 0)
    seg = hdr + payload
    c = csum(_pseudo(src, dst, 6, len(seg)) + seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def udp(src, dst, sport, dport, payload):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    c = csum(_pseudo(src, dst, 17, len(seg)) + seg) or 0xFFFF
    return seg[:6] + struct.pack("!H", c) + seg[8:]


SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10


def addr(rng, v6=False):
    """A random address in the benchmarking ranges (198.18.0.0/15, 2001:2::/48)."""
    if v6:
        return bytes.fromhex("20010002") + bytes(2) + rng.randbytes(10)
    return bytes([198, 18 + rng.randrange(2), rng.randrange(256), rng.randrange(1, 255)])


def ip_packet(src, dst, proto, payload):
    if len(src) == 4:
        return ipv4(src, dst, proto, payload), 0x0800
    return ipv6(src, dst, proto, payload), 0x86DD


def connection(rng, client_bytes, server_bytes, dport=80, mss=1400, close=True, v6=False, wrap=None):
    """One TCP connection: handshake, the client's bytes, the server's bytes (interleaved by
    segment), FINs. `wrap(ip_packet, ethertype) -> frame` puts each IP packet in a tunnel;
    default plain Ethernet. Returns the frames."""
    c, s = addr(rng, v6), addr(rng, v6)
    cp = rng.randrange(1024, 65535)
    cseq, sseq = rng.getrandbits(32), rng.getrandbits(32)
    wrap = wrap or (lambda p, t: eth(p, t))
    frames = []

    def send(src, dst, sp, dp, seq, ack, flags, data=b""):
        pkt, et = ip_packet(src, dst, 6, tcp(src, dst, sp, dp, seq, ack, flags, data))
        frames.append(wrap(pkt, et))

    send(c, s, cp, dport, cseq, 0, SYN)
    send(s, c, dport, cp, sseq, cseq + 1, SYN | ACK)
    send(c, s, cp, dport, cseq + 1, sseq + 1, ACK)
    cseq += 1
    sseq += 1
    co = so = 0
    while co < len(client_bytes) or so < len(server_bytes):
        if co < len(client_bytes):
            chunk = client_bytes[co:co + mss]
            send(c, s, cp, dport, cseq + co, sseq + so, PSH | ACK, chunk)
            co += len(chunk)
        elif so < len(server_bytes):
            chunk = server_bytes[so:so + mss]
            send(s, c, dport, cp, sseq + so, cseq + co, PSH | ACK, chunk)
            so += len(chunk)
    if close:
        send(c, s, cp, dport, cseq + co, sseq + so, FIN | ACK)
        send(s, c, dport, cp, sseq + so, cseq + co + 1, FIN | ACK)
        send(c, s, cp, dport, cseq + co + 1, sseq + so + 1, ACK)
    return frames


def write_pcap(path, frames, start=1_700_000_000.0, gap=0.0001):
    """Classic pcap, Ethernet, microseconds; frames longer than MAX_FRAME are cut."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        t = start
        for fr in frames:
            fr = fr[:MAX_FRAME]
            sec = int(t)
            f.write(struct.pack("<IIII", sec, int((t - sec) * 1e6), len(fr), len(fr)))
            f.write(fr)
            t += gap


def new_rng(seed):
    return random.Random(seed)
