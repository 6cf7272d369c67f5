#!/usr/bin/env python3
"""Writes the HTTP/2 fixtures of parsers/tests/h2_*.rs with an independent encoder: the
`h2` library (hyper-h2, with `hpack` and `hyperframe`), a client and a server connection
talking to each other in memory.

    pip install h2==4.4.1   # hpack 4.2.0, hyperframe 6.1.0
    python3 make.py

Outputs (committed):
  conversation.txt  the bytes each side wrote, in order: "> hex" client to server,
                    "< hex" server to client, one write per line
  expected.json     per stream, what was sent (from this script's own variables)
  static_table.txt  hpack's static table, "name<TAB>value" per line
  huffman.txt       "hex(plain) hex(huffman)" pairs from hpack's Huffman encoder: every
                    byte value alone, then seeded random strings
  join.txt          a second conversation for the mid-connection tests (see below)
  join.json         its streams
  upgrade.txt       an HTTP/1.1 request upgraded to h2c (Upgrade, 101, then HTTP/2)
"""
import gzip
import json
import random
import struct

import h2.config
import h2.connection
import h2.events
import h2.settings
from hpack.huffman import HuffmanEncoder
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH

rng = random.Random(7541)


class Pair:
    """A client and a server connection; every write is recorded in order."""

    def __init__(self, push=False):
        self.c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
        self.s = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
        self.log = []
        self.c.initiate_connection()
        if not push:
            self.c.update_settings({h2.settings.SettingCodes.ENABLE_PUSH: 0})
        self.s.initiate_connection()
        self.pump()

    def pump(self):
        """Moves bytes both ways until both sides are quiet."""
        while True:
            moved = False
            out = self.c.data_to_send()
            if out:
                self.log.append((">", out))
                self.s.receive_data(out)
                moved = True
            out = self.s.data_to_send()
            if out:
                self.log.append(("<", out))
                self.c.receive_data(out)
                moved = True
            if not moved:
                return

    def write(self, path):
        with open(path, "w") as f:
            for d, b in self.log:
                f.write(f"{d} {b.hex()}\n")


def grpc_msg(body, compressed=False):
    return bytes([1 if compressed else 0]) + struct.pack(">I", len(body)) + body


def main():
    p = Pair(push=True)
    c, s = p.c, p.s
    streams = []

    def req(sid, method, path, extra=(), end=True):
        hdrs = [(":method", method), (":scheme", "http"), (":path", path), (":authority", "api.bank.test")]
        hdrs += list(extra)
        c.send_headers(sid, hdrs, end_stream=end)
        p.pump()

    # 1: GET with a credential in the query and a bearer token; JSON answer.
    body1 = json.dumps({"accounts": [{"iban": "DE89370400440532013000", "balance": 1200}]}).encode()
    req(1, "GET", "/v1/accounts?token=s3cretT0ken&page=2",
        [("user-agent", "bankapp/3.1"), ("authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc")])
    s.send_headers(1, [(":status", "200"), ("content-type", "application/json"), ("content-length", str(len(body1)))])
    s.send_data(1, body1, end_stream=True)
    p.pump()
    streams.append(dict(stream=1, method="GET", uri="/v1/accounts?token=REDACTED&page=2", host="api.bank.test",
                        status=200, request_body_len=0, response_body_len=len(body1), auth_scheme="Bearer",
                        user_agent="bankapp/3.1", response_content_type="application/json"))

    # 3: POST with a body over two DATA frames (the second padded); 201.
    body3 = json.dumps({"from": "DE89370400440532013000", "to": "FR1420041010050500013M02606",
                        "amount": "250.00", "memo": "x" * 200}).encode()
    req(3, "POST", "/v1/payments", [("content-type", "application/json"), ("x-api-key", "k-123456")], end=False)
    c.send_data(3, body3[:100])
    c.send_data(3, body3[100:], end_stream=True, pad_length=17)
    p.pump()
    s.send_headers(3, [(":status", "201"), ("location", "/v1/payments/77")], end_stream=True)
    p.pump()
    streams.append(dict(stream=3, method="POST", uri="/v1/payments", host="api.bank.test", status=201,
                        request_body_len=len(body3), response_body_len=0,
                        request_content_type="application/json", api_key_header="x-api-key"))

    # 5: 404 with a gzip body (decoded length counted) and response trailers.
    plain5 = b'{"error":"not found","detail":"' + b"no such account " * 40 + b'"}'
    gz5 = gzip.compress(plain5, mtime=0)
    req(5, "GET", "/v1/accounts/999")
    s.send_headers(5, [(":status", "404"), ("content-type", "application/json"), ("content-encoding", "gzip")])
    s.send_data(5, gz5)
    s.send_headers(5, [("x-trace", "t-1")], end_stream=True)
    p.pump()
    streams.append(dict(stream=5, method="GET", uri="/v1/accounts/999", status=404,
                        response_body_len=len(plain5), response_body_wire_len=len(gz5),
                        response_trailer_names=["x-trace"]))

    # 7: headers larger than one frame: HEADERS + CONTINUATION.
    big = [(f"x-big-{i}", "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(7000))) for i in range(4)]
    req(7, "GET", "/v1/big", big)
    s.send_headers(7, [(":status", "204")], end_stream=True)
    p.pump()
    streams.append(dict(stream=7, method="GET", uri="/v1/big", status=204,
                        request_header_names=["x-big-0", "x-big-1", "x-big-2", "x-big-3"]))

    # 9: the client resets its request before the answer.
    req(9, "GET", "/v1/slow")
    c.reset_stream(9, error_code=8)
    p.pump()
    streams.append(dict(stream=9, method="GET", uri="/v1/slow", status=None, reset=[">", 8]))

    # 11: a push: the server promises /v1/style.css (stream 2) while answering /v1/page.
    req(11, "GET", "/v1/page")
    s.push_stream(11, 2, [(":method", "GET"), (":scheme", "http"), (":path", "/v1/style.css"),
                          (":authority", "api.bank.test")])
    s.send_headers(11, [(":status", "200"), ("content-type", "text/html")])
    s.send_data(11, b"<html></html>", end_stream=True)
    s.send_headers(2, [(":status", "200"), ("content-type", "text/css")])
    s.send_data(2, b"body{}", end_stream=True)
    p.pump()
    streams.append(dict(stream=11, method="GET", uri="/v1/page", status=200, response_body_len=13))
    streams.append(dict(stream=2, method="GET", uri="/v1/style.css", status=200, response_body_len=6, pushed=True))

    # 13: a unary gRPC call: request message split over three DATA frames, response of two
    # messages in one frame, status 0 in trailers.
    grpc_req = grpc_msg(bytes(rng.randrange(256) for _ in range(120)))
    req(13, "POST", "/bank.v1.Payments/Transfer",
        [("content-type", "application/grpc+proto"), ("te", "trailers"), ("grpc-timeout", "1S")], end=False)
    c.send_data(13, grpc_req[:3])
    c.send_data(13, grpc_req[3:60])
    c.send_data(13, grpc_req[60:], end_stream=True)
    p.pump()
    r1, r2 = grpc_msg(b"\x08\x01" * 10), grpc_msg(b"\x10\x02" * 30, compressed=True)
    s.send_headers(13, [(":status", "200"), ("content-type", "application/grpc+proto")])
    s.send_data(13, r1 + r2)
    s.send_headers(13, [("grpc-status", "0"), ("grpc-message", "OK%20done")], end_stream=True)
    p.pump()
    streams.append(dict(stream=13, method="POST", uri="/bank.v1.Payments/Transfer", status=200,
                        grpc=dict(service="bank.v1.Payments", method="Transfer", request_messages=1,
                                  request_message_bytes=120, response_messages=2, response_message_bytes=80,
                                  compressed_messages=1, status=0, message="OK done", trailers_only=False)))

    # 15: a streaming gRPC call answered trailers-only with NOT_FOUND.
    req(15, "POST", "/bank.v1.Accounts/Watch", [("content-type", "application/grpc")], end=False)
    c.send_data(15, grpc_msg(b"a" * 10) + grpc_msg(b"b" * 20) + grpc_msg(b"c" * 30), end_stream=True)
    s.send_headers(15, [(":status", "200"), ("content-type", "application/grpc"), ("grpc-status", "5"),
                        ("grpc-message", "account not found")], end_stream=True)
    p.pump()
    streams.append(dict(stream=15, method="POST", uri="/bank.v1.Accounts/Watch", status=200,
                        grpc=dict(service="bank.v1.Accounts", method="Watch", request_messages=3,
                                  request_message_bytes=60, response_messages=0, response_message_bytes=0,
                                  compressed_messages=0, status=5, message="account not found",
                                  trailers_only=True)))

    # 17: a request still open when the server goes away with last stream 15.
    req(17, "GET", "/v1/late")
    s.close_connection(error_code=0, last_stream_id=15)
    p.pump()
    streams.append(dict(stream=17, method="GET", uri="/v1/late", status=None, goaway=True))

    p.write("conversation.txt")
    with open("expected.json", "w") as f:
        json.dump(streams, f, indent=1)
        f.write("\n")

    # Huffman vectors from hpack's encoder, which has its own copy of the code table.
    enc = HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH)
    with open("huffman.txt", "w") as f:
        for b in range(256):
            f.write(f"{bytes([b]).hex()} {enc.encode(bytes([b])).hex()}\n")
        for _ in range(200):
            n = rng.randrange(1, 80)
            pool = rng.choice([range(256), range(32, 127), b"abcdefghijklmnopqrstuvwxyz0123456789-/=&?"])
            s_ = bytes(rng.choice(pool) for _ in range(n))
            f.write(f"{s_.hex()} {enc.encode(s_).hex()}\n")

    # The static table as hpack has it (its own transcription of RFC 7541 Appendix A).
    from hpack.table import HeaderTable
    with open("static_table.txt", "w") as f:
        for name, value in HeaderTable.STATIC_TABLE:
            f.write(f"{name.decode()}\t{value.decode()}\n")

    join_conversation()
    upgrade_conversation()


def upgrade_conversation():
    """An HTTP/1.1 request upgraded to h2c: the 101, then stream 1's response over HTTP/2 and
    a second request on stream 3."""
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    s = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
    log = []
    settings = c.initiate_upgrade_connection()
    req = (b"GET /v1/status?api_key=abc123 HTTP/1.1\r\nHost: gw.bank.test\r\nUser-Agent: curl/8\r\n"
           b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: " + settings + b"\r\n\r\n")
    log.append((">", req))
    s.initiate_upgrade_connection(settings)
    switching = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
    body = b'{"status":"up"}'
    s.send_headers(1, [(":status", "200"), ("content-type", "application/json")])
    s.send_data(1, body, end_stream=True)
    log.append(("<", switching + s.data_to_send()))
    out = c.data_to_send()
    log.append((">", out))
    s.receive_data(out)
    c.send_headers(3, [(":method", "GET"), (":scheme", "http"), (":path", "/v1/next"), (":authority", "gw.bank.test")],
                   end_stream=True)
    out = c.data_to_send()
    log.append((">", out))
    s.receive_data(out)
    s.send_headers(3, [(":status", "204")], end_stream=True)
    log.append(("<", s.data_to_send()))
    with open("upgrade.txt", "w") as f:
        for d, b in log:
            f.write(f"{d} {b.hex()}\n")


def join_conversation():
    """Many requests on one connection, for cutting: the early ones fill the client's HPACK
    table with the authority, user agent and a session header; after the cut point the
    client keeps referring to them while each request inserts a unique referer (a static
    name, so the new entries are fully known) until the old entries are evicted and the
    client sends them again as literals."""
    p = Pair()
    c, s = p.c, p.s
    streams = []
    common = [(":scheme", "http"), (":authority", "core.bank.test"), ("user-agent", "teller/9"),
              ("x-session", "sess-" + "q" * 40)]
    sid = 1
    for i in range(40):
        path = f"/v2/ledger/{i}"
        rid = "".join(rng.choice("0123456789abcdef") for _ in range(180))
        referer = f"http://core.bank.test/teller?view={rid}"
        c.send_headers(sid, [(":method", "GET"), (":path", path)] + common + [("referer", referer)],
                       end_stream=True)
        p.pump()
        body = f'{{"entry":{i}}}'.encode()
        s.send_headers(sid, [(":status", "200"), ("content-type", "application/json")])
        s.send_data(sid, body, end_stream=True)
        p.pump()
        streams.append(dict(stream=sid, method="GET", uri=path, status=200, response_body_len=len(body),
                            host="core.bank.test", user_agent="teller/9"))
        sid += 2
    p.write("join.txt")
    with open("join.json", "w") as f:
        json.dump(streams, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
