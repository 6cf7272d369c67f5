#!/usr/bin/env python3
"""Several requests on one real TCP connection to nginx (prior-knowledge HTTP/2), for
make.sh: curl 7.88 does not send a second request on a reused prior-knowledge connection.
Usage: client.py PORT"""
import json
import socket
import sys

import h2.config
import h2.connection
import h2.events

port = int(sys.argv[1])
sock = socket.create_connection(("127.0.0.1", port))
conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
conn.initiate_connection()
sock.sendall(conn.data_to_send())
auth = f"127.0.0.1:{port}"
body = json.dumps({"from": "DE89370400440532013000", "to": "FR1420041010050500013M02606",
                   "amount": "250.00"}).encode()
requests = [
    ("GET", "/accounts.json?token=s3cret", [], b""),
    ("GET", "/statement.txt", [], b""),
    ("POST", "/v1/payments", [("content-type", "application/json"), ("content-length", str(len(body)))], body),
    ("GET", "/missing", [], b""),
]


def wait_for(stream_id):
    done = False
    while not done:
        data = sock.recv(65536)
        if not data:
            return
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.DataReceived):
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            if isinstance(ev, h2.events.StreamEnded) and ev.stream_id == stream_id:
                done = True
        sock.sendall(conn.data_to_send())


for method, path, extra, payload in requests:
    sid = conn.get_next_available_stream_id()
    headers = [(":method", method), (":scheme", "http"), (":path", path), (":authority", auth),
               ("user-agent", "bankapp/3.1")] + extra
    conn.send_headers(sid, headers, end_stream=not payload)
    if payload:
        conn.send_data(sid, payload, end_stream=True)
    sock.sendall(conn.data_to_send())
    wait_for(sid)
conn.close_connection()
sock.sendall(conn.data_to_send())
sock.close()
