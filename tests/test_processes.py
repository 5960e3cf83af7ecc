"""Two server processes on one database share tokens, reports and the rate limit.

On PostgreSQL that is the scale-out deployment; on SQLite, two processes on one machine.
"""

from __future__ import annotations

import httpx
from conftest import MakeOrg, event, new_client, running_server

from billable.store.database import Database

REPORT = "/api/v2/billing/reports/billableusage"
OCTOBER = {"startDate": "2026-10-01", "endDate": "2026-11-01"}


def test_two_processes_share_everything(make_org: MakeOrg, database: Database) -> None:
    org = make_org()
    org.ingest([event("license.assigned", "ann", "2026-09-01T00:00:00Z", product="cx1"),
                event("user.login", "ann", "2026-10-02T08:00:00Z")])
    client_id, secret = new_client(org.database, org.id)
    with running_server(database.url, rate_limit_per_minute="10") as first, \
            running_server(database.url, rate_limit_per_minute="10") as second:
        token = httpx.post(f"{first}/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        # Ingested through one process, seen through the other.
        added = httpx.post(f"{second}/api/v2/billing/events", headers=headers, json=[
            event("license.assigned", "bob", "2026-09-01T00:00:00Z", product="cx1"),
            event("user.login", "bob", "2026-10-03T08:00:00Z")])
        assert added.json() == {"accepted": 2, "duplicates": 0}
        report = httpx.get(f"{first}{REPORT}", params=OCTOBER, headers=headers).json()
        assert [(u["name"], u["totalUsage"]) for u in report["usages"]] == [("cx1", "2")]
        statuses = [httpx.get(f"{base}{REPORT}", params=OCTOBER, headers=headers).status_code
                    for base in [first, second] * 6]
    # Two requests were made above; ten is the limit for both processes together.
    assert statuses.count(200) == 8 and statuses[8:] == [429] * 4
