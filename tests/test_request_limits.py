"""What a connection may send before a request reaches the app (a head of at most so many
fields and bytes, arriving within a time), and that an answer of ours, a 500 included,
leaves it open and logs what it should once. Through a real `billable serve`, on raw
sockets, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator

import pytest
from conftest import Server, migrated_with_client, running_server
from sqlalchemy import text

from billable.store.database import Database

FIELDS, HEAD_BYTES, HEAD_SECONDS = 100, 16 * 1024, 1.0  # the defaults, and a short time for the test


@pytest.fixture
def server(database: Database) -> Iterator[Server]:
    with running_server(database.url, request_head_timeout_seconds=str(HEAD_SECONDS)) as base:
        yield base


def connect(server: Server) -> socket.socket:
    host, port = server.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def answer_of(connection: socket.socket) -> tuple[int, bytes]:
    """The status and body of the next answer on ``connection`` (by its content-length)."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(65536)
        assert chunk, f"closed without an answer: {received!r}"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    while len(body) < length:
        body += connection.recv(65536)
    return int(head.split(b" ")[1]), body


def request(server: Server, fields: list[tuple[str, str]], target: str = "/health/live") -> tuple[int, bytes]:
    with connect(server) as connection:
        lines = [f"GET {target} HTTP/1.1"] + [f"{name}: {value}" for name, value in fields]
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        return answer_of(connection)


def closed(connection: socket.socket) -> bool:
    try:
        return connection.recv(1) == b""
    except ConnectionResetError:
        return True


def test_a_head_of_too_many_fields_or_bytes_is_refused(server: Server) -> None:
    host = [("Host", "billable")]
    assert request(server, host + [(f"X-Field-{n}", "x") for n in range(FIELDS - 1)])[0] == 200  # at the limit
    status, body = request(server, host + [(f"X-Field-{n}", "x") for n in range(FIELDS)])
    assert status == 431 and json.loads(body)["message"] == f"a request may have at most {FIELDS} header fields"
    assert json.loads(body)["code"] == "request.header.fields.too.large"
    # The URL and every field's name and value count.
    used = len("/health/live") + len("Host") + len("billable") + len("X-Pad")
    assert request(server, host + [("X-Pad", "p" * (HEAD_BYTES - used))])[0] == 200
    status, body = request(server, host + [("X-Pad", "p" * (HEAD_BYTES - used + 1))])
    assert status == 431 and "at most 16384 bytes" in json.loads(body)["message"]
    with connect(server) as connection:  # eight megabytes: refused as soon as the limit is passed
        connection.sendall(b"GET /health/live HTTP/1.1\r\nHost: billable\r\nX-Big: ")
        began = time.monotonic()
        try:
            for _ in range(8 * 16):
                connection.sendall(b"b" * 65536)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed while sending: the answer may be lost with it
        else:
            assert answer_of(connection)[0] == 431
        assert time.monotonic() - began < 5
    assert request(server, host)[0] == 200  # and the server goes on


def test_a_head_sent_too_slowly_is_answered_408_and_closed(server: Server) -> None:
    # Each time from before the connection: the server's clock may start as it accepts, before
    # the client's connect returns (it answered 45 µs short of the limit once, timed after).
    began = time.monotonic()
    with connect(server) as silent:
        assert answer_of(silent)[0] == 408 and closed(silent)
        assert HEAD_SECONDS <= time.monotonic() - began < HEAD_SECONDS + 2
    began = time.monotonic()
    with connect(server) as trickling:
        trickling.sendall(b"GET /health/live HTTP/1.1\r\n")
        with pytest.raises((BrokenPipeError, ConnectionResetError)):
            for number in range(40):  # a field every 0.1 s, for longer than the limit
                trickling.sendall(f"X-Field-{number}: x\r\n".encode())
                time.sleep(0.1)
        assert HEAD_SECONDS <= time.monotonic() - began < HEAD_SECONDS + 2
    with connect(server) as kept_alive:  # each request of a connection has the whole time for its head
        for _ in range(2):
            kept_alive.sendall(b"GET /health/live HTTP/1.1\r\nHost: billable\r\n")
            time.sleep(HEAD_SECONDS * 0.6)
            kept_alive.sendall(b"\r\n")
            assert answer_of(kept_alive)[0] == 200
        kept_alive.sendall(b"GET /health/live HTTP/1.1\r\n")
        status, body = answer_of(kept_alive)
        assert status == 408 and json.loads(body)["code"] == "request.timeout" and closed(kept_alive)


def send(connection: socket.socket, method: str, target: str, headers: dict[str, str]) -> tuple[int, bytes]:
    fields = "".join(f"{name}: {value}\r\n" for name, value in {"Host": "billable", **headers}.items())
    connection.sendall(f"{method} {target} HTTP/1.1\r\n{fields}\r\n".encode())
    return answer_of(connection)


def test_an_unexpected_error_is_one_500_logged_once_and_the_connection_goes_on(empty_url: str) -> None:
    client = migrated_with_client(empty_url)
    database = Database(empty_url)
    with database.write() as conn:
        conn.execute(text("DROP TABLE closed_periods"))  # what no request can mend: a 500
    database.dispose()
    with running_server(empty_url) as server, connect(server) as connection:
        login = f"grant_type=client_credentials&client_id={client.client_id}&client_secret={client.client_secret}"
        connection.sendall(f"POST /oauth/token HTTP/1.1\r\nHost: billable\r\ncontent-type: "
                           f"application/x-www-form-urlencoded\r\ncontent-length: {len(login)}\r\n\r\n{login}".encode())
        token = json.loads(answer_of(connection)[1])["access_token"]
        status, body = send(connection, "GET", "/api/v2/billing/periods", {"Authorization": f"Bearer {token}"})
        assert status == 500 and json.loads(body)["code"] == "internal.server.error"
        context = json.loads(body)["contextId"]
        assert send(connection, "GET", "/health/live", {})[0] == 200  # the same connection, still open
        for _ in range(100):
            log = server.log_text()
            if log.count("/health/live") >= 1:
                break
            time.sleep(0.05)
    # One record, with the trace once: it ends in the error that reached the app.
    assert log.count("unexpected error, correlation id") == 1 and f"correlation id {context}" in log, log
    assert len(re.findall(r"^sqlalchemy\.exc\.\w+: ", log, re.MULTILINE)) == 1, log
    assert "Exception in ASGI application" not in log


def test_the_log_cuts_a_path_no_route_has(server: Server) -> None:
    long_path = "/nowhere/" + "x" * 10_000
    assert request(server, [("Host", "billable")], target=long_path)[0] == 404
    for _ in range(100):
        lines = [line for line in server.log_text().splitlines() if "/nowhere/" in line]
        if lines:
            break
        time.sleep(0.05)
    assert len(lines) == 1 and json.loads(lines[0])["route"] == long_path[:128] + "… (10009 characters)"
