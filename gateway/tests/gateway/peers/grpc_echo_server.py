"""A gRPC server (grpcio, generic handlers: no generated stubs) on 127.0.0.1, port 0, in clear
text (h2c). Prints its port, then serves until killed. `echo.Echo/Unary` answers
`echo:<request> app=<x-gateway-application>`; `echo.Echo/Stream` answers three messages."""
from concurrent import futures

import grpc


def unary(request, context):
    metadata = dict(context.invocation_metadata())
    app = metadata.get("x-gateway-application", "")
    context.set_trailing_metadata((("x-echo-trailer", "done"),))
    return b"echo:" + request + b" app=" + app.encode()


def stream(request, context):
    for i in range(3):
        yield request + b"#%d" % i


handlers = grpc.method_handlers_generic_handler(
    "echo.Echo",
    {
        "Unary": grpc.unary_unary_rpc_method_handler(unary),
        "Stream": grpc.unary_stream_rpc_method_handler(stream),
    },
)
server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
server.add_generic_rpc_handlers((handlers,))
port = server.add_insecure_port("127.0.0.1:0")
server.start()
print(port, flush=True)
server.wait_for_termination()
