"""A served report follows the rules it is served under: a stored or held body computed
under another catalog, licensing model or rules version is never served.

Each case reads the report through a real server, so the server holds the body in memory
and has stored it, then changes what it is computed under and reads it again.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
from conftest import CATALOG, MakeOrg, Org, event, new_client, running_server
from sqlalchemy import update

from billable.rules.catalog import LicensingModel
from billable.service.report_desk import computed_under
from billable.store.database import Database
from billable.store.tables import computed_reports
from billable.wire.writers import BODY_VERSION

REPORT = "/api/v2/billing/reports/billableusage"
OCTOBER = {"startDate": "2026-10-01", "endDate": "2026-11-01"}
# The shipped catalog with wem1 and wem2 moved into the base family, above cx3.
WEM_IN_BASE = (Path(__file__).parents[1] / "src/billable/rules/default_catalog.toml").read_text().replace(
    'name = "wem1"\nfamily = "wem"\nrank = 1', 'name = "wem1"\nfamily = "base"\nrank = 6').replace(
    'name = "wem2"\nfamily = "wem"\nrank = 2', 'name = "wem2"\nfamily = "base"\nrank = 7')


def _usage_org(make_org: MakeOrg, model: str = "named") -> Org:
    """ann holds cx1 and wem1, bob holds cx1; both log in on 2 October, for two and three hours."""
    org: Org = make_org(model)
    org.ingest([
        event("license.assigned", "ann", "2026-09-01T00:00:00Z", product="cx1"),
        event("license.assigned", "ann", "2026-09-01T00:00:00Z", product="wem1"),
        event("license.assigned", "bob", "2026-09-01T00:00:00Z", product="cx1"),
        event("user.login", "ann", "2026-10-02T08:00:00Z"),
        event("user.logout", "ann", "2026-10-02T10:00:00Z"),
        event("user.login", "bob", "2026-10-02T09:00:00Z"),
        event("user.logout", "bob", "2026-10-02T12:00:00Z"),
    ])
    return org


def _totals(base: str, headers: dict[str, str]) -> dict[str, str]:
    answer = httpx.get(f"{base}{REPORT}", params=OCTOBER, headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "Complete"
    return {u["name"]: u["totalUsage"] for u in body["usages"] if u["totalUsage"] != "0"}


def _headers(base: str, org: Org) -> dict[str, str]:
    client_id, secret = new_client(org.database, org.id)
    token = httpx.post(f"{base}/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def _billable(database_url: str, *args: str) -> str:
    program = str(Path(sys.executable).with_name("billable"))
    done = subprocess.run([program, "--database", database_url, *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_catalog_change_is_never_served_the_old_body(make_org: MakeOrg, database: Database, tmp_path: Path) -> None:
    org = _usage_org(make_org)
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(WEM_IN_BASE)
    with running_server(database.url) as base:
        headers = _headers(base, org)
        assert _totals(base, headers) == {"cx1": "2", "wem1": "1"}
    with running_server(database.url, catalog=str(catalog)) as base:
        # ann's highest base license is now wem1: she is no longer charged cx1.
        assert _totals(base, headers) == {"cx1": "1", "wem1": "1"}
        assert _totals(base, headers) == {"cx1": "1", "wem1": "1"}  # the new body, held and stored
    with running_server(database.url) as base:  # and back: the old catalog's figures again
        assert _totals(base, headers) == {"cx1": "2", "wem1": "1"}
    # The command line computes its reports under the catalog it is given too.
    table = _billable(database.url, "--catalog", str(catalog), "report", "--org", org.id, "--start", "2026-10-01",
                      "--end", "2026-11-01", "--format", "csv")
    assert [line.split(",")[:2] for line in table.splitlines() if line.startswith(("cx1,", "wem1,"))] == [
        ["cx1", "1"], ["wem1", "1"]]


def test_a_model_change_is_served_at_once_by_a_running_server(make_org: MakeOrg, database: Database) -> None:
    org = _usage_org(make_org)
    with running_server(database.url) as base:
        headers = _headers(base, org)
        assert _totals(base, headers) == {"cx1": "2", "wem1": "1"}
        assert _totals(base, headers) == {"cx1": "2", "wem1": "1"}  # now held in memory and stored
        shown = _billable(database.url, "orgs", "update", "--org", org.id, "--model", "hourly")
        assert '"licensingModel": "hourly"' in shown
        # Hourly: cx1 is billed by the hours its users were logged in (2 + 3).
        assert _totals(base, headers) == {"cx1": "5.00", "wem1": "1"}
        _billable(database.url, "orgs", "update", "--org", org.id, "--model", "concurrent")
        # Concurrent: ann and bob overlap from 09:00 to 10:00, an hour: a peak of 2.
        assert _totals(base, headers) == {"cx1": "2", "wem1": "1"}
        _billable(database.url, "orgs", "update", "--org", org.id, "--model", "named")
        assert _totals(base, headers) == {"cx1": "2", "wem1": "1"}


def test_a_body_of_other_rules_is_never_served(make_org: MakeOrg, database: Database) -> None:
    """A body stored by a release with other rules (or another body shape) is computed again;
    the same tampered body stored under this release's rules shows that the store is read."""
    org = _usage_org(make_org)
    forged = '{"status":"Complete","usages":[{"name":"cx1","totalUsage":"99","resources":[]}]}'

    def store(under: str) -> None:
        with database.write() as conn:
            changed = conn.execute(update(computed_reports).where(computed_reports.c.org_id == org.id)
                                   .values(body=forged, computed_under=under))
            assert changed.rowcount == 1

    with running_server(database.url) as base:
        headers = _headers(base, org)
        assert _totals(base, headers) == {"cx1": "2", "wem1": "1"}
    older_rules = computed_under(CATALOG, LicensingModel.NAMED, BODY_VERSION, rules_version=0)
    store(older_rules)
    with running_server(database.url) as base:
        assert _totals(base, headers) == {"cx1": "2", "wem1": "1"}
    store(computed_under(CATALOG, LicensingModel.NAMED, BODY_VERSION))
    with running_server(database.url) as base:
        assert _totals(base, headers) == {"cx1": "99"}


def test_a_held_body_follows_the_model_of_the_desk_that_stored_it(make_org: MakeOrg, database: Database) -> None:
    """Two processes: one holds the named body in memory, the other computes and stores
    the hourly one after the model changed; the first serves the hourly one."""
    org = _usage_org(make_org)
    with running_server(database.url) as first, running_server(database.url) as second:
        headers = _headers(first, org)
        assert _totals(first, headers) == {"cx1": "2", "wem1": "1"}
        assert _totals(second, headers) == {"cx1": "2", "wem1": "1"}
        _billable(database.url, "orgs", "update", "--org", org.id, "--model", "hourly")
        assert _totals(second, headers) == {"cx1": "5.00", "wem1": "1"}
        assert _totals(first, headers) == {"cx1": "5.00", "wem1": "1"}
