"""billable on a Citus cluster (docs/operating.md, "Past one machine").

`billable db distribute` is tested everywhere: it refuses where there is no Citus. The rest
needs a coordinator with workers, named by BILLABLE_TEST_CITUS_URL; CI has none (Citus is
not in the registries its machines reach), so those tests are run by hand (conftest.py
deselects them, saying so, when the variable is unset).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from conftest import CATALOG, INGESTED_AT, Clock, bearer, empty_postgresql, event, new_client, running_server, stored_sql
from fastapi.testclient import TestClient
from sqlalchemy import event as sa_event
from sqlalchemy import text

from billable.cli import run
from billable.rules.instants import format_instant
from billable.server import Settings, create_app
from billable.service.organizations import change_model, create_organization
from billable.store import distribution, migrate
from billable.store.database import Database
from billable.store.organizations import Organization

citus = pytest.mark.citus
OCTOBER = {"startDate": "2026-10-01T00:00:00Z", "endDate": "2026-11-01T00:00:00Z"}
REPORT = "/api/v2/billing/reports/billableusage"


def test_distribute_refuses_without_citus(capsys: pytest.CaptureFixture[str]) -> None:
    with empty_postgresql(plain=True) as url:
        assert run(["--database", url, "db", "upgrade"]) == 0
        assert run(["--database", url, "db", "distribute"]) == 1
        said = capsys.readouterr().err
        assert "no citus extension" in said and "CREATE EXTENSION citus" in said


@pytest.fixture
def distributed_url() -> Iterator[str]:
    with empty_postgresql() as url:
        assert run(["--database", url, "db", "upgrade"]) == 0
        assert run(["--database", url, "db", "distribute"]) == 0
        yield url


@citus
def test_distribute_places_every_table_and_again_changes_nothing(distributed_url: str,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    database = Database(distributed_url)
    with database.read() as conn:
        placed = {name: (method, column) for name, method, column in conn.execute(text(
            "SELECT c.relname, p.partmethod, CASE WHEN p.partkey IS NULL THEN NULL "
            "ELSE column_to_column_name(p.logicalrelid, p.partkey) END "
            "FROM pg_dist_partition p JOIN pg_class c ON c.oid = p.logicalrelid "
            "WHERE c.relnamespace = current_schema()::regnamespace"))}
        colocated = {name for (name,) in conn.execute(text(
            "SELECT c.relname FROM pg_dist_partition p JOIN pg_class c ON c.oid = p.logicalrelid "
            "WHERE c.relnamespace = current_schema()::regnamespace AND p.colocationid = "
            "(SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = 'organizations'::regclass)"))}
        # Logged, so that Citus can move its shards online (logical replication skips unlogged tables).
        persistence = conn.execute(text("SELECT relpersistence FROM pg_class WHERE oid = 'request_counts'::regclass"))
        assert persistence.scalar_one() == "p"
    assert placed == {name: ("n", None) if p.column is None else ("h", p.column) for name, p in distribution.PLAN.items()}
    assert colocated == {name for name, p in distribution.PLAN.items() if p.column in ("org_id", "id")}
    capsys.readouterr()
    assert run(["--database", distributed_url, "db", "distribute"]) == 0
    assert "nothing to do" in capsys.readouterr().err
    database.dispose()


@citus
def test_a_distributed_log_stores_a_batch_sent_again_once(distributed_url: str) -> None:
    """On a distributed log, the unique key refuses a batch sent again (Citus reports it as
    the worker's error): the batch is then stored without its duplicates, and a void finds
    its event by its key."""
    from billable.rules.voids import VoidRequest
    from billable.service.ingestion import ingest
    from billable.service.voids import void_events

    database = Database(distributed_url)
    batch = [event("user.login", "ann", "2026-10-02T08:00:00Z", id="k1"),
             event("user.logout", "ann", "2026-10-02T09:00:00Z", id="k2")]
    with database.write() as conn:
        org = create_organization(conn, "keyed", "named", INGESTED_AT)
        assert ingest(conn, org.id, batch, CATALOG, INGESTED_AT).accepted == 2
        again = batch + [event("user.login", "ann", "2026-10-03T08:00:00Z", id="k3")]
        assert ingest(conn, org.id, again, CATALOG, INGESTED_AT + 1).accepted == 1
        assert void_events(conn, org.id, [VoidRequest("urn:test", "k3", "sent by mistake")], "test",
                           INGESTED_AT + 2).voided == 1
        assert conn.execute(text("SELECT count(*) FROM events")).scalar_one() == 3
    database.dispose()


# The rate limit's counts as the code before 0017 made them on first use (store/request_counts.py).
_COUNTS_OF_0016 = ("CREATE TABLE request_counts (org_id VARCHAR(36), counter VARCHAR(64), second BIGINT, "
                   "count INTEGER NOT NULL, PRIMARY KEY (org_id, counter, second))")


@citus
def test_db_upgrade_carries_a_distributed_database() -> None:
    """Distributed at 0005, then upgraded: 0006 adds a column to a distributed table, 0017
    changes the type of every distribution column."""
    with empty_postgresql() as url:
        database = Database(url)
        migrate.upgrade(database, "0005")
        with database.write() as conn:
            conn.execute(text(_COUNTS_OF_0016))
            distribution.distribute(conn)
        migrate.upgrade(database)
        assert migrate.is_current(database)
        with database.write() as conn:
            org = create_organization(conn, "upgraded", "named", INGESTED_AT)
            conn.execute(stored_sql("INSERT INTO computed_reports (org_id, kind, period_start, period_end, subject, "
                                    "computed_under) VALUES (:org, 'k', 0, 1, '', 'u')"), {"org": org.id})
            assert conn.execute(stored_sql("SELECT computed_under FROM computed_reports WHERE org_id = :org"),
                                {"org": org.id}).scalar_one() == "u"
        database.dispose()


@citus
def test_a_distributed_database_of_0016_keeps_its_organizations_through_0017() -> None:
    """0017 undistributes the tables distributed by organization, changes their column to
    ``uuid`` and places them again, colocated: reports, the log and a login are as before."""
    from billable.rules.instants import Period
    from billable.service.ingestion import ingest
    from billable.service.reports import billable_usage_report
    from billable.store.events import EventFilter, list_events
    from billable.store.organizations import get_organization

    october = Period.parse("2026-10-01", "2026-11-01")
    with empty_postgresql() as url:
        database = Database(url)
        migrate.upgrade(database)
        with database.write() as conn:
            orgs = [create_organization(conn, name, "named", INGESTED_AT).id for name in ("one", "two")]
            for org in orgs:
                ingest(conn, org, [event("license.assigned", "ann", "2026-09-01T00:00:00Z", product="cx1"),
                                   event("user.login", "ann", "2026-10-02T08:00:00Z", email="ann@x")],
                       CATALOG, INGESTED_AT)

        def seen() -> list[object]:
            with database.read() as conn:
                return [(billable_usage_report(conn, get_organization(conn, org), october, CATALOG, INGESTED_AT),
                         list_events(conn, org, EventFilter(), None, 10)) for org in orgs]

        before = seen()
        migrate.downgrade(database, "0016")
        with database.write() as conn:
            conn.execute(text(_COUNTS_OF_0016))
            distribution.distribute(conn)
        migrate.upgrade(database)
        assert seen() == before
        with database.read() as conn:
            colocated = {name for (name,) in conn.execute(text(
                "SELECT c.relname FROM pg_dist_partition p JOIN pg_class c ON c.oid = p.logicalrelid "
                "WHERE c.relnamespace = current_schema()::regnamespace AND p.colocationid = "
                "(SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = 'organizations'::regclass)"))}
        assert colocated == {name for name, p in distribution.PLAN.items() if p.column in ("org_id", "id")}
        client_id, secret = new_client(database, orgs[0], "billing:subscription:view")
        with TestClient(create_app(Settings(database_url=url))) as client:
            assert client.get("/api/v2/billing/reports/billableusage", params={
                "startDate": "2026-10-01T00:00:00Z", "endDate": "2026-11-01T00:00:00Z"},
                headers=bearer(client, client_id, secret)).status_code == 200
        database.dispose()


class _Recording(psycopg.Cursor[Any]):
    """A psycopg cursor that keeps every statement it runs, with its first parameters."""

    seen: list[tuple[str, Any]] = []

    def execute(self, query: Any, params: Any = None, **kw: Any) -> Any:
        _Recording.seen.append((str(query), params))
        return super().execute(query, params, **kw)

    def executemany(self, query: Any, params_seq: Any, **kw: Any) -> Any:
        params_seq = list(params_seq)
        if params_seq:
            _Recording.seen.append((str(query), params_seq[0]))
        return super().executemany(query, params_seq, **kw)


class _RecordingServer(psycopg.ServerCursor[Any]):
    """A server-side cursor (a read of many rows, streamed) that keeps its statement likewise."""

    def execute(self, query: Any, params: Any = None, **kw: Any) -> Any:
        _Recording.seen.append((str(query), params))
        return super().execute(query, params, **kw)


def _tasks(explained: list[str]) -> int | None:
    """The Citus task count of a plan, or None for a statement that touches no distributed table."""
    for line in explained:
        if "Task Count:" in line:
            return int(line.split("Task Count:")[1].split()[0])
    return None


# Statements that span shards on purpose, none of them on a hot path.
_ACROSS_SHARDS = (
    "DELETE FROM access_tokens WHERE access_tokens.expires_at <=",  # at a login: tokens of any client expire
)


@citus
def test_every_statement_of_each_hot_path_is_one_task(distributed_url: str) -> None:
    """Ingestion (with a late event), each report kind, an explanation, the event listing, a
    void and a report as of an instant, the token check, the rate limit and the stored-report
    look-up, through the app: each statement sent, planned with EXPLAIN on the coordinator,
    is a single task."""
    # The notifier's passes look across organizations on purpose and are checked by the alerts
    # test below; left running, they were recorded here whenever a pass fell within the test.
    app = create_app(Settings(database_url=distributed_url, alerts_poll_seconds=0), clock=Clock(INGESTED_AT))
    database = app.state.server.billing.database  # which every part of the app uses: its statements are recorded

    def recording(dbapi: psycopg.Connection[Any], _: Any) -> None:
        dbapi.cursor_factory, dbapi.server_cursor_factory = _Recording, _RecordingServer

    sa_event.listen(database.engine, "connect", recording)
    with database.write() as conn:
        org = create_organization(conn, "router", "named", INGESTED_AT)
    client_id, secret = new_client(database, org.id)
    _Recording.seen = []
    with TestClient(app) as client:
        headers = bearer(client, client_id, secret)
        on_time = [event("user.login", f"u{i}", f"2026-10-0{1 + i % 5}T08:00:00Z") for i in range(30)]
        on_time += [event("license.assigned", f"u{i}", "2026-10-01T07:00:00Z", product="cx1") for i in range(30)]
        on_time += [event("user.logout", f"u{i}", f"2026-10-0{1 + i % 5}T17:00:00Z") for i in range(30)]
        on_time += [event("device.active", "d1", "2026-10-02T09:00:00Z", deviceType="phone")]
        on_time += [event("user.login", "u0", "2026-10-06T08:00:00Z")]  # open until the last batch closes it
        late = [event("user.login", "u1", "2026-10-01T06:00:00Z"), event("user.logout", "u1", "2026-10-01T07:30:00Z")]
        closing = [event("user.logout", "u0", "2026-10-06T12:00:00Z"),  # the open session is replaced: a delete
                   event("device.active", "d1", "2026-10-09T09:00:00Z", deviceType="phone")]  # the week is sealed
        for batch in (on_time, late, closing):
            assert client.post("/api/v2/billing/events", json=batch, headers=headers).status_code == 200
        for model in ("named", "concurrent", "hourly"):
            with database.write() as conn:
                change_model(conn, org.id, model)
            for _ in range(2):  # computed, then served from the store's body
                answer = client.get(REPORT, params=OCTOBER, headers=headers)
                assert answer.status_code == 200, answer.text
        assert client.get("/api/v2/billing/reports/concurrentusage", params=OCTOBER, headers=headers).status_code == 200
        # A period from inside a day the device began before: its activity is sought in the log.
        part_days = {"startDate": "2026-10-02T10:00:00Z", "endDate": "2026-10-09T12:00:00Z"}
        devices = client.get(REPORT, params=part_days, headers=headers)
        assert devices.status_code == 200, devices.text
        assert client.get(f"{REPORT}/explain", params={**OCTOBER, "userId": "u1"},
                          headers=headers).status_code == 200
        assert client.get("/api/v2/billing/events", params={"subject": "u1"}, headers=headers).status_code == 200
        voided = client.post("/api/v2/billing/events/voids", headers=headers,
                             json=[{"source": late[0]["source"], "id": late[0]["id"], "reason": "sent twice"}])
        assert voided.status_code == 200, voided.text
        listed = client.get("/api/v2/billing/events", params={"subject": "u1"}, headers=headers).json()["entities"]
        assert [e["voidReason"] for e in listed if e["id"] == late[0]["id"]] == ["sent twice"]
        assert client.get(REPORT, params={**OCTOBER, "asOf": format_instant(INGESTED_AT)}, headers=headers).status_code == 200
    assert any(query.startswith("DELETE FROM sessions") for query, _ in _Recording.seen)
    assert any(query.startswith("SELECT sessions.user_id, sessions.started_at") and "ORDER BY" in query
               for query, _ in _Recording.seen)  # the seal's read, through a server-side cursor
    assert any("string_agg(int8send(" in query for query, _ in _Recording.seen)  # the days after the packed weeks
    assert any("CASE WHEN (device_days.first_active >=" in query for query, _ in _Recording.seen)  # a part day's
    planned, spanning = _planned_tasks(database)
    assert planned > 30
    assert spanning == []


def _planned_tasks(database: Database) -> tuple[int, list[tuple[int, str]]]:
    """How many of the statements recorded touch a distributed table, and those (with their
    task count) that are not a single task."""
    recorded = [(q, p) for q, p in _Recording.seen if q.lstrip().split()[0].upper() in ("SELECT", "INSERT", "UPDATE",
                                                                                            "DELETE", "WITH")]
    spanning, planned = [], 0
    with psycopg.connect(database.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)) as conn:
        for query, params in recorded:
            with conn.cursor() as cursor:
                cursor.execute("EXPLAIN " + query, params)
                tasks = _tasks([row[0] for row in cursor.fetchall()])
            conn.rollback()
            if tasks is None:
                continue
            planned += 1
            if tasks != 1 and not query.startswith(_ACROSS_SHARDS):
                spanning.append((tasks, query[:300]))
    return planned, spanning


@citus
def test_a_partner_reads_a_trusting_organizations_overview_and_its_charges_in_single_tasks(distributed_url: str
                                                                                            ) -> None:
    """Issue 37 on Citus: subscriptions distributed by organization, trusts a reference table
    looked up by trustor and by trustee; the overview equals the report's totals, a stranger
    is refused, and every statement of the overview, the charges and the trustor listing is
    one task."""
    import json

    from billable.rules.instants import Period
    from billable.service.billing import Billing
    from billable.service.organizations import READ_CLIENT_BILLING
    from billable.service.report_requests import BILLABLE_USAGE

    app = create_app(Settings(database_url=distributed_url), clock=Clock(INGESTED_AT))
    database = app.state.server.billing.database
    sa_event.listen(database.engine, "connect", lambda dbapi, _: setattr(dbapi, "cursor_factory", _Recording))
    billing = Billing(database, CATALOG, Clock(INGESTED_AT))
    acme, partner, stranger = (billing.create_organization(name, "named") for name in ("acme", "partner", "stranger"))
    batch = [event("license.assigned", f"u{i}", "2026-10-01T07:00:00Z", product="cx1") for i in range(5)]
    batch += [event("user.login", f"u{i}", "2026-10-02T08:00:00Z") for i in range(5)]
    billing.ingest(acme.id, json.dumps(batch).encode(), 100)
    subscription = {"currency": "EUR", "subscriptionType": "PREPAY", "contractEffectiveDate": "2026-01-01",
                    "usages": [{"name": "cx1", "partNumber": "CX1", "prepayQuantity": "3", "prepayPrice": "10",
                                "overagePrice": "12"}]}
    for org in (acme, stranger):
        billing.set_subscription(org.id, json.dumps(subscription).encode(), "test")
    billing.trust(acme.id, partner.id, "test")
    with database.read() as conn:
        methods: dict[str, str] = dict(conn.execute(text("SELECT logicalrelid::regclass::text, partmethod FROM pg_dist_partition "
                                         "WHERE logicalrelid::regclass::text IN ('subscriptions', 'trusts')")).all())
    assert methods == {"subscriptions": "h", "trusts": "n"}  # by organization (hash); a reference table
    partner_client = new_client(database, partner.id, READ_CLIENT_BILLING)
    own_client = new_client(database, acme.id, "billing:subscription:view")
    _Recording.seen = []
    with TestClient(app) as client:
        headers = bearer(client, *partner_client)
        listed = client.get("/api/v2/orgauthorization/trustors", headers=headers).json()
        assert [t["id"] for t in listed["entities"]] == [acme.id]
        overview = client.get(f"/api/v2/billing/trusteebillingoverview/{acme.id}", params={"billingPeriodIndex": 1},
                              headers=headers)
        assert overview.status_code == 200, overview.text
        report = billing.report(BILLABLE_USAGE, acme.id, Period.parse("2026-10-01", "2026-11-01")).figures
        assert [u["usageQuantity"] for u in overview.json()["usages"]] == [report.usages[0].total_usage] == ["5"]
        refused = client.get(f"/api/v2/billing/trusteebillingoverview/{stranger.id}", headers=headers)
        assert refused.status_code == 403
        charges = client.get(f"{REPORT}/charges", params=OCTOBER, headers=bearer(client, *own_client)).json()
        assert (charges["products"][0]["overageCharge"], charges["total"]) == ("24.00", "54.00")  # 2 over × 12 + 30
    planned, spanning = _planned_tasks(database)
    assert planned > 5
    assert spanning == []


@citus
def test_a_worker_down_is_a_503_with_a_retry_hint_never_a_wrong_report(distributed_url: str) -> None:
    """Stops a worker (BILLABLE_TEST_CITUS_WORKER_DATA: its data directory, run as postgres)."""
    data = os.environ["BILLABLE_TEST_CITUS_WORKER_DATA"]
    database = Database(distributed_url)
    port = int(data.rstrip("/").rsplit("/", 1)[1]) if data.rstrip("/").rsplit("/", 1)[1].isdigit() else None
    orgs: list[Organization] = []
    placements: dict[str, int] = {}
    with database.write() as conn:
        # Organizations are made until both workers hold some (eight alone all fell on one once).
        while len(orgs) < 8 or len(set(placements.values())) < 2:
            assert len(orgs) < 64, placements
            org = create_organization(conn, f"worker {len(orgs)}", "named", INGESTED_AT)
            orgs.append(org)
            placements[org.id] = conn.execute(text(
                "SELECT nodeport FROM pg_dist_shard_placement WHERE shardid = "
                "get_shard_id_for_distribution_column('organizations', CAST(:id AS text))"), {"id": org.id}).scalar_one()
    down = [org for org in orgs if placements[org.id] == port]
    up = [org for org in orgs if placements[org.id] != port]
    assert down and up, placements
    tokens = {}
    with running_server(distributed_url) as base:
        for org in orgs:
            client_id, secret = new_client(database, org.id)
            token = httpx.post(f"{base}/oauth/token", data={"grant_type": "client_credentials"},
                               auth=(client_id, secret)).json()["access_token"]
            tokens[org.id] = {"Authorization": f"Bearer {token}"}
            batch = [event("user.login", "u1", "2026-10-02T08:00:00Z"),
                     event("license.assigned", "u1", "2026-10-01T00:00:00Z", product="cx1")]
            assert httpx.post(f"{base}/api/v2/billing/events", json=batch, headers=tokens[org.id]).status_code == 200
        pg_ctl = "/usr/lib/postgresql/15/bin/pg_ctl"
        subprocess.run(["su", "postgres", "-c", f"{pg_ctl} -D {data} stop -m fast"], check=True)
        try:
            for org in down:
                answer = httpx.get(f"{base}{REPORT}", params=OCTOBER, headers=tokens[org.id])
                # The token may live on a worker that is up or down: either way no report.
                assert answer.status_code == 503, answer.text
                assert answer.headers["Retry-After"] == "2"
                assert answer.json()["code"] == "service.unavailable" and answer.json()["status"] == 503
            for org in up:
                answer = httpx.get(f"{base}{REPORT}", params=OCTOBER, headers=tokens[org.id])
                if answer.status_code == 200:  # its token's shard is up too
                    assert {u["name"]: u["totalUsage"] for u in answer.json()["usages"]}["cx1"] == "1"
                else:
                    assert answer.status_code == 503 and answer.headers["Retry-After"] == "2"
        finally:
            subprocess.run(["su", "postgres", "-c", f"{pg_ctl} -D {data} -l {data}.log start -w"], check=True)
        for org in orgs:
            answer = httpx.get(f"{base}{REPORT}", params=OCTOBER, headers=tokens[org.id])
            assert answer.status_code == 200, answer.text
            assert {u["name"]: u["totalUsage"] for u in answer.json()["usages"]}["cx1"] == "1"
    database.dispose()


@citus
def test_alerts_are_evaluated_and_told_on_a_distributed_database(distributed_url: str) -> None:
    """Issue 38 on Citus: the alerts' tables distributed by organization; an evaluation and
    its outbox, in single tasks but for the two look-ups across organizations a process makes
    at each pass (which organizations moved, which messages are due)."""
    import json

    from billable.rules.instants import parse_instant
    from billable.service.billing import Billing
    from billable.service.webhooks import lease_due

    database = Database(distributed_url)
    sa_event.listen(database.engine, "connect", lambda dbapi, _: setattr(dbapi, "cursor_factory", _Recording))
    clock = Clock(parse_instant("2026-10-20T12:00:00Z"))
    billing = Billing(database, CATALOG, clock)
    org = billing.create_organization("alerted", "named")
    hook = billing.create_webhook(org.id, b'{"url": "http://127.0.0.1:9/hook"}')
    billing.create_alert(org.id, b'{"product": "cx1", "thresholds": [{"quantity": "2"}]}', "test")
    batch = [event("license.assigned", f"u{i}", "2026-10-01T07:00:00Z", product="cx1") for i in range(3)]
    batch += [event("user.login", f"u{i}", "2026-10-02T08:00:00Z") for i in range(3)]
    billing.ingest(org.id, json.dumps(batch).encode(), 100)
    with database.read() as conn:
        methods: dict[str, str] = dict(conn.execute(text(
            "SELECT logicalrelid::regclass::text, partmethod FROM pg_dist_partition WHERE logicalrelid::regclass::text "
            "IN ('alerts', 'alert_states', 'alert_checks', 'webhooks', 'webhook_messages', 'webhook_attempts')")).all())
    assert set(methods.values()) == {"h"} and len(methods) == 6
    _Recording.seen = []
    assert billing.evaluate_alerts(clock.now, 300_000, org.id) == 1
    ((message, endpoint),) = [found for found in lease_due(database, clock.now, 60_000, 50) if found[0].org_id == org.id]
    assert endpoint.id == hook.id and json.loads(message.body)["data"]["value"] == "3"
    planned, spanning = _planned_tasks(database)
    # Only the look-up of the due messages spans the shards: the due checks named the organization.
    assert planned > 5 and [query.split("FROM")[0].strip() for _, query in spanning] == [
        "SELECT webhook_messages.org_id, webhook_messages.id"]
    database.dispose()
