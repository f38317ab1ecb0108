"""A WebSocket client (the `websockets` package): `ws_client.py URL TOKEN` (`-`: no token)
connects, sends `hi`, reads the answer, then closes itself (`client`) or asks the server to
close (`server`) as the third argument says, and prints one JSON line: the handshake's HTTP
status when it was refused, else the answer and how the connection closed."""
import asyncio
import json
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus


async def main():
    url, token, closer = sys.argv[1:4]
    headers = {} if token == "-" else {"Authorization": "Bearer " + token}
    out = {}
    try:
        async with connect(url, additional_headers=headers, open_timeout=10) as ws:
            await ws.send("hi")
            out["answer"] = await asyncio.wait_for(ws.recv(), 10)
            if closer == "server":
                await ws.send("close")
                try:
                    await asyncio.wait_for(ws.recv(), 10)
                except ConnectionClosed:
                    pass
            else:
                await ws.close(1000, "client done")
            out["close_code"] = ws.close_code
            out["close_reason"] = ws.close_reason
    except InvalidStatus as e:
        out["status"] = e.response.status_code
    print(json.dumps(out), flush=True)


asyncio.run(main())
