"""GET /metrics: what an operator of a fleet counts (docs/operating.md, "Metrics")."""

from __future__ import annotations

import httpx
from conftest import MakeClient, MakeOrg, bearer, event, new_client, running_server
from prometheus_client.parser import text_string_to_metric_families

from billable.store.database import Database

OCTOBER = {"startDate": "2026-10-01T00:00:00Z", "endDate": "2026-11-01T00:00:00Z"}
REPORT = "/api/v2/billing/reports/billableusage"
EVENTS = "/api/v2/billing/events"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, by name and labels."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_counts_events_batches_reports_and_refusals(make_org: MakeOrg, make_client: MakeClient,
                                                    database: Database) -> None:
    org = make_org()
    client = make_client(rate_limit_per_minute=12)
    headers = bearer(client, *new_client(database, org.id))
    batch = [event("user.login", "u1", "2026-10-02T08:00:00Z"),
             event("license.assigned", "u1", "2026-10-01T00:00:00Z", product="cx1")]
    assert client.post(EVENTS, json=batch, headers=headers).json() == {"accepted": 2, "duplicates": 0}
    assert client.post(EVENTS, json=batch, headers=headers).json() == {"accepted": 0, "duplicates": 2}
    bad = [event("user.login", "u2", "2026-10-02T08:00:00Z"), {"specversion": "1.0", "id": "x"},
           {"specversion": "1.0", "id": "y"}]
    assert client.post(EVENTS, json=bad, headers=headers).status_code == 400
    for _ in range(3):
        assert client.get(REPORT, params=OCTOBER, headers=headers).status_code == 200
    statuses = [client.get(REPORT, params=OCTOBER, headers=headers).status_code for _ in range(10)]
    assert statuses.count(429) == 4  # 12 allowed: 3 posts, 3 + 6 reports
    found = samples(client.get("/metrics").text)
    assert found[("billable_events_accepted_total", ())] == 2
    assert found[("billable_events_duplicate_total", ())] == 2
    assert found[("billable_events_refused_total", ())] == 2
    assert found[("billable_ingest_batch_seconds_count", ())] == 2
    assert found[("billable_rate_limited_requests_total", ())] == 4
    kind = (("kind", "billableusage"),)
    assert found[("billable_report_seconds_count", kind)] == 9
    by_source = {dict(labels)["source"]: value for (name, labels), value in found.items()
                 if name == "billable_reports_total"}
    assert by_source == {"computed": 1, "memory": 8}


def test_the_processes_of_one_server_are_counted_together(make_org: MakeOrg, database: Database) -> None:
    """`billable serve --workers 2`: /metrics, answered by either process, sums both."""
    org = make_org()
    client_id, secret = new_client(database, org.id)
    with running_server(database.url, workers="2") as base:
        token = httpx.post(f"{base}/oauth/token", data={"grant_type": "client_credentials"},
                           auth=(client_id, secret)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client() as http:  # a new connection per batch, so both processes take some
            for i in range(20):
                batch = [event("user.login", f"u{i}", "2026-10-02T08:00:00Z")]
                answer = httpx.post(f"{base}{EVENTS}", json=batch, headers=headers)
                assert answer.json() == {"accepted": 1, "duplicates": 0}
            for _ in range(6):
                found = samples(http.get(f"{base}/metrics", headers={"Connection": "close"}).text)
                assert found[("billable_events_accepted_total", ())] == 20
        assert base.log_text().count("Started server process") == 2
