"""Voiding events: the route, its refusals, the derived state rebuilt, the SDK, the command
line, and the engine against the reference with random voids among random batches."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import CATALOG, INGESTED_AT, Clock, MakeClient, MakeOrg, bearer, event, new_client, running_server
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from reference import reference_report
from test_engine_properties import load_scenario, scenarios

from billable.client import ApiClient, BadRequestError, BillingApi
from billable.rules.catalog import LicensingModel
from billable.rules.events import validate_events
from billable.rules.instants import HOUR_MS, Period
from billable.rules.voids import VoidRequest
from billable.service.ingestion import ingest
from billable.service.reports import billable_usage_report
from billable.service.voids import void_events
from billable.store.database import Database
from billable.store.organizations import get_organization

EVENTS = "/api/v2/billing/events"
VOIDS = "/api/v2/billing/events/voids"
REPORT = "/api/v2/billing/reports/billableusage"
OCTOBER = {"startDate": "2026-10-01T00:00:00Z", "endDate": "2026-11-01T00:00:00Z"}
VIEW, INGEST, VOID = "billing:subscription:view", "billing:usage:ingest", "billing:events:void"


def charged(report: dict[str, Any]) -> dict[str, list[str]]:
    return {u["name"]: sorted(r["name"] for r in u["resources"]) for u in report["usages"]}


def wrong_assignment() -> list[dict[str, Any]]:
    """ann holds cx1 and logs in; the platform assigned cx1 to bob by mistake (he logs in too)."""
    return [
        event("license.assigned", "ann", "2026-10-01T00:00:00Z", id="a1", product="cx1", email="ann@x.com"),
        event("user.login", "ann", "2026-10-02T08:00:00Z", id="a2"),
        event("license.assigned", "bob", "2026-10-01T00:00:00Z", id="b1", product="cx1", email="bob@x.com"),
        event("user.login", "bob", "2026-10-03T08:00:00Z", id="b2"),
    ]


def test_a_wrong_assignment_found_by_listing_and_voided(make_org: MakeOrg, make_client: MakeClient) -> None:
    org = make_org()
    org.ingest(wrong_assignment())
    client = make_client(Clock(INGESTED_AT + HOUR_MS))
    client_id, secret = new_client(org.database, org.id, VIEW, INGEST, VOID)
    headers = bearer(client, client_id, secret)
    assert charged(client.get(REPORT, params=OCTOBER, headers=headers).json()) == {"cx1": ["ann@x.com", "bob@x.com"]}
    found = client.get(EVENTS, params={"subject": "bob", "type": "license.assigned"}, headers=headers).json()
    [wrong] = found["entities"]
    assert (wrong["id"], wrong["voided"], wrong["voidedBy"]) == ("b1", False, None)
    answer = client.post(VOIDS, json=[{"source": wrong["source"], "id": wrong["id"], "reason": "assigned to bob by mistake"}],
                         headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"voided": 1, "sequence": 5}  # after the 4 events: a new version of every report
    assert charged(client.get(REPORT, params=OCTOBER, headers=headers).json()) == {"cx1": ["ann@x.com"]}
    [listed] = client.get(EVENTS, params={"subject": "bob", "type": "license.assigned"}, headers=headers).json()["entities"]
    assert listed["voided"] is True and listed["voidedBy"] == client_id
    assert listed["voidReason"] == "assigned to bob by mistake" and listed["voidedAt"] == "2026-11-20T01:00:00.000Z"
    assert listed["sequence"] == 3  # the original, kept where it arrived
    # Sent again, it stays a duplicate: a void is not undone by a replay.
    again = client.post(EVENTS, json=[wrong_assignment()[2]], headers=headers).json()
    assert again == {"accepted": 0, "duplicates": 1}
    assert charged(client.get(REPORT, params=OCTOBER, headers=headers).json()) == {"cx1": ["ann@x.com"]}


def test_refusals_name_each_event_and_void_nothing(make_org: MakeOrg, make_client: MakeClient) -> None:
    org = make_org()
    org.ingest(wrong_assignment())
    client = make_client()
    headers = bearer(client, *new_client(org.database, org.id, VIEW, INGEST, VOID))
    reason = {"reason": "test"}
    assert client.post(VOIDS, json=[{"source": "urn:test", "id": "b2", **reason}], headers=headers).status_code == 200
    answer = client.post(VOIDS, json=[{"source": "urn:test", "id": "a2", **reason},
                                      {"source": "urn:test", "id": "nope", **reason},
                                      {"source": "urn:test", "id": "b2", **reason}], headers=headers)
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "bad.request" and "nothing was voided" in body["message"]
    named = {(e["fieldName"], e["errorCode"]) for e in body["details"]}
    assert named == {("voids[1].id", "not.found"), ("voids[2].id", "already.voided")}
    assert "by " in next(e["message"] for e in body["details"] if e["errorCode"] == "already.voided")
    listed = {e["id"]: e["voided"] for e in client.get(EVENTS, headers=headers).json()["entities"]}
    assert listed == {"a1": False, "a2": False, "b1": False, "b2": True}  # a2 was not voided
    bad = client.post(VOIDS, json=[{"source": "urn:test", "id": "a1"}, {"source": "urn:test", "id": "a1", **reason},
                                   {"source": "urn:test", "id": "a1", **reason}, 7], headers=headers).json()
    assert {(e["fieldName"], e["errorCode"]) for e in bad["details"]} == {
        ("voids[0].reason", "required"), ("voids[2].id", "duplicate"), ("voids[3]", "invalid.value")}
    assert client.post(VOIDS, json=[], headers=headers).status_code == 400
    assert client.post(VOIDS, content=b"[{", headers={**headers, "Content-Type": "application/json"}).status_code == 400
    too_many = [{"source": "s", "id": str(i), **reason} for i in range(10_001)]
    assert client.post(VOIDS, json=too_many, headers=headers).status_code == 413
    viewer = bearer(client, *new_client(org.database, org.id, VIEW, INGEST))
    assert client.post(VOIDS, json=[{"source": "urn:test", "id": "a1", **reason}], headers=viewer).status_code == 403
    other = make_org()  # another organization's events are not found
    stranger = bearer(client, *new_client(org.database, other.id, VOID))
    refused = client.post(VOIDS, json=[{"source": "urn:test", "id": "a1", **reason}], headers=stranger).json()
    assert refused["details"][0]["errorCode"] == "not.found"


def test_emails_and_device_days_are_found_again(make_org: MakeOrg, database: Database) -> None:
    org = make_org()
    org.ingest([
        event("license.assigned", "ann", "2026-10-01T00:00:00Z", id="a1", product="cx1", email="ann@x.com"),
        event("user.login", "ann", "2026-10-02T08:00:00Z", id="a2", email="ann@new.com"),
        event("device.active", "e-1", "2026-10-04T08:00:00Z", id="d1", deviceType="edge"),
        event("device.active", "e-1", "2026-10-04T09:00:00Z", id="d2", deviceType="edge"),
        event("device.active", "e-2", "2026-10-05T09:00:00Z", id="d3", deviceType="edge"),
    ])
    october = Period.parse("2026-10-01", "2026-11-01")

    def resources() -> dict[str, list[tuple[str, str]]]:
        with database.read() as conn:
            report = billable_usage_report(conn, get_organization(conn, org.id), october, CATALOG, INGESTED_AT)
        return {u.name: sorted((r.name, str(r.date)) for r in u.resources) for u in report.usages}

    before = resources()
    assert [name for name, _ in before["cx1"]] == ["ann@new.com"]
    with database.write() as conn:
        void_events(conn, org.id, [VoidRequest("urn:test", i, "test") for i in ("a2", "d1", "d3")], "tester",
                    INGESTED_AT)
    after = resources()
    assert "cx1" not in after  # ann's only login is voided: she never logged in
    edge = after[next(name for name in after if name != "cx1")]
    assert [name for name, _ in edge] == ["e-1"]  # e-2's only day is gone
    assert edge[0][1] > dict(before[next(n for n in before if n != "cx1")])["e-1"]  # first activity: 09:00 now
    org.ingest([event("user.login", "ann", "2026-10-06T08:00:00Z", id="a3")])
    assert [name for name, _ in resources()["cx1"]] == ["ann@x.com"]  # the email of the assignment again


def test_a_voided_email_is_found_again_months_back(make_org: MakeOrg, database: Database) -> None:
    """The email before a voided one is looked for from the log's latest day back, a month at
    a time: found five months back, and forgotten when none is left."""
    from billable.store.derived import emails

    org = make_org()
    org.ingest([
        event("user.updated", "ann", "2026-05-01T08:00:00Z", id="u1", email="ann@may.com"),
        event("user.login", "ann", "2026-10-02T08:00:00Z", id="u2", email="ann@oct.com"),
        event("device.active", "e-1", "2026-10-20T08:00:00Z", id="d1", deviceType="edge"),
    ])

    def email() -> dict[str, str]:
        with database.read() as conn:
            return emails(conn, org.id, ["ann"])

    assert email() == {"ann": "ann@oct.com"}
    for voided, left in (("u2", {"ann": "ann@may.com"}), ("u1", {})):
        with database.write() as conn:
            void_events(conn, org.id, [VoidRequest("urn:test", voided, "test")], "tester", INGESTED_AT)
        assert email() == left


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(scenario=scenarios(), choices=st.data())
def test_engine_equals_reference_with_random_voids(database, scenario, choices):
    """Voids after random batches, of random events stored so far (duplicates and events
    voided before not among them); then the rest arrives, late events included."""
    model, period, batches, now = scenario
    org, _, _, _, _ = load_scenario(database, (model, period, [], now))
    stored: dict[tuple[str, str], None] = {}
    voided: set[tuple[str, str]] = set()
    for batch in batches:
        with database.write() as conn:
            ingest(conn, org.id, batch, CATALOG, INGESTED_AT)
        for e in batch:
            stored.setdefault((e["source"], e["id"]), None)
        open_keys = [key for key in stored if key not in voided]
        if open_keys and choices.draw(st.booleans()):
            chosen = choices.draw(st.lists(st.sampled_from(open_keys), min_size=1, max_size=4, unique=True))
            with database.write() as conn:
                void_events(conn, org.id, [VoidRequest(s, i, "drawn") for s, i in chosen], "tester", INGESTED_AT)
            voided.update(chosen)
    arrival = validate_events([e for batch in batches for e in batch], CATALOG, INGESTED_AT)
    with database.read() as conn:
        engine = billable_usage_report(conn, get_organization(conn, org.id), period, CATALOG, now)

    note(f"model={model} period={period} now={now} voided={voided}")
    for batch in batches:
        note(f"batch: {[(e['id'][:6], e['type'], e['subject'], e['time'], e.get('data')) for e in batch]}")
    assert engine == reference_report(arrival, CATALOG, LicensingModel(model), period, now, frozenset(voided))


def test_voids_racing_ingestion_of_the_same_user(make_org: MakeOrg, database: Database) -> None:
    org = make_org("concurrent")
    first = [event(kind, "ann", f"2026-10-{day:02d}T{hour:02d}:00:00Z", id=f"f{day}-{kind}")
             for day in range(1, 15) for kind, hour in (("user.login", 8), ("user.logout", 17))]
    org.ingest([event("license.assigned", "ann", "2026-09-30T00:00:00Z", id="lic", product="cx1")] + first)
    later = [[event(kind, "ann", f"2026-10-{day:02d}T{hour:02d}:30:00Z", id=f"l{day}-{kind}")
              for kind, hour in (("user.login", 7), ("user.logout", 18))] for day in range(1, 29)]
    to_void = [e["id"] for e in first[::3]]
    failures: list[BaseException] = []

    def feed() -> None:
        try:
            for batch in later:
                org.ingest(batch)
        except BaseException as error:  # the test asserts there is none
            failures.append(error)

    def void() -> None:
        try:
            for event_id in to_void:
                with database.write() as conn:
                    void_events(conn, org.id, [VoidRequest("urn:test", event_id, "race")], "tester", INGESTED_AT)
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=feed), threading.Thread(target=void)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    sent = [event("license.assigned", "ann", "2026-09-30T00:00:00Z", id="lic", product="cx1")] + first + \
        [e for batch in later for e in batch]
    october = Period.parse("2026-10-01", "2026-11-01")
    with database.read() as conn:
        engine = billable_usage_report(conn, get_organization(conn, org.id), october, CATALOG, INGESTED_AT)
    expected = reference_report(validate_events(sent, CATALOG, INGESTED_AT), CATALOG, LicensingModel.CONCURRENT,
                                october, INGESTED_AT, frozenset(("urn:test", i) for i in to_void))
    assert engine == expected


def test_sdk_and_command_line(make_org: MakeOrg, database: Database, tmp_path: Path) -> None:
    org = make_org()
    org.ingest(wrong_assignment())
    client_id, secret = new_client(database, org.id, VIEW, VOID)
    with running_server(database.url) as base, ApiClient(host=base).login_client_credentials(client_id, secret) as api:
        billing = BillingApi(api)
        assert billing.post_billing_events_voids([{"source": "urn:test", "id": "b1", "reason": "sdk"}]).voided == 1
        with pytest.raises(BadRequestError) as refused:
            billing.post_billing_events_voids([{"source": "urn:test", "id": "b1", "reason": "sdk"}])
        assert refused.value.body["details"][0]["errorCode"] == "already.voided"
        listed = {e.id: e for e in billing.get_billing_events(subject="bob")}
        assert listed["b1"].voided and listed["b1"].voided_by == client_id and listed["b1"].void_reason == "sdk"
    program = str(Path(sys.executable).with_name("billable"))
    voids = tmp_path / "voids.ndjson"
    voids.write_text(json.dumps({"source": "urn:test", "id": "b2", "reason": "cli"}) + "\n")
    done = subprocess.run([program, "--database", database.url, "events", "void", "--org", org.id, str(voids)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["voided"] == 1
    unknown = subprocess.run([program, "--database", database.url, "events", "void", "--org", org.id, "--source",
                              "urn:test", "--id", "zz", "--reason", "cli"], capture_output=True, text=True)
    assert unknown.returncode == 1 and "voids[0].id: no event 'zz'" in unknown.stderr
    lines = subprocess.run([program, "--database", database.url, "events", "list", "--org", org.id, "--subject", "bob"],
                            capture_output=True, text=True, check=True).stdout.splitlines()
    by_id = {row["id"]: row for row in map(json.loads, lines)}
    assert by_id["b2"]["voided"] and by_id["b2"]["voidedBy"].startswith("cli:")
    assert by_id["b2"]["voidReason"] == "cli"
