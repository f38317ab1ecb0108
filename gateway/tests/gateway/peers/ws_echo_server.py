"""A WebSocket echo server (the `websockets` package) on 127.0.0.1, port 0. Prints its port,
then serves until killed. Each text message is answered with `echo:<message> app=<the
x-gateway-application header of the handshake>`; the message `close` makes the server close
the connection (code 1000, reason `server done`)."""
import asyncio

from websockets.asyncio.server import serve


async def echo(ws):
    app = ws.request.headers.get("x-gateway-application", "")
    async for message in ws:
        if message == "close":
            await ws.close(1000, "server done")
            return
        await ws.send(f"echo:{message} app={app}")


async def main():
    async with serve(echo, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        print(port, flush=True)
        await asyncio.get_running_loop().create_future()


asyncio.run(main())
