"""A grpcio client: `grpc_call.py TARGET unary|stream TOKEN` calls echo.Echo through TARGET
(h2c) with `authorization: Bearer TOKEN` (none when TOKEN is `-`) and prints one JSON line:
the status code's name, its details, the replies and the trailing metadata."""
import json
import sys

import grpc

target, kind, token = sys.argv[1:4]
metadata = [] if token == "-" else [("authorization", "Bearer " + token)]
out = {"code": "OK", "details": None, "replies": [], "trailers": {}}
with grpc.insecure_channel(target) as channel:
    try:
        if kind == "unary":
            reply, call = channel.unary_unary("/echo.Echo/Unary").with_call(
                b"hi", metadata=metadata, timeout=20
            )
            out["replies"] = [reply.decode()]
            out["trailers"] = dict(call.trailing_metadata() or ())
        else:
            replies = channel.unary_stream("/echo.Echo/Stream")(b"hi", metadata=metadata, timeout=20)
            out["replies"] = [r.decode() for r in replies]
    except grpc.RpcError as e:
        out["code"] = e.code().name
        out["details"] = e.details()
print(json.dumps(out), flush=True)
