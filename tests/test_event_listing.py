"""Listing the events received: the route, paging, filters, the SDK and the command line."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import INGESTED_AT, Clock, MakeClient, MakeOrg, bearer, event, new_client, running_server

from billable.client import ApiClient, AsyncApiClient, AsyncBillingApi, BillingApi
from billable.rules.instants import HOUR_MS, format_instant

EVENTS = "/api/v2/billing/events"


def sent_events() -> list[dict[str, Any]]:
    return [
        event("license.assigned", "ann", "2026-10-01T00:00:00Z", id="a1", product="cx1", email="ann@x.com"),
        event("user.login", "ann", "2026-10-02T08:00:00Z", id="a2"),
        event("user.logout", "ann", "2026-10-02T12:00:00Z", id="a3"),
        event("user.login", "bob", "2026-10-03T08:00:00Z", id="b1"),
        event("device.active", "e-1", "2026-10-04T08:00:00Z", id="d1", deviceType="edge"),
        event("user.login", "bob", "2026-10-05T08:00:00Z", id="b2"),
        event("user.login", "ann", "2026-10-06T08:00:00Z", id="a4"),
    ]


def test_pages_filters_and_permissions(make_org: MakeOrg, make_client: MakeClient) -> None:
    org, other = make_org(), make_org()
    org.ingest(sent_events()[:4])
    later = INGESTED_AT + HOUR_MS
    org.ingest(sent_events()[4:] + sent_events()[:1], now=later)  # and a duplicate, not stored again
    other.ingest([event("user.login", "zed", "2026-10-02T08:00:00Z", id="z1")])
    client = make_client(Clock(later))
    headers = bearer(client, *new_client(org.database, org.id, "billing:subscription:view"))

    seen: list[dict[str, Any]] = []
    path, params = EVENTS, {"pageSize": "3"}  # then nextUri alone
    next_params: dict[str, str] | None = params
    for _ in range(5):
        answer = client.get(path, params=next_params, headers=headers)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert page["pageSize"] == 3 and len(page["entities"]) <= 3
        seen += page["entities"]
        if page["nextUri"] is None:
            assert page["cursor"] is None
            break
        path, next_params = page["nextUri"], None
        if len(seen) == 3:  # an event arriving between pages is not on a later page
            org.ingest([event("user.login", "cat", "2026-10-07T08:00:00Z", id="c1")], now=later)
    assert [e["id"] for e in seen] == ["a4", "b2", "d1", "b1", "a3", "a2", "a1"]  # newest arrival first
    assert [e["sequence"] for e in seen] == [7, 6, 5, 4, 3, 2, 1]
    assert seen[-1] == {"id": "a1", "source": "urn:test", "type": "license.assigned", "subject": "ann",
                        "time": "2026-10-01T00:00:00.000Z", "data": {"product": "cx1", "email": "ann@x.com"},
                        "receivedAt": format_instant(INGESTED_AT), "sequence": 1, "voided": False,
                        "voidedAt": None, "voidedBy": None, "voidedByName": None, "voidReason": None}
    assert seen[2]["data"] == {"deviceType": "edge"} and seen[2]["receivedAt"] == format_instant(later)

    def ids(**query: str) -> list[str]:
        answer = client.get(EVENTS, params=query, headers=headers)
        assert answer.status_code == 200, answer.text
        return [e["id"] for e in answer.json()["entities"]]

    assert ids() == ["c1", "a4", "b2", "d1", "b1", "a3", "a2", "a1"]
    assert ids(subject="bob") == ["b2", "b1"]
    assert ids(subject="ann@x.com") == ids(subject="ann") == ["a4", "a3", "a2", "a1"]  # as the report names her
    assert ids(type="user.login", subject="ann") == ["a4", "a2"]
    assert ids(startDate="2026-10-02T12:00:00Z", endDate="2026-10-05") == ["d1", "b1", "a3"]
    # A subject's events of a period: only the days of the period are sought.
    assert ids(subject="ann", startDate="2026-10-02T12:00:00Z", endDate="2026-10-05") == ["a3"]
    assert ids(subject="ann", startDate="2027-01-01") == [] and ids(subject="ann", endDate="2026-01-01") == []
    assert ids(receivedAfter=format_instant(INGESTED_AT)) == ["c1", "a4", "b2", "d1"]
    assert ids(subject="zed") == []  # another organization's
    for query, field in (({"cursor": "abc"}, "cursor"), ({"pageSize": "0"}, "pageSize"), ({"type": "nope"}, "type"),
                         ({"startDate": "yesterday"}, "startDate")):
        refused = client.get(EVENTS, params=query, headers=headers)
        assert refused.status_code == 400 and refused.json()["details"][0]["fieldName"] == field, refused.text
    ingest_only = bearer(client, *new_client(org.database, org.id, "billing:usage:ingest"))
    assert client.get(EVENTS, headers=ingest_only).status_code == 403


def test_the_sdk_iterates_every_page(make_org: MakeOrg) -> None:
    org = make_org()
    org.ingest(sent_events())
    client_id, secret = new_client(org.database, org.id, "billing:subscription:view")
    with running_server(org.database.url) as base:
        with ApiClient(host=base).login_client_credentials(client_id, secret) as client:
            every = list(BillingApi(client).get_billing_events(page_size=2))
            ann = list(BillingApi(client).get_billing_events(subject="ann", start_date="2026-10-02", page_size=1))

        async def listed() -> list[str]:
            async with AsyncApiClient(host=base) as aclient:
                await aclient.login_client_credentials(client_id, secret)
                return [e.id async for e in AsyncBillingApi(aclient).get_billing_events(type="user.login", page_size=2)]

        logins = asyncio.run(listed())
    assert [e.id for e in every] == ["a4", "b2", "d1", "b1", "a3", "a2", "a1"]
    assert every[-1].data == {"product": "cx1", "email": "ann@x.com"} and every[-1].sequence == 1
    assert [e.id for e in ann] == ["a4", "a3", "a2"]
    assert logins == ["a4", "b2", "b1", "a2"]


def test_the_command_line_lists_ndjson(make_org: MakeOrg) -> None:
    org = make_org()
    org.ingest(sent_events())
    program = str(Path(sys.executable).with_name("billable"))
    for subject in ("ann", "ann@x.com"):  # by id, or by the email the report names her by
        done = subprocess.run([program, "--database", org.database.url, "events", "list", "--org", org.id,
                               "--subject", subject, "--type", "user.login"], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        lines = [json.loads(line) for line in done.stdout.splitlines()]
        assert [(e["id"], e["sequence"], e["time"]) for e in lines] == [
            ("a4", 7, "2026-10-06T08:00:00.000Z"), ("a2", 2, "2026-10-02T08:00:00.000Z")]
