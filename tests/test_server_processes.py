"""`billable serve --workers N`: N processes, each listening on the port with its own socket
(serving.py). Which process holds a connection is read from Linux's /proc."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from conftest import free_port, running_server

from billable.store.database import Database

_LISTEN, _ESTABLISHED = "0A", "01"  # states in /proc/net/tcp


def _servers(pid: int, port: int) -> list[int]:
    """The child processes of ``pid`` listening on ``port`` (not multiprocessing's helpers)."""
    listening = _sockets(port, _LISTEN)
    children = [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return [child for child in children if _held_by(child, listening)]


def _sockets(port: int, state: str) -> set[str]:
    """The inodes of the IPv4 sockets on local ``port`` in ``state``."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == state:
            found.add(fields[9])
    return found


def _held_by(pid: int, inodes: set[str]) -> set[str]:
    """Which of the socket ``inodes`` the process ``pid`` has open (none, once it is gone)."""
    held = set()
    try:
        for descriptor in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(descriptor)
            except FileNotFoundError:  # closed meanwhile
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                held.add(target[8:-1])
    except FileNotFoundError:
        pass
    return held


def _until(condition: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.05)


def test_connections_opened_at_once_are_spread_over_the_processes(database: Database) -> None:
    """Sixteen connections opened together: each process serves some. With one socket
    shared, the process that woke first took them all in about half the tries."""
    with running_server(database.url, workers="2") as base:
        port = int(base.rsplit(":", 1)[1])
        _until(lambda: len(_sockets(port, _LISTEN)) == 2)  # each process listening on its own
        workers = _servers(base.pid, port)
        assert len(workers) == 2
        opened = [socket.create_connection(("127.0.0.1", port)) for _ in range(16)]
        try:

            def served() -> list[int]:  # the connections each process has accepted
                established = _sockets(port, _ESTABLISHED)
                return [len(_held_by(worker, established)) for worker in workers]

            _until(lambda: sum(served()) == 16)
            assert min(served()) > 0, served()
        finally:
            for connection in opened:
                connection.close()


def test_a_process_that_dies_is_replaced(database: Database) -> None:
    with running_server(database.url, workers="2") as base:
        port = int(base.rsplit(":", 1)[1])
        _until(lambda: len(_sockets(port, _LISTEN)) == 2)
        first, second = _servers(base.pid, port)
        os.kill(first, signal.SIGKILL)
        _until(lambda: len(_servers(base.pid, port)) == 2 and first not in _servers(base.pid, port))
        assert second in _servers(base.pid, port)
        for _ in range(10):  # whichever process takes them, each is answered
            assert httpx.get(f"{base}/openapi.json", headers={"Connection": "close"}).status_code == 200


def test_a_port_in_use_stops_the_server_with_the_reason(database: Database) -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        program = str(Path(sys.executable).with_name("billable"))
        done = subprocess.run([program, "--database", database.url, "serve", "--port", str(port), "--workers", "2"],
                              capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "a server process could not start" in done.stderr
