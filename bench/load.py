"""A load generator for one GET route, run as its own process; prints one JSON line.

Closed loop (``--connections N``): N keep-alive connections each send the next request
as soon as the answer is in; measures the most requests a second the server gives.
Open loop (``--rate R``): requests are due at R a second whatever the server does, and
a request's latency counts from when it was due, so a server that falls behind shows
it (no coordinated omission).

Plain asyncio over HTTP/1.1, so one Python process can keep a server busy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from urllib.parse import urlsplit


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> None:
        self.reader, self.writer, self.request = reader, writer, request

    @classmethod
    async def open(cls, url: str, token: str, gzip: bool) -> "Connection":
        parts = urlsplit(url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80, limit=2**24)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        request = (f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {token}\r\n"
                   "Accept: application/json\r\n" + ("Accept-Encoding: gzip\r\n" if gzip else "") + "\r\n").encode()
        return cls(reader, writer, request)

    async def get(self) -> tuple[int, int]:
        """One request: the status and the body's size."""
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = next(int(line.split(":", 1)[1]) for line in lines[1:] if line.lower().startswith("content-length:"))
        await self.reader.readexactly(length)
        return status, length

    def close(self) -> None:
        self.writer.close()


def _summary(latencies: list[float], errors: int, seconds: float, size: int) -> dict[str, float]:
    ordered = sorted(latencies)

    def percentile(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 2) if ordered else float("nan")

    return {"requests": len(latencies), "errors": errors, "seconds": round(seconds, 2),
            "requests_per_second": round(len(latencies) / seconds, 1), "p50_ms": percentile(0.50),
            "p99_ms": percentile(0.99), "max_ms": percentile(1.0), "body_bytes": size}


async def closed_loop(url: str, token: str, gzip: bool, connections: int, seconds: float) -> dict[str, float]:
    pool = [await Connection.open(url, token, gzip) for _ in range(connections)]
    latencies: list[float] = []
    errors, size = 0, 0
    deadline = time.perf_counter() + seconds

    async def worker(connection: Connection) -> None:
        nonlocal errors, size
        while (began := time.perf_counter()) < deadline:
            status, size = await connection.get()
            latencies.append(time.perf_counter() - began)
            errors += status != 200

    began = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in pool))
    elapsed = time.perf_counter() - began
    for connection in pool:
        connection.close()
    return _summary(latencies, errors, elapsed, size)


async def open_loop(url: str, token: str, gzip: bool, rate: float, seconds: float, connections: int) -> dict[str, float]:
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(await Connection.open(url, token, gzip))
    latencies: list[float] = []
    errors, size = 0, 0

    async def one(due: float) -> None:
        nonlocal errors, size
        connection = await idle.get()
        status, size = await connection.get()
        latencies.append(time.perf_counter() - due)
        errors += status != 200
        idle.put_nowait(connection)

    began = time.perf_counter()
    tasks = []
    for number in range(int(rate * seconds)):
        due = began + number / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - began
    while not idle.empty():
        idle.get_nowait().close()
    return _summary(latencies, errors, elapsed, size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--token", required=True)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rate", type=float, help="open loop at this many requests a second")
    parser.add_argument("--gzip", action="store_true", help="ask for the body gzip-compressed (it is not decompressed)")
    args = parser.parse_args()
    if args.rate:
        result = asyncio.run(open_loop(args.url, args.token, args.gzip, args.rate, args.seconds, max(args.connections, 64)))
    else:
        result = asyncio.run(closed_loop(args.url, args.token, args.gzip, args.connections, args.seconds))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
