"""Anonymous clients sending wrong secrets to ``/oauth/token`` in a loop, as fast as the
server answers: ``python login_flood.py BASE CLIENTS SECONDS CLIENT_ID...``. Every other
client logs in as one of the client ids given, the others each time as an id nobody has.
Prints "flooding" as it starts, and the count of each status as JSON when done; stops by
itself after SECONDS."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections import Counter

import httpx


async def flood(base: str, clients: int, seconds: float, client_ids: list[str]) -> Counter[str]:
    statuses: Counter[str] = Counter()
    deadline = time.monotonic() + seconds

    async def one(number: int) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            while time.monotonic() < deadline:
                identity = client_ids[number % len(client_ids)] if number % 2 == 0 and client_ids else str(uuid.uuid4())
                try:
                    answer = await client.post("/oauth/token", data={"grant_type": "client_credentials"},
                                               auth=(identity, "not-the-secret"))
                    statuses[str(answer.status_code)] += 1
                except httpx.HTTPError as error:
                    statuses[type(error).__name__] += 1

    print("flooding", flush=True)
    await asyncio.gather(*(one(number) for number in range(clients)))
    return statuses


if __name__ == "__main__":
    base, clients, seconds, *ids = sys.argv[1:]
    print(json.dumps(asyncio.run(flood(base, int(clients), float(seconds), ids))))
