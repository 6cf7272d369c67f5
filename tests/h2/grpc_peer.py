"""A small gRPC server and client for tests/h2_live.rs, on Debian's python3-grpcio.

No protobuf: the methods take and return raw bytes (grpcio's default serializers pass bytes
through), so the test knows every message's exact length.

    grpc_peer.py serve PORT     serves bank.v1.Accounts on 127.0.0.1:PORT until killed
    grpc_peer.py call PORT      makes the calls below on one channel (one TCP connection)
                                and prints one JSON line per call
"""
import json
import sys
import time
from concurrent import futures

import grpc

SERVICE = "bank.v1.Accounts"
ACCOUNT = b"\x0a\x05acc-1\x12\x03GBP"   # 12 bytes
TRANSACTIONS = [b"tx-0001", b"tx-0002", b"tx-0003"]  # 7 bytes each


def serve(port):
    def get(request, context):
        return ACCOUNT

    def missing(request, context):
        context.abort(grpc.StatusCode.NOT_FOUND, "no such account")

    def transactions(request, context):
        for t in TRANSACTIONS:
            yield t

    def upload(request_iterator, context):
        n = sum(1 for _ in request_iterator)
        return bytes([n])

    handlers = {
        "Get": grpc.unary_unary_rpc_method_handler(get),
        "Missing": grpc.unary_unary_rpc_method_handler(missing),
        "Transactions": grpc.unary_stream_rpc_method_handler(transactions),
        "Upload": grpc.stream_unary_rpc_method_handler(upload),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    server.add_insecure_port("127.0.0.1:%d" % port)
    server.start()
    print("ready", flush=True)
    server.wait_for_termination()


def call(port):
    md = (("authorization", "Bearer grpc-live-secret-token"),)
    with grpc.insecure_channel("127.0.0.1:%d" % port) as ch:
        grpc.channel_ready_future(ch).result(timeout=10)
        out = []
        r = ch.unary_unary("/%s/Get" % SERVICE)(b"\x0a\x04id-1", metadata=md)
        out.append({"method": "Get", "code": 0, "request": [6], "response": [len(r)]})
        try:
            ch.unary_unary("/%s/Missing" % SERVICE)(b"\x0a\x04id-9", metadata=md)
            out.append({"method": "Missing", "code": 0})
        except grpc.RpcError as e:
            out.append({"method": "Missing", "code": e.code().value[0], "request": [6], "response": []})
        rs = list(ch.unary_stream("/%s/Transactions" % SERVICE)(b"\x0a\x05acc-1", metadata=md))
        out.append({"method": "Transactions", "code": 0, "request": [7], "response": [len(x) for x in rs]})
        parts = [b"p" * 100, b"q" * 2000, b"r" * 30000]
        ch.stream_unary("/%s/Upload" % SERVICE)(iter(parts), metadata=md)
        out.append({"method": "Upload", "code": 0, "request": [len(p) for p in parts], "response": [1]})
        # Let the last frames (trailers, acknowledgements) reach the wire before the close.
        time.sleep(0.2)
    for o in out:
        print(json.dumps(o), flush=True)


if __name__ == "__main__":
    {"serve": serve, "call": call}[sys.argv[1]](int(sys.argv[2]))
