"""Fixtures: a real SQLite file and a real PostgreSQL database, migrated once per run.

Tests never share an organization, so they need no rollback to stay independent: every
test makes its own organizations in the shared databases.
"""

from __future__ import annotations

import itertools
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import TextClause, TextualSelect, bindparam, column, create_engine, text

from billable.rules.catalog import Catalog
from billable.rules.instants import parse_instant
from billable.service.ingestion import IngestResult, ingest
from billable.service.organizations import PERMISSIONS, NewClient, create_client, create_organization
from billable.store import migrate
from billable.store.database import Database
from billable.store.organizations import Organization
from billable.store.tables import OrgId, OrgKey, metadata

POSTGRES_ADMIN_URL = os.environ.get("BILLABLE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
# A Citus coordinator (with the citus extension and its workers added in that database):
# when set, the PostgreSQL half of the suite runs there, distributed (docs/operating.md).
CITUS_URL = os.environ.get("BILLABLE_TEST_CITUS_URL")
CATALOG = Catalog.load()
INGESTED_AT = parse_instant("2026-11-20T00:00:00Z")  # the clock while tests ingest October


def stored_sql(sql: str, numbered: bool | None = None) -> TextClause | TextualSelect:
    """A statement written in SQL, its ``:org`` parameter given as the store keeps an
    organization in the table it names: by its number on SQLite where ``numbered`` (a table
    of ``OrgKey``; None: as the tables module says of the table after ``FROM``, ``INTO`` or
    ``UPDATE``), else by its id (``OrgId``: 16 bytes on SQLite, a ``uuid`` on PostgreSQL).
    A selected ``org_id`` is taken as an id: a numbered table's is read through its ``Table``."""
    if numbered is None:
        named = re.search(r"\b(?:FROM|INTO|UPDATE)\s+(\w+)", sql, re.IGNORECASE)
        numbered = named is not None and named[1] in metadata.tables and isinstance(
            metadata.tables[named[1]].c.get("org_id", column("org_id", OrgId())).type, OrgKey)
    kind = OrgKey() if numbered else OrgId()
    statement = text(sql).bindparams(bindparam("org", type_=kind)) if ":org" in sql else text(sql)
    if sql.lstrip().upper().startswith("SELECT ORG_ID"):
        assert not numbered, "a numbered table's org_id is read through its Table"
        return statement.columns(org_id=kind)
    return statement


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a Citus coordinator the tests marked ``citus`` are deselected, and the run says so."""
    if CITUS_URL:
        return
    deselected = [item for item in items if item.get_closest_marker("citus")]
    if deselected:
        items[:] = [item for item in items if not item.get_closest_marker("citus")]
        config.hook.pytest_deselected(items=deselected)


def pytest_report_header() -> str:
    return (f"Citus: {CITUS_URL} (PostgreSQL tests run distributed)" if CITUS_URL else
            "Citus: BILLABLE_TEST_CITUS_URL unset: the tests marked citus are deselected (run them by hand)")


@contextmanager
def empty_postgresql(plain: bool = False) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards; on Citus (unless
    ``plain``), of a new schema of the coordinator's database (a new database would need
    the extension and the workers added again)."""
    name = f"billable_test_{uuid.uuid4().hex[:10]}"
    if CITUS_URL and not plain:
        with citus_schema(name) as url:
            yield url
        return
    # Pinged before use: a test restarts PostgreSQL (test_faults.py) under the pooled connection.
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def citus_schema(name: str) -> Iterator[str]:
    assert CITUS_URL
    admin = create_engine(CITUS_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        yield admin.url.update_query_dict({"options": f"-csearch_path={name}"}).render_as_string(hide_password=False)
    finally:
        for attempt in range(10):  # right after a worker restarts, Citus may refuse the first tries
            try:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
                break
            except Exception:
                if attempt == 9:
                    raise
                time.sleep(1)
        admin.dispose()


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    with empty_postgresql() as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'billable.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database nobody has touched, for tests of migrations and of the command line."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        with empty_postgresql() as url:
            yield url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> Iterator[Database]:
    """Each test that takes it runs once on SQLite and once on PostgreSQL."""
    url = request.getfixturevalue(f"{request.param}_url")
    database = Database(url)
    migrate.upgrade(database)
    if CITUS_URL and request.param == "postgresql":
        from billable.store import distribution

        with database.write() as conn:
            distribution.distribute(conn)
    yield database
    database.dispose()


class Org:
    """A test organization with helpers to feed it."""

    def __init__(self, database: Database, organization: Organization):
        self.database = database
        self.organization = organization
        self.id = organization.id

    def ingest(self, events: list[dict[str, Any]], now: int = INGESTED_AT) -> IngestResult:
        with self.database.write() as conn:
            return ingest(conn, self.id, events, CATALOG, now)


MakeOrg = Callable[..., Org]  # make_org(model="named"): a new organization in the test's database


@pytest.fixture
def make_org(database: Database) -> MakeOrg:
    def make(model: str = "named") -> Org:
        with database.write() as conn:
            return Org(database, create_organization(conn, f"test {uuid.uuid4().hex[:6]}", model, INGESTED_AT))

    return make


_ids = itertools.count(1)


def event(kind: str, subject: str, time: str | int, source: str = "urn:test", id: str | None = None, **data: str) -> dict[str, Any]:
    """A CloudEvent for tests; ``time`` as text, or epoch ms."""
    from billable.rules.instants import format_instant

    body: dict[str, Any] = {
        "specversion": "1.0",
        "id": id or f"t{next(_ids)}",
        "source": source,
        "type": kind,
        "time": time if isinstance(time, str) else format_instant(time),
        "subject": subject,
    }
    if data:
        body["data"] = data
    return body


class Clock:
    """A clock a test can move."""

    def __init__(self, now: int):
        self.now = now

    def __call__(self) -> int:
        return self.now


MakeClient = Callable[..., "TestClient"]  # make_client(clock=None, **settings): a client of a new app
# The tests' apps and servers share their database's failed-login counts, and log in from one
# address: a test of that limit sets its own (and logs in from addresses of its own).
UNLIMITED_FAILED_LOGINS = 1_000_000


@pytest.fixture
def make_client(database: Database) -> Iterator[MakeClient]:
    """A real app on the test database, driven through Starlette's TestClient (lifespan included)."""
    from billable.server import Settings, create_app

    opened = []

    def make(clock: Clock | None = None, **settings: Any) -> TestClient:
        settings.setdefault("login_failures_per_minute", UNLIMITED_FAILED_LOGINS)
        settings.setdefault("alerts_poll_seconds", 0)  # no alerts evaluated nor webhooks sent, unless a test asks
        app = create_app(Settings(database_url=database.url, **settings), clock=clock or Clock(INGESTED_AT))
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


def new_client(database: Database, org_id: str, *permissions: str, name: str = "") -> tuple[str, str]:
    with database.write() as conn:
        made = create_client(conn, org_id, list(permissions or PERMISSIONS), INGESTED_AT, name)
    return made.client_id, made.client_secret


def migrated_with_client(url: str) -> NewClient:
    """The database at ``url`` migrated, with a new organization and a client of every
    permission."""
    database = Database(url)
    migrate.upgrade(database)
    with database.write() as conn:
        org = create_organization(conn, f"test {uuid.uuid4().hex[:6]}", "named", 0)
        client = create_client(conn, org.id, list(PERMISSIONS), 0)
    database.dispose()
    return client


def bearer(client: TestClient, client_id: str, secret: str) -> dict[str, str]:
    answer = client.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server(str):
    """The base URL of a running server, with its process id and the path of its log."""

    log: Path
    pid: int

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def running_server(database_url: str, **env: str) -> Iterator[Server]:
    """A real `billable serve` process on a free local port; yields its base URL. ``env``:
    settings, as BILLABLE_ variables (``workers="2"``: two server processes)."""
    import subprocess
    import sys
    import tempfile
    import time
    import urllib.request

    port = free_port()
    env.setdefault("login_failures_per_minute", str(UNLIMITED_FAILED_LOGINS))
    program = str(Path(sys.executable).with_name("billable"))
    environment = {**os.environ, "BILLABLE_DATABASE_URL": database_url, **{f"BILLABLE_{k.upper()}": v for k, v in env.items()}}
    # The log goes to a file: a pipe nobody reads would fill and stall the server.
    with tempfile.NamedTemporaryFile(prefix="billable-serve-", suffix=".log", delete=False) as log:
        process = subprocess.Popen([program, "serve", "--port", str(port)], env=environment,
                                   stdout=subprocess.DEVNULL, stderr=log)
    base = Server(f"http://127.0.0.1:{port}")
    base.log, base.pid = Path(log.name), process.pid
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{base}/openapi.json", timeout=1)
                break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(base.log_text() or "server died")
                time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # stuck: what each thread was doing goes with the failure
            import signal
            process.send_signal(signal.SIGUSR1)
            time.sleep(1)
            process.kill()
            process.wait()
            raise AssertionError(f"the server did not stop within 10 s; its log:\n{base.log_text()[-20_000:]}")
        finally:
            base.log.unlink(missing_ok=True)


def close_official(api_client: Any) -> None:
    """Close the official SDK's connection pool (it offers no close of its own)."""
    api_client.get_http_client().rest_client.pool_manager.clear()


def maintenance_counts(database: Database, table: str, reached: Callable[[int, int], bool] = lambda *_: True
                       ) -> tuple[int, int]:
    """How often ``table`` was analyzed and vacuumed on PostgreSQL, waiting up to 5 s for
    ``reached(analyzed, vacuumed)``: the statistics collector reports within a moment."""
    for _ in range(50):
        with database.read() as conn:  # a new transaction sees the collector's new figures
            analyzed, vacuumed = conn.execute(text(
                "SELECT coalesce(sum(analyze_count), 0), coalesce(sum(vacuum_count), 0) FROM pg_stat_user_tables "
                "WHERE relname = :table"), {"table": table}).one()
        if reached(analyzed, vacuumed):
            break
        time.sleep(0.1)
    return analyzed, vacuumed
