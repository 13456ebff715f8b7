"""A TCP proxy for failure tests: forwards connections to a target, and on request corrupts one
byte of the client-to-server stream of the N-th connection, or dies (cutting every connection).

usage: fault_proxy.py LISTEN_PORT TARGET_HOST TARGET_PORT [--corrupt-connection N --corrupt-at BYTE]
Prints "READY" when listening.
"""
import argparse
import asyncio
import sys

ap = argparse.ArgumentParser()
ap.add_argument("port", type=int)
ap.add_argument("host")
ap.add_argument("target_port", type=int)
ap.add_argument("--corrupt-connection", type=int, default=-1)
ap.add_argument("--corrupt-at", type=int, default=-1)
a = ap.parse_args()
count = 0


async def pump(reader, writer, corrupt_at=-1):
    offset = 0
    try:
        while True:
            data = await reader.read(1 << 16)
            if not data:
                break
            if 0 <= corrupt_at - offset < len(data):
                i = corrupt_at - offset
                data = data[:i] + bytes([data[i] ^ 0x5A]) + data[i + 1:]
                print(f"corrupted byte {corrupt_at}", flush=True)
            offset += len(data)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def handle(reader, writer):
    global count
    index = count
    count += 1
    try:
        tr, tw = await asyncio.open_connection(a.host, a.target_port)
    except OSError:
        writer.close()
        return
    corrupt = a.corrupt_at if index == a.corrupt_connection else -1
    await asyncio.gather(pump(reader, tw, corrupt), pump(tr, writer))


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", a.port)
    print("READY", flush=True)
    async with server:
        await server.serve_forever()

asyncio.run(main())
