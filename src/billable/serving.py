"""``billable serve --workers N``: N server processes on one port, each listening on its
own socket (``SO_REUSEPORT``), so that the kernel spreads new connections across them.

With one listening socket shared by every process (uvicorn's ``--workers``), the process
that wakes first accepts every connection waiting: a client that opens its keep-alive
connections at once (a load balancer, a pool) often has all of them served by one process
while the others idle (seen here: all 8 of 8 on one of two processes in half the tries,
docs/performance.md). The kernel hashes each connection to one of the sockets instead.

The parent starts the processes, starts a new one for any that dies (one that could not
start, for its port or its app, stops them all), and stops them all on SIGINT or SIGTERM.
Outside Linux (where ``SO_REUSEPORT`` is missing or does not spread connections),
uvicorn's own supervisor serves.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import sys
import threading
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

_SPREADS = sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")


def serve(app: str, host: str, port: int, workers: int, **options: Any) -> None:
    """Serve ``app`` (an import string) on ``host:port`` with ``workers`` processes;
    ``options`` are uvicorn's."""
    if workers == 1 or not _SPREADS:
        uvicorn.run(app, host=host, port=port, workers=workers, **options)
        return
    _Supervisor(app, host, port, workers, options).run()


class _Supervisor:
    def __init__(self, app: str, host: str, port: int, workers: int, options: dict[str, Any]):
        self._arguments = (app, host, port, options)
        self._spawn = multiprocessing.get_context("spawn")
        self._workers = workers
        self._stop = threading.Event()

    def _start(self) -> BaseProcess:
        process = self._spawn.Process(target=_serve_one, args=self._arguments, name="billable-server")
        process.start()
        return process

    def run(self) -> None:
        for caught in (signal.SIGINT, signal.SIGTERM):
            signal.signal(caught, lambda number, frame: self._stop.set())
        processes = [self._start() for _ in range(self._workers)]
        try:
            while not self._stop.wait(0.5):
                for index, process in enumerate(processes):
                    if process.is_alive():
                        continue
                    if process.exitcode == STARTUP_FAILURE:  # would fail again: the port, the app
                        raise SystemExit(f"a server process could not start (exit code {process.exitcode})")
                    processes[index] = self._start()
        finally:
            for process in processes:
                process.terminate()  # SIGTERM: uvicorn finishes the requests under way
            for process in processes:
                process.join()


def _serve_one(app: str, host: str, port: int, options: dict[str, Any]) -> None:
    """One server process: its own socket on the shared port, then uvicorn on it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listening.bind((host, port))
    except OSError as error:
        print(f"cannot listen on {host}:{port}: {error}", file=sys.stderr)
        raise SystemExit(STARTUP_FAILURE) from None
    # Bound, not listening yet: uvicorn listens once the app has started, so that no
    # connection waits on a process that is not ready (or that fails to start).
    uvicorn.Server(uvicorn.Config(app, host=host, port=port, **options)).run(sockets=[listening])
