"""Faults a client never sees (docs/reliability.md): a transient fault of the store is a
503 with Retry-After, which the SDK rides through; reads survive a full disk; hostile
correlation ids are replaced; health for load balancers; documentation pages offline."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from conftest import CATALOG, CITUS_URL, INGESTED_AT, Server, event, new_client, running_server
from sqlalchemy import func, select

from billable.client import ApiClient, BillingApi
from billable.rules.errors import StoreUnavailable
from billable.service.ingestion import ingest
from billable.service.organizations import create_organization
from billable.store import migrate
from billable.store.database import PING_AFTER_IDLE_SECONDS, Database
from billable.store.tables import events as events_table

REPORT = "/api/v2/billing/reports/billableusage"
EVENTS = "/api/v2/billing/events"
OCTOBER = {"startDate": "2026-10-01", "endDate": "2026-11-01"}


def logins(count: int, prefix: str) -> list[dict[str, object]]:
    """``count`` users, each assigned cx1 and logged in once in October: ``count`` events a kind."""
    made: list[dict[str, object]] = []
    for number in range(count):
        user = f"{prefix}{number}"
        made.append(event("license.assigned", user, "2026-09-01T00:00:00Z", product="cx1", id=f"{user}-a"))
        made.append(event("user.login", user, f"2026-10-{2 + number % 27:02d}T08:00:00Z", id=f"{user}-l"))
    return made


def stored_events(database: Database, org_id: str) -> int:
    with database.read() as conn:
        return int(conn.execute(select(func.count()).select_from(events_table)
                                .where(events_table.c.org_id == org_id)).scalar_one())


def assert_unavailable(answer: httpx.Response, condition: str, retry_after: str) -> None:
    assert answer.status_code == 503, answer.text
    body = answer.json()
    assert body["code"] == "service.unavailable" and body["status"] == 503
    assert body["contextId"] == answer.headers["ININ-Correlation-Id"]
    assert f"the billing database is {condition}" in body["message"]
    assert answer.headers["Retry-After"] == retry_after
    assert "psycopg" not in body["message"] and "sqlite" not in body["message"].lower()


def send_in_background(base: str, client_id: str, secret: str, batches: list[list[dict[str, object]]],
                       results: list[object]) -> threading.Thread:
    """billable's own SDK, as it is, sending ``batches`` one request each; its totals or its
    exception land in ``results``."""

    def send() -> None:
        try:
            with ApiClient(base) as client:
                api = BillingApi(client.login_client_credentials(client_id, secret))
                accepted = duplicates = 0
                for batch in batches:
                    result = api.post_billing_events(batch)
                    accepted, duplicates = accepted + result.accepted, duplicates + result.duplicates
                    time.sleep(0.05)
                results.append((accepted, duplicates))
        except Exception as error:  # the test asserts there is none
            results.append(error)

    thread = threading.Thread(target=send)
    thread.start()
    return thread


def _postgresql_control() -> Callable[[str], object]:
    """Stops (``stop``) or starts (``start``) the PostgreSQL server of the tests: the
    machine's cluster, or on Citus the coordinator (BILLABLE_TEST_CITUS_COORDINATOR_DATA:
    its data directory, run as the postgres user)."""
    coordinator = os.environ.get("BILLABLE_TEST_CITUS_COORDINATOR_DATA") if CITUS_URL else None
    if coordinator:
        pg_ctl = "/usr/lib/postgresql/15/bin/pg_ctl"
        return lambda verb: subprocess.run(["su", "postgres", "-c", f"{pg_ctl} -D {coordinator} -l {coordinator}.log "
                                            f"{verb} -w" + (" -m fast" if verb == "stop" else "")], check=True)
    cluster = shutil.which("pg_ctlcluster")
    assert cluster, "this test restarts the machine's PostgreSQL with pg_ctlcluster"
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[0]
    return lambda verb: subprocess.run([cluster, "--skip-systemctl-redirect", version, "main", verb]
                                       + (["-m", "fast"] if verb == "stop" else []), check=True)


def test_a_postgresql_restart_is_a_503_and_the_sdk_rides_through(postgresql_url: str) -> None:
    control = _postgresql_control()
    database = Database(postgresql_url)
    migrate.upgrade(database)
    with database.write() as conn:
        org = create_organization(conn, "restart", "named", INGESTED_AT)
    client_id, secret = new_client(database, org.id)
    sent = logins(400, "pg")
    batches = [sent[i:i + 50] for i in range(0, len(sent), 50)]
    results: list[object] = []
    with running_server(database.url) as base:
        headers = {"Authorization": "Bearer " + httpx.post(
            f"{base}/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)).json()["access_token"]}
        sender = send_in_background(base, client_id, secret, batches, results)
        time.sleep(0.3)  # some batches land before the restart
        control("stop")
        try:
            assert_unavailable(httpx.post(f"{base}{EVENTS}", headers=headers, json=logins(1, "down")), "unreachable", "2")
            assert_unavailable(httpx.get(f"{base}{REPORT}", params=OCTOBER, headers=headers), "unreachable", "2")
            assert_unavailable(httpx.get(f"{base}/health/ready"), "unreachable", "2")
            assert httpx.get(f"{base}/health/live").json() == {"status": "UP"}
            time.sleep(1)
        finally:
            control("start")
        sender.join(timeout=120)
        assert results and not isinstance(results[0], Exception), results
        assert httpx.get(f"{base}/health/ready").status_code == 200
        report = httpx.get(f"{base}{REPORT}", params=OCTOBER, headers=headers).json()
        log = base.log_text()
    totals = results[0]
    assert isinstance(totals, tuple)
    accepted, duplicates = totals
    assert stored_events(database, org.id) == len(sent)  # every event once: none lost, none doubled
    assert accepted + duplicates == len(sent) and accepted >= len(sent) - 50 * duplicates
    assert {u["name"]: u["totalUsage"] for u in report["usages"]}["cx1"] == "400"
    assert "store unavailable (unreachable), correlation id" in log
    assert "Traceback" not in log, log[log.find("Traceback") - 300:]  # the whole traceback, not pytest's cut
    database.dispose()


def _backend_pid(database: Database) -> int:
    with database.read_one() as conn:
        return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def _terminate(postgresql_url: str, pid: int) -> None:
    """End one server process, as a restart or an idle timeout ends a pooled connection unseen."""
    admin = Database(postgresql_url)
    with admin.read_one() as conn:
        assert conn.exec_driver_sql(f"SELECT pg_terminate_backend({pid})").scalar_one()
    admin.dispose()


def test_a_pooled_connection_that_died_idle_is_replaced_unseen(postgresql_url: str) -> None:
    database = Database(postgresql_url)
    pid = _backend_pid(database)
    assert _backend_pid(database) == pid  # the pool hands the same connection back
    _terminate(postgresql_url, pid)
    time.sleep(PING_AFTER_IDLE_SECONDS + 0.2)
    assert _backend_pid(database) != pid  # pinged, found dead and replaced: no error
    database.dispose()


def test_a_connection_in_use_when_the_server_fails_is_the_only_request_it_fails(postgresql_url: str) -> None:
    """A busy connection is not pinged (a round trip per statement); once one fails, every
    connection put back before is pinged before its next use, so one request fails, not one
    per pooled connection."""
    database = Database(postgresql_url)
    with database.read_one() as first, database.read_one() as second:  # two pooled connections
        pids = {int(c.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()) for c in (first, second)}
    assert len(pids) == 2
    for pid in pids:
        _terminate(postgresql_url, pid)
    try:
        _backend_pid(database)
    except StoreUnavailable as error:
        assert error.condition == "unreachable" and error.retry_after_seconds == 2
    else:
        raise AssertionError("a connection used a moment ago was pinged")
    assert _backend_pid(database) not in pids  # the other dead one was pinged and replaced
    database.dispose()


@dataclass
class Served:
    base: Server
    database: Database
    org_id: str
    headers: dict[str, str]  # a token's
    client: tuple[str, str]  # a client's id and secret, for the SDK


@contextmanager
def sqlite_server(directory: Path, **settings: str) -> Iterator[Served]:
    """A server on a fresh SQLite file in ``directory``, one organization with three users
    logged in, a client and a token."""
    database = Database(f"sqlite:///{directory / 'billable.db'}")
    migrate.upgrade(database)
    with database.write() as conn:
        org = create_organization(conn, "faults", "named", INGESTED_AT)
        ingest(conn, org.id, logins(3, "before"), CATALOG, INGESTED_AT)
    client = new_client(database, org.id)
    try:
        with running_server(database.url, **settings) as base:
            token = httpx.post(f"{base}/oauth/token", data={"grant_type": "client_credentials"}, auth=client)
            yield Served(base, database, org.id, {"Authorization": f"Bearer {token.json()['access_token']}"}, client)
    finally:
        database.dispose()


def test_a_locked_sqlite_database_is_a_503_and_the_sdk_rides_through(tmp_path: Path) -> None:
    with sqlite_server(tmp_path, database_busy_timeout_seconds="0.3") as served:
        blocker = sqlite3.connect(str(tmp_path / "billable.db"), isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another program holds the write lock
        try:
            answer = httpx.post(f"{served.base}{EVENTS}", headers=served.headers, json=logins(1, "locked"))
            assert_unavailable(answer, "busy", "1")
            results: list[object] = []
            # The SDK logs in (a write: refused too) and sends while the lock is held.
            sender = send_in_background(served.base, *served.client, [logins(20, "sdk")], results)
            time.sleep(1.5)
        finally:
            blocker.rollback()
            blocker.close()
        sender.join(timeout=60)
        log = served.base.log_text()
    assert results == [(40, 0)]
    assert stored_events(served.database, served.org_id) == 6 + 40
    assert "store unavailable (busy)" in log


@contextmanager
def small_disk(directory: Path, size: str = "32m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``directory`` (the tests run as root, as CI does)."""
    directory.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)], check=True)
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=True)


def fill(directory: Path) -> Path:
    """Fill the disk of ``directory`` to its last byte; the file that does it."""
    filler = directory / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(descriptor, b"\0" * 4096)
    except OSError as full:
        assert full.errno == errno.ENOSPC
    finally:
        os.close(descriptor)
    return filler


def test_a_full_disk_refuses_writes_with_a_503_and_still_serves_reports(tmp_path: Path) -> None:
    limit = 8
    with small_disk(tmp_path / "disk") as disk, sqlite_server(disk, rate_limit_per_minute=str(limit)) as served:
        filler = fill(disk)
        late = logins(300, "late")
        refused = httpx.post(f"{served.base}{EVENTS}", headers=served.headers, json=late)
        assert_unavailable(refused, "out of space", "5")
        # A report nobody computed yet: computed and served though it cannot be stored.
        for _ in range(2):
            report = httpx.get(f"{served.base}{REPORT}", params=OCTOBER, headers=served.headers)
            assert report.status_code == 200, report.text
            assert report.json()["status"] == "Complete"
            assert [(u["name"], u["totalUsage"]) for u in report.json()["usages"] if u["totalUsage"] != "0"] == [
                ("cx1", "3")]
        # The rate limit's own store is full too: it counts in memory, with the same limit.
        statuses = [httpx.get(f"{served.base}/api/v2/billing/products", headers=served.headers).status_code
                    for _ in range(limit)]
        assert statuses == [200] * (limit - 3) + [429] * 3
        log = served.base.log_text()
        assert "store unavailable (out of space)" in log
        assert "counting in this process's memory" in log
        filler.unlink()  # space again: the same batch goes through, nothing was half stored
        accepted = httpx.post(f"{served.base}{EVENTS}", headers=served.headers, json=late)
        assert accepted.json() == {"accepted": 600, "duplicates": 0}
        assert stored_events(served.database, served.org_id) == 6 + 600


def test_a_correlation_id_is_taken_only_when_short_and_plain(tmp_path: Path) -> None:
    with sqlite_server(tmp_path) as served:
        def sent(correlation: str | bytes) -> str:
            headers: dict[str, str | bytes] = {**served.headers, "ININ-Correlation-Id": correlation}
            answer = httpx.get(f"{served.base}{REPORT}", params=OCTOBER, headers=headers)  # type: ignore[arg-type]  # httpx sends bytes as they are
            assert answer.status_code == 200
            return answer.headers["ININ-Correlation-Id"]

        plain = "order-42_retry.3"
        assert sent(plain) == plain
        assert sent("a" * 128) == "a" * 128
        for hostile in ("a" * 129, "x" * 10_000, "two words", 'quote"d', "semi;colon", "ünï".encode("latin-1")):
            replaced = sent(hostile)
            assert replaced != hostile and str(uuid.UUID(replaced)) == replaced
        log = served.base.log_text()
    assert f'"correlationId": "{plain}"' in log and "x" * 129 not in log and "two words" not in log


def test_health_for_load_balancers(tmp_path: Path) -> None:
    with sqlite_server(tmp_path) as served:
        assert httpx.get(f"{served.base}/health/live").json() == {"status": "UP"}
        assert httpx.get(f"{served.base}/health/ready").json() == {"status": "UP"}


def test_the_api_documentation_pages_work_offline(tmp_path: Path) -> None:
    from playwright.sync_api import Route, sync_playwright
    from test_page import ARGS, CHROMIUM

    with sqlite_server(tmp_path) as served, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        outside: list[str] = []

        def only_this_server(route: Route) -> None:
            if route.request.url.startswith(served.base):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort("internetdisconnected")

        page.route("**/*", only_this_server)
        page.goto(f"{served.base}/docs")
        page.wait_for_selector(".swagger-ui .info .title", timeout=15_000)
        assert page.inner_text(".swagger-ui .info .title").startswith("billable")
        assert page.locator(".opblock-summary-path", has_text="/api/v2/billing/reports/billableusage").count() >= 1
        page.goto(f"{served.base}/redoc")
        page.wait_for_selector("h1", timeout=15_000)
        assert page.inner_text("h1") == "billable (0.1.0)"
        assert page.get_by_text("Billable Usage", exact=True).count() >= 1
        browser.close()
    # Only web fonts and Redoc's own logo, which the pages do without, were asked of anyone else.
    assert all(url.startswith(("https://fonts.googleapis.com/", "https://cdn.redoc.ly/redoc/logo")) for url in outside), outside
