"""Reads cancelled mid-exchange leave no connection behind (issue 14: the soak's attributor held
~20 sockets in CLOSE-WAIT per source after a few hundred windows). A Runner cancels a read at
its deadline; httpcore can keep the connection of such a cancelled request in its pool for good,
never closing it. The client closes its pool at the read after a cancelled one, so every such
connection is closed.

A real HTTP/1.1 keep-alive server on the loopback counts the connections open on its side;
reads are cancelled at random points (deadlines from 0 to 4 ms or to 60 ms) and the
count must come back to the one keep-alive connection of the last read."""

from __future__ import annotations

import asyncio
import random

from collector.sources.http import HttpClient

READS = 800


async def _run() -> tuple[int, int]:
    open_now: set[asyncio.StreamWriter] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        open_now.add(writer)
        try:
            while True:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = await reader.read(4096)
                    if not chunk:
                        return
                    head += chunk
                await asyncio.sleep(0)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            open_now.discard(writer)
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    client = HttpClient(5.0)
    rng = random.Random(1)
    cancelled = 0
    for _ in range(READS):
        try:
            # half cut early (before or while connecting), half anywhere in the exchange
            await asyncio.wait_for(client.get_json(url), rng.choice((0.004, 0.06)) * rng.random())
        except TimeoutError:
            cancelled += 1
    assert await client.get_json(url) == {}  # the last read, whole
    await asyncio.sleep(0.2)  # closes reach the server
    left = len(open_now)
    await client.aclose()
    server.close()
    await server.wait_closed()
    return cancelled, left


def test_connections_of_cancelled_reads_are_closed() -> None:
    cancelled, left = asyncio.run(_run())
    assert cancelled >= 10  # the deadlines did cut reads at many points
    assert left <= 1  # the last read's keep-alive connection, no leaked one
