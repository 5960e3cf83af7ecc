"""Closed periods: a period's report kept as it was when closed, served for good."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import INGESTED_AT, Clock, MakeClient, MakeOrg, bearer, event, new_client, running_server

from billable.client import ApiClient, BillingApi
from billable.rules.instants import HOUR_MS

REPORT = "/api/v2/billing/reports/billableusage"
PERIODS = "/api/v2/billing/periods"
OCTOBER = {"startDate": "2026-10-01T00:00:00Z", "endDate": "2026-11-01T00:00:00Z"}


def test_close_october_then_late_events_do_not_change_it(make_org: MakeOrg, make_client: MakeClient) -> None:
    org = make_org()
    org.ingest([event("license.assigned", "ann", "2026-10-01T00:00:00Z", product="cx1", email="ann@x.com"),
                event("user.login", "ann", "2026-10-02T08:00:00Z")])
    clock = Clock(INGESTED_AT + HOUR_MS)
    client = make_client(clock)
    closer_id, closer_secret = new_client(org.database, org.id, "billing:subscription:view", "billing:period:close",
                                          "billing:usage:ingest")
    closer = bearer(client, closer_id, closer_secret)
    viewer = bearer(client, *new_client(org.database, org.id, "billing:subscription:view"))
    before = client.get(REPORT, params=OCTOBER, headers=viewer).json()
    assert "closed" not in before
    assert client.post(PERIODS, json=OCTOBER, headers=viewer).status_code == 403
    closed = client.post(PERIODS, json=OCTOBER, headers=closer)
    assert closed.status_code == 200, closed.text
    assert closed.json() == {"startDate": "2026-10-01T00:00:00.000Z", "endDate": "2026-11-01T00:00:00.000Z",
                             "closedAt": "2026-11-20T01:00:00.000Z", "closedBy": closer_id, "sequence": 2}
    clock.now += HOUR_MS
    late = [event("license.assigned", "bob", "2026-10-01T00:00:00Z", product="cx1"),
            event("user.login", "bob", "2026-10-03T08:00:00Z")]
    assert client.post("/api/v2/billing/events", json=late, headers=closer).json()["accepted"] == 2
    kept = client.get(REPORT, params=OCTOBER, headers=viewer).json()
    assert kept["usages"] == before["usages"]  # the closed figures: bob's late login is not in them
    assert kept["closed"] == {
        k: closed.json()[k] for k in ("closedAt", "closedBy", "sequence")}
    live = client.get(REPORT, params={**OCTOBER, "endDate": "2026-10-31T00:00:00Z"}, headers=viewer).json()
    assert [u["totalUsage"] for u in live["usages"] if u["name"] == "cx1"] == ["2"]  # another period is live
    # Refusals: an overlap (naming the other), a period not over, the same period again.
    overlap = client.post(PERIODS, json={"startDate": "2026-10-15", "endDate": "2026-11-15"}, headers=closer).json()
    assert overlap["details"][0]["errorCode"] == "overlaps.closed" and "2026-10-01T00:00:00.000Z" in overlap["message"]
    running = client.post(PERIODS, json={"startDate": "2026-11-01", "endDate": "2026-12-01"}, headers=closer).json()
    assert running["details"][0]["errorCode"] == "not.over"
    assert client.post(PERIODS, json=OCTOBER, headers=closer).status_code == 400
    assert client.post(PERIODS, json={"startDate": "soon", "endDate": "later"}, headers=closer).status_code == 400
    listed = client.get(PERIODS, headers=viewer).json()
    assert listed == {"entities": [closed.json()], "total": 1}


def test_sdk_and_command_line(make_org: MakeOrg, tmp_path: Path) -> None:
    org = make_org()
    org.ingest([event("license.assigned", "ann", "2026-10-01T00:00:00Z", product="cx1"),
                event("user.login", "ann", "2026-10-02T08:00:00Z")])
    client_id, secret = new_client(org.database, org.id)
    program = str(Path(sys.executable).with_name("billable"))
    done = subprocess.run([program, "--database", org.database.url, "periods", "close", "--org", org.id,
                           "--start", "2026-09-01", "--end", "2026-10-01"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["closedBy"].startswith("cli:")
    with running_server(org.database.url) as base, ApiClient(host=base).login_client_credentials(client_id, secret) as api:
        billing = BillingApi(api)
        closed = billing.post_billing_periods("2026-10-01", "2026-11-01")
        assert closed.closed_by == client_id and closed.sequence == 2
        report = billing.get_billing_reports_billableusage("2026-10-01", "2026-11-01")
        assert report.closed is not None and report.closed.closed_by == client_id
        assert [int(u.total_usage) for u in report.usages if u.name == "cx1"] == [1]
        assert [p.start_date.month for p in billing.get_billing_periods().entities] == [9, 10]
    listed = subprocess.run([program, "--database", org.database.url, "periods", "list", "--org", org.id],
                            capture_output=True, text=True, check=True)
    assert json.loads(listed.stdout)["total"] == 2
    # A late login after the close: the command line's report of October is the kept one,
    # in every format, and says so; another period is computed live.
    org.ingest([event("license.assigned", "bob", "2026-10-01T00:00:00Z", product="cx1"),
                event("user.login", "bob", "2026-10-03T08:00:00Z")])

    def command_line_report(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([program, "--database", org.database.url, "report", "--org", org.id, *args],
                              capture_output=True, text=True, check=True)

    kept = command_line_report("--start", "2026-10-01", "--end", "2026-11-01", "--format", "json")
    assert json.loads(kept.stdout)["closed"]["closedBy"] == client_id and "closed period" in kept.stderr
    assert [u["totalUsage"] for u in json.loads(kept.stdout)["usages"] if u["name"] == "cx1"] == ["1"]
    assert command_line_report("--start", "2026-10-01", "--end", "2026-11-01", "--format", "csv").stdout.count("\n") == 2
    live = command_line_report("--start", "2026-10-01", "--end", "2026-10-31", "--format", "json")
    assert "closed" not in json.loads(live.stdout) and "closed period" not in live.stderr
    assert [u["totalUsage"] for u in json.loads(live.stdout)["usages"] if u["name"] == "cx1"] == ["2"]


def test_amendments_name_each_change_and_its_cause(make_org: MakeOrg, make_client: MakeClient) -> None:
    """Close October, ingest late events and void one: the amendments list what changed,
    per usage and resource, and the events (or voids) that changed it."""
    org = make_org()
    org.ingest([event("license.assigned", "ann", "2026-10-01T00:00:00Z", id="a0", product="cx1", email="ann@x.com"),
                event("user.login", "ann", "2026-10-02T08:00:00Z", id="a1"),
                event("user.login", "ann", "2026-10-09T08:00:00Z", id="a2")])
    clock = Clock(INGESTED_AT + HOUR_MS)
    client = make_client(clock)
    client_id, secret = new_client(org.database, org.id)
    headers = bearer(client, client_id, secret)
    assert client.get(f"{REPORT}/amendments", params=OCTOBER, headers=headers).status_code == 404  # not closed
    assert client.post(PERIODS, json=OCTOBER, headers=headers).status_code == 200
    unchanged = client.get(f"{REPORT}/amendments", params=OCTOBER, headers=headers).json()
    assert unchanged["usages"] == [] and unchanged["rulesChanged"] is False
    clock.now += HOUR_MS
    late = [event("license.assigned", "bob", "2026-10-01T00:00:00Z", id="b0", product="cx1"),
            event("user.login", "bob", "2026-10-03T08:00:00Z", id="b1")]
    assert client.post("/api/v2/billing/events", json=late, headers=headers).json()["accepted"] == 2
    voided = client.post("/api/v2/billing/events/voids",
                         json=[{"source": "urn:test", "id": "a1", "reason": "a test login"}], headers=headers)
    assert voided.status_code == 200
    answer = client.get(f"{REPORT}/amendments", params=OCTOBER, headers=headers)
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["closed"]["sequence"] == 3 and found["rulesChanged"] is False
    [cx1] = [u for u in found["usages"] if u["name"] == "cx1"]
    assert (cx1["closedTotal"], cx1["currentTotal"]) == ("1", "2")
    changes = {r["name"]: r for r in cx1["resources"]}
    assert changes["bob"]["change"] == "added" and changes["bob"]["closedDate"] is None
    assert {c["id"] for c in changes["bob"]["causes"]} == {"b0", "b1"}
    ann = changes["ann@x.com"]  # her first login voided: billable from her second one now
    assert ann["change"] == "changed"
    assert (ann["closedDate"], ann["currentDate"]) == ("2026-10-02T08:00:00.000Z", "2026-10-09T08:00:00.000Z")
    [cause] = ann["causes"]
    assert cause["id"] == "a1" and cause["voided"] and cause["voidReason"] == "a test login"
    # The closed report itself does not move.
    kept = client.get(REPORT, params=OCTOBER, headers=headers).json()
    assert [(u["totalUsage"], [r["name"] for r in u["resources"]]) for u in kept["usages"] if u["name"] == "cx1"] == [
        ("1", ["ann@x.com"])]


def test_a_catalog_change_after_the_close_keeps_the_figures_and_says_so(make_org: MakeOrg, tmp_path: Path) -> None:
    from conftest import CATALOG
    from test_report_validity import WEM_IN_BASE

    from billable.rules.catalog import Catalog
    from billable.rules.instants import Period
    from billable.service.periods import amendments, close_period
    from billable.store.periods import find_closed

    org = make_org()
    org.ingest([event("license.assigned", "ann", "2026-10-01T00:00:00Z", product="cx1"),
                event("license.assigned", "ann", "2026-10-01T00:00:00Z", product="wem1"),
                event("user.login", "ann", "2026-10-02T08:00:00Z")])
    october = Period.parse("2026-10-01", "2026-11-01")
    with org.database.write() as conn:
        close_period(conn, org.id, october, CATALOG, INGESTED_AT, "finance")
        kept = find_closed(conn, org.id, october)
    changed = tmp_path / "catalog.toml"
    changed.write_text(WEM_IN_BASE)
    with org.database.read() as conn:
        found = amendments(conn, org.id, october, Catalog.load(str(changed)), INGESTED_AT)
        assert find_closed(conn, org.id, october) == kept and kept is not None  # the kept figures do not move
    assert found.rules_changed
    assert [u.name for u in found.usages] == ["cx1"]  # wem1 now outranks cx1 in the base family: cx1 goes


def test_a_close_racing_batches_keeps_a_committed_prefix(make_org: MakeOrg) -> None:
    """Batches of October's events keep arriving while October is closed: the kept report is
    that of whole batches, exactly those its sequence counts, never of half a batch."""
    import threading

    from conftest import CATALOG

    from billable.rules.instants import Period
    from billable.service.ingestion import ingest
    from billable.service.periods import close_period
    from billable.store.periods import find_closed

    org = make_org()
    per_batch, batches = 40, 30  # each batch: 20 users given cx1 who log in in October

    def batch(number: int) -> list[dict]:
        users = [f"u{number}-{n}" for n in range(per_batch // 2)]
        return ([event("license.assigned", user, "2026-10-01T00:00:00Z", product="cx1") for user in users]
                + [event("user.login", user, "2026-10-02T08:00:00Z") for user in users])

    started = threading.Event()

    def feed() -> None:
        for number in range(batches):
            with org.database.write() as conn:
                ingest(conn, org.id, batch(number), CATALOG, INGESTED_AT)
            started.set()

    feeder = threading.Thread(target=feed)
    feeder.start()
    started.wait(30)
    october = Period.parse("2026-10-01", "2026-11-01")
    with org.database.write() as conn:
        closed = close_period(conn, org.id, october, CATALOG, INGESTED_AT, "racer")
    feeder.join()
    with org.database.read() as conn:
        found = find_closed(conn, org.id, october)
    assert found is not None
    whole = closed.sequence // per_batch
    assert closed.sequence == whole * per_batch and 1 <= whole <= batches
    assert [(u.name, u.total_usage) for u in found[1].usages] == [("cx1", str(whole * per_batch // 2))]


def test_a_closed_period_is_served_from_memory_once_read(make_org: MakeOrg) -> None:
    """The kept body is final: read from the store once, then served from memory, never
    computed; the live report of the same period in another process's store is not read."""
    from conftest import CATALOG

    from billable.rules.instants import Period
    from billable.service.periods import close_period
    from billable.service.report_desk import DeskSettings, ReportDesk, Origin
    from billable.wire.writers import REPORT_WRITERS

    org = make_org()
    org.ingest([event("license.assigned", "ann", "2026-10-01T00:00:00Z", product="cx1"),
                event("user.login", "ann", "2026-10-02T08:00:00Z")])
    october = Period.parse("2026-10-01", "2026-11-01")
    desk = ReportDesk(org.database, CATALOG, lambda: INGESTED_AT, DeskSettings(budget_seconds=30), REPORT_WRITERS)
    live = desk.billable_usage(org.id, october)
    assert live.origin is Origin.COMPUTED and "closed" not in json.loads(live.body.json)
    with org.database.write() as conn:
        close_period(conn, org.id, october, CATALOG, INGESTED_AT, "tester")
    org.ingest([event("license.assigned", "bob", "2026-10-01T00:00:00Z", product="cx1"),
                event("user.login", "bob", "2026-10-03T08:00:00Z")])
    first, again = desk.billable_usage(org.id, october), desk.billable_usage(org.id, october)
    assert (first.origin, again.origin) == (Origin.STORE, Origin.MEMORY) and again.body is first.body
    kept = json.loads(again.body.json)
    assert kept["closed"]["closedBy"] == "tester" and kept["usages"][0]["totalUsage"] == "1"
    assert desk.computations == 1
    desk.close()
