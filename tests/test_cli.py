"""The `billable` program, end to end, through its installed entry point."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from conftest import MakeClient, MakeOrg, bearer, maintenance_counts
from examples import OCTOBER, WORKED_EXAMPLES
from reference import reference_report

from billable.generator import Workload, generate
from billable.rules.catalog import Catalog, LicensingModel
from billable.rules.events import validate_events
from billable.rules.instants import DAY_MS, Period, parse_instant, system_now
from billable.wire.text import csv_text, table_text
from billable.wire.writers import api_body
from billable.service.reports import billable_usage_report
from billable.store.database import Database
from billable.store.organizations import get_organization

PROGRAM = str(Path(sys.executable).with_name("billable"))


def billable(url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BILLABLE_DATABASE_URL": url}
    # Bytes, decoded by hand: text mode would turn the CSV's CRLF into LF.
    done = subprocess.run([PROGRAM, *args], capture_output=True, env=env, input=stdin and stdin.encode(), timeout=120)
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(), done.stderr.decode())


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def failed(result: subprocess.CompletedProcess[str]) -> str:
    """The one-line error of a failed command."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("billable: "), result.stderr
    return lines[0]


def assert_statistics_after_the_load(url: str) -> None:
    """A load from the command line ends with planner statistics (and, on PostgreSQL, the
    derived tables vacuumed), so the first reports after it are planned on real sizes."""
    from sqlalchemy import text

    database = Database(url)
    if database.is_postgresql:
        counts = maintenance_counts(database, "sessions", lambda analyzed, vacuumed: min(analyzed, vacuumed) > 0)
        assert min(counts) > 0, counts
    else:
        with database.read() as conn:
            assert conn.execute(text("SELECT count(*) FROM main.sqlite_stat1 WHERE tbl = 'sessions'")).scalar_one() > 0
    database.dispose()


def test_the_whole_flow(empty_url: str, tmp_path: Path) -> None:
    assert "billable db upgrade" in failed(billable(empty_url, "orgs", "create", "--name", "Acme"))
    ok(billable(empty_url, "db", "upgrade"))
    org = json.loads(ok(billable(empty_url, "orgs", "create", "--name", "Acme", "--model", "concurrent")))
    assert org["name"] == "Acme" and org["licensingModel"] == "concurrent" and len(org["id"]) == 36
    client = json.loads(ok(billable(empty_url, "clients", "create", "--org", org["id"],
                                    "--permission", "billing:subscription:view", "--permission", "billing:usage:ingest")))
    assert client["orgId"] == org["id"] and client["permissions"] == ["billing:subscription:view", "billing:usage:ingest"]
    assert len(client["clientSecret"]) >= 32

    events = [e for example in WORKED_EXAMPLES for e in example()[1]]
    ndjson = tmp_path / "events.ndjson"
    ndjson.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    loaded = billable(empty_url, "ingest", str(ndjson), "--org", org["id"])
    assert json.loads(ok(loaded)) == {"accepted": len(events), "duplicates": 0}
    # Progress on standard error, a line per commit when it is not a terminal, with the rate.
    assert re.search(rf"{len(events)} of {len(events)} events taken in \(100%\), [\d,]+ events/s", loaded.stderr), \
        loaded.stderr
    assert f"{len(events)} new events stored; 0 were stored already" in loaded.stderr
    assert_statistics_after_the_load(empty_url)  # far fewer events than the first doubling point
    # The same events again, as a JSON array on standard input: all duplicates.
    again = billable(empty_url, "ingest", "-", "--org", org["id"], stdin=json.dumps(events))
    assert json.loads(ok(again)) == {"accepted": 0, "duplicates": len(events)}
    assert f"0 new events stored; {len(events)} were stored already" in again.stderr  # as the JSON says

    start, end = OCTOBER
    printed = json.loads(ok(billable(empty_url, "report", "--org", org["id"], "--start", start, "--end", end)))
    database = Database(empty_url)
    with database.read() as conn:
        organization = get_organization(conn, org["id"])
        report = billable_usage_report(conn, organization, Period.parse(start, end), Catalog.load(),
                                       parse_instant("2026-11-20T00:00:00Z"))
    database.dispose()
    assert printed == api_body(org["id"], report)
    assert printed["status"] == "Complete" and printed["startDate"] == start
    assert {u["name"] for u in printed["usages"]} >= {"cx1", "cx2", "cx3", "edge", "wem2"}
    csv = ok(billable(empty_url, "report", "--org", org["id"], "--start", start, "--end", end, "--format", "csv"))
    assert csv == csv_text(report)
    table = ok(billable(empty_url, "report", "--org", org["id"], "--start", "2026-10-01", "--end", "2026-11-01",
                        "--format", "table"))
    assert table == table_text(report)


def test_errors_are_one_line(empty_url: str, tmp_path: Path) -> None:
    ok(billable(empty_url, "db", "upgrade"))
    org = json.loads(ok(billable(empty_url, "orgs", "create", "--name", "Acme")))["id"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([
        {"specversion": "1.0", "id": "1", "source": "s", "type": "user.login", "time": "2026-10-01T08:00:00Z", "subject": "a"},
        {"specversion": "1.0", "id": "2", "source": "s", "type": "user.login", "time": "whenever", "subject": "a"},
    ]))
    assert "event 1: time must be an ISO-8601 date-time" in failed(billable(empty_url, "ingest", str(bad), "--org", org))
    empty = billable(empty_url, "report", "--org", org, "--start", "2026-10-01", "--end", "2026-11-01", "--format", "csv")
    assert ok(empty) == "usage,totalUsage,resource,date\r\n"  # nothing of the bad file was stored
    assert "not valid JSON" in failed(billable(empty_url, "ingest", "-", "--org", org, stdin='{"a": 1}\n{oops\n'))
    assert "no such file" in failed(billable(empty_url, "ingest", str(tmp_path / "missing.ndjson"), "--org", org))
    assert "must end after it starts" in failed(
        billable(empty_url, "report", "--org", org, "--start", "2026-11-01", "--end", "2026-10-01"))
    assert "not found" in failed(billable(empty_url, "report", "--org", "nope", "--start", "2026-10-01", "--end", "2026-11-01"))
    assert "unknown: billing:everything" in failed(
        billable(empty_url, "clients", "create", "--org", org, "--permission", "billing:everything"))
    assert "not found" in failed(billable(empty_url, "clients", "create", "--org", "nope", "--permission", "billing:usage:ingest"))
    assert "unsupported database" in failed(billable("mysql://x/y", "db", "upgrade"))


def test_demo(empty_url: str) -> None:
    out = ok(billable(empty_url, "demo", "--users", "30"))
    assert "read it in a browser at http://127.0.0.1:8080/" in out
    summary = json.loads(out[out.index("{"):])
    command = summary["report"].split()[1:]
    period = Period.parse(command[command.index("--start") + 1], command[command.index("--end") + 1])
    assert period.end - period.start >= 28 * DAY_MS and period.end <= system_now()  # last month, over
    # The demo's workload, generated again: every event accepted once, its repeats counted.
    sent = list(generate(Workload(users=30, days=(period.end - period.start) // DAY_MS, start=period.start, seed=1)))
    unique = {(e["source"], e["id"]) for e in sent}
    assert (summary["accepted"], summary["duplicates"]) == (len(unique), len(sent) - len(unique))
    report = json.loads(ok(billable(empty_url, *command)))
    # Checked at an instant no earlier than the demo's: the workload's last events may come a
    # little after the month's end (its last day's sessions end after midnight).
    now = system_now()
    expected = reference_report(validate_events(sent, Catalog.load(), now), Catalog.load(), LicensingModel.NAMED,
                                period, now)
    assert report == api_body(summary["orgId"], expected)
    assert sum(len(u["resources"]) for u in report["usages"]) > 30
    # Run again (`make run` twice): the same organization, its events stored once, a new client that works.
    again = ok(billable(empty_url, "demo", "--users", "30"))
    second = json.loads(again[again.index("{"):])
    assert "The demo's organization exists" in again and second["orgId"] == summary["orgId"]
    assert (second["accepted"], second["duplicates"]) == (0, len(sent))
    assert second["clientId"] != summary["clientId"]
    assert [o["name"] for o in json.loads(ok(billable(empty_url, "orgs", "list")))] == ["Demo organization"]
    assert json.loads(ok(billable(empty_url, *command))) == report


def test_the_readmes_commands_work_on_the_demos_data(empty_url: str) -> None:
    """Pasted after the line of exports the demo prints, every command of README.md's block
    and of docs/getting-started.md that names the demo's data runs; the Python the demo
    names has the official SDK."""
    out = ok(billable(empty_url, "demo", "--users", "20"))
    exports = next(line.strip() for line in out.splitlines() if line.strip().startswith("export PATH="))
    assert f"BILLABLE_DATABASE_URL={shlex.quote(empty_url)}" in exports
    docs = Path(__file__).parents[1]
    readme = (docs / "README.md").read_text()
    block = readme.split("## The command line", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    started = (docs / "docs" / "getting-started.md").read_text()
    block += started.split("## 3. The command line", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if line.startswith("billable ")]
    assert len(commands) >= 17 and any("$START" in command for command in commands)
    script = "\n".join(["set -e", exports, *(f"echo '>>> {command[:40]}'; {command}" for command in commands)])
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=300,
                          env={k: v for k, v in os.environ.items() if k != "BILLABLE_DATABASE_URL"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    assert done.stdout.count(">>> ") == len(commands)
    assert "user-000001" in done.stdout and "cx" in done.stdout  # the month's report and the user's events
    python = next(line.split()[0] for line in out.splitlines() if "-c 'import PureCloudPlatformClientV2" in line)
    assert f"{python} -m pip install --quiet PureCloudPlatformClientV2" in out  # the runtime has no SDK
    assert subprocess.run([python, "-c", "import PureCloudPlatformClientV2"], timeout=120).returncode == 0


def test_report_from_a_remote_service(make_org: MakeOrg) -> None:
    from conftest import new_client, running_server

    org = make_org()
    org.ingest([e for example in WORKED_EXAMPLES for e in example()[1]])
    client_id, secret = new_client(org.database, org.id, "billing:subscription:read")
    local = ok(billable(org.database.url, "report", "--org", org.id, "--start", "2026-10-01", "--end", "2026-11-01",
                        "--format", "csv"))
    with running_server(org.database.url) as base:
        remote = ["report", "--host", base, "--client-id", client_id, "--client-secret", secret,
                  "--start", "2026-10-01", "--end", "2026-11-01"]
        assert ok(billable("sqlite:///unused.db", *remote, "--format", "csv")) == local
        printed = json.loads(ok(billable("sqlite:///unused.db", *remote)))
        assert printed["status"] == "Complete" and printed["startDate"] == "2026-10-01T00:00:00.000Z"
        wrong = remote[:]
        wrong[wrong.index(secret)] = "wrong"
        assert "login refused" in failed(billable("sqlite:///unused.db", *wrong))


def test_concurrent_report_and_explain(empty_url: str, tmp_path: Path) -> None:
    ok(billable(empty_url, "db", "upgrade"))
    org = json.loads(ok(billable(empty_url, "orgs", "create", "--name", "C", "--model", "concurrent")))["id"]
    _, events, _ = WORKED_EXAMPLES[5]()  # concurrent, short peak ignored: totalUsage 3
    source = tmp_path / "events.ndjson"
    source.write_text("\n".join(json.dumps(e) for e in events))
    ok(billable(empty_url, "ingest", str(source), "--org", org))
    period = ["--start", "2026-10-01", "--end", "2026-10-02"]
    body = json.loads(ok(billable(empty_url, "report", "--kind", "concurrent", "--org", org, *period)))
    cx1 = next(p for p in body["products"] if p["name"] == "cx1")
    # Three users logged in two hours and two twenty minutes: 6 h 40 min.
    assert cx1["peak"] == 3 and cx1["days"] == [{"date": "2026-10-01T00:00:00.000Z", "peak": 3, "minutesAtPeak": 120,
                                                 "loggedInHours": "6.67"}]
    csv = ok(billable(empty_url, "report", "--kind", "concurrent", "--org", org, *period, "--format", "csv"))
    assert "cx1,2026-10-01T00:00:00.000Z,3,120,3,6.67\r\n" in csv
    explained = json.loads(ok(billable(empty_url, "explain", "--org", org, "--user", "u4", *period, "--format", "json")))
    assert explained["billed"] and explained["firstBillableLogin"] == "2026-10-01T10:00:00.000Z"
    assert explained["loggedInMilliseconds"] == 20 * 60_000
    unknown = json.loads(ok(billable(empty_url, "explain", "--org", org, "--user", "nobody", *period, "--format", "json")))
    assert (unknown["billed"], unknown["reason"]) == (False, "unknown.user")
    # By default, the page's sentences.
    said = ok(billable(empty_url, "explain", "--org", org, "--user", "u4", *period))
    assert said.startswith("Why u4 is billed, 2026-10-01 to 2026-10-01\n"), said
    assert "- First billable login 2026-10-01 10:00:00 UTC, in the session from 2026-10-01 10:00:00 UTC to" in said
    assert "- Logged in 0.33 hours in the period." in said and "no.license" not in said
    assert "- No event of this user was received." in ok(billable(empty_url, "explain", "--org", org, "--user", "nobody",
                                                                   *period))
    # A day nobody logged in says so (not "peak 0, 1440 min at peak").
    table = ok(billable(empty_url, "report", "--kind", "concurrent", "--org", org, "--start", "2026-10-01", "--end",
                        "2026-10-03", "--format", "table"))
    assert "2026-10-02  nobody logged in" in table and "peak      0" not in table, table


def test_a_revoked_client_is_refused(make_org: MakeOrg, make_client: MakeClient) -> None:
    from conftest import new_client

    org = make_org()
    client = make_client()
    client_id, secret = new_client(org.database, org.id)
    token = client.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    params = {"startDate": "2026-10-01", "endDate": "2026-11-01"}
    assert client.get("/api/v2/billing/reports/billableusage", params=params, headers=headers).status_code == 200
    assert json.loads(ok(billable(org.database.url, "clients", "revoke", "--client", client_id))) == {
        "clientId": client_id, "revoked": True}
    refused = client.get("/api/v2/billing/reports/billableusage", params=params, headers=headers)
    assert refused.status_code == 401 and refused.json()["code"] == "bad.credentials"
    login = client.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))
    assert login.status_code == 401 and login.json()["error"] == "invalid_client"
    assert "not found" in failed(billable(org.database.url, "clients", "revoke", "--client", "nobody"))


def test_organizations_and_clients_are_listed_shown_and_changed(empty_url: str) -> None:
    ok(billable(empty_url, "db", "upgrade"))
    assert json.loads(ok(billable(empty_url, "orgs", "list"))) == []
    zeta = json.loads(ok(billable(empty_url, "orgs", "create", "--name", "Zeta", "--model", "hourly")))
    acme = json.loads(ok(billable(empty_url, "orgs", "create", "--name", "Acme")))
    assert json.loads(ok(billable(empty_url, "orgs", "list"))) == [acme, zeta]  # by name
    assert json.loads(ok(billable(empty_url, "orgs", "show", "--org", zeta["id"]))) == zeta
    changed = json.loads(ok(billable(empty_url, "orgs", "update", "--org", acme["id"], "--model", "concurrent")))
    assert changed == {**acme, "licensingModel": "concurrent"}  # the keys of the API's organization
    assert json.loads(ok(billable(empty_url, "orgs", "show", "--org", acme["id"])))["licensingModel"] == "concurrent"
    assert "not found" in failed(billable(empty_url, "orgs", "show", "--org", "nope"))
    assert "not found" in failed(billable(empty_url, "orgs", "update", "--org", "nope", "--model", "named"))
    assert "'weekly' is not one of" in failed(billable(empty_url, "orgs", "update", "--org", acme["id"], "--model", "weekly"))

    made = [json.loads(ok(billable(empty_url, "clients", "create", "--org", acme["id"], "--permission", permission,
                                   *name)))
            for permission, name in (("billing:usage:ingest", ["--name", "Nightly loader"]),
                                     ("billing:subscription:view", []))]
    assert [m["name"] for m in made] == ["Nightly loader", ""]
    ok(billable(empty_url, "clients", "revoke", "--client", made[0]["clientId"]))
    listed_out = ok(billable(empty_url, "clients", "list", "--org", acme["id"]))
    listed = json.loads(listed_out)
    assert [(c["clientId"], c["name"], c["permissions"], c["revokedAt"] is not None) for c in listed] == [
        (made[0]["clientId"], "Nightly loader", ["billing:usage:ingest"], True),
        (made[1]["clientId"], "", ["billing:subscription:view"], False)]
    assert all(set(c) == {"clientId", "name", "orgId", "permissions", "createdAt", "revokedAt"} for c in listed)
    assert json.loads(ok(billable(empty_url, "clients", "create", "--org", acme["id"], "--permission",
                                  "billing:usage:ingest", "--name", "x" * 100)))["name"] == "x" * 100  # at the limit
    assert "at most 100 characters" in failed(billable(empty_url, "clients", "create", "--org", acme["id"],
                                                       "--permission", "billing:usage:ingest", "--name", "x" * 101))
    assert not any(m["clientSecret"] in listed_out for m in made)  # never a secret, nor its hash
    assert "scrypt" not in listed_out and "$" not in listed_out
    assert json.loads(ok(billable(empty_url, "clients", "list", "--org", zeta["id"]))) == []


def test_repage_rewrites_an_old_sqlite_database_and_keeps_every_report(empty_url: str) -> None:
    """A database made by an earlier release (SQLite's 4 KiB pages) is rewritten with the
    larger pages new ones get; its reports are the same after. PostgreSQL has none to rewrite."""
    if empty_url.startswith("postgresql"):
        assert "only an SQLite database" in failed(billable(empty_url, "db", "repage"))
        return
    import sqlite3

    path = empty_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode = WAL")  # the file exists, with the old default pages
    out = ok(billable(empty_url, "demo", "--users", "20"))
    command = json.loads(out[out.index("{"):])["report"].split()[1:]
    before = ok(billable(empty_url, *command))

    def page_size() -> int:
        with sqlite3.connect(path) as conn:
            return int(conn.execute("PRAGMA page_size").fetchone()[0])

    assert page_size() == 4096
    rewritten = billable(empty_url, "db", "repage")
    ok(rewritten)
    assert "page size 4,096 → 32,768 bytes" in rewritten.stderr
    assert page_size() == 32_768
    assert ok(billable(empty_url, *command)) == before
    assert "already 32,768" in billable(empty_url, "db", "repage").stderr


def test_help_shows_each_commands_first_sentence_whole() -> None:
    """In 80 columns, no command's description is cut ("..."): each is its first sentence."""
    env = {**os.environ, "COLUMNS": "80"}
    for group in ([], ["orgs"], ["clients"], ["events"], ["periods"], ["db"]):
        shown = subprocess.run([PROGRAM, *group, "--help"], capture_output=True, text=True, env=env, check=True).stdout
        assert "..." not in shown.split("Commands:")[1], shown
    shown = subprocess.run([PROGRAM, "--help"], capture_output=True, text=True, env=env, check=True).stdout
    assert " ".join(shown.split()).count("or fetched through the SDK from a remote service with --host or --region.") == 1


def test_errors_name_the_options_not_the_apis_fields(empty_url: str) -> None:
    ok(billable(empty_url, "db", "upgrade"))
    org = json.loads(ok(billable(empty_url, "orgs", "create", "--name", "Acme")))["id"]
    period = ["--org", org, "--start", "2026-10-01", "--end", "2026-11-01"]
    assert failed(billable(empty_url, "report", "--org", org, "--start", "2026-13-01", "--end", "2026-11-01")) == \
        "billable: --start must be an ISO-8601 date-time or date"
    assert failed(billable(empty_url, "report", *period, "--as-of", "2999-01-01")) == \
        "billable: --as-of may not be in the future"
    assert "--as-of" in failed(billable(empty_url, "report", *period, "--as-of", "nonsense"))
    assert "--received-after" in failed(billable(empty_url, "events", "list", "--org", org, "--received-after", "x"))


def test_the_catalog_as_the_api_lists_it(make_org: MakeOrg, make_client: MakeClient) -> None:
    from conftest import new_client

    org = make_org("hourly")
    client = make_client()
    headers = bearer(client, *new_client(org.database, org.id))
    from_api = client.get("/api/v2/billing/products", headers=headers).json()
    assert json.loads(ok(billable(org.database.url, "catalog", "--org", org.id))) == from_api
    named = json.loads(ok(billable(org.database.url, "catalog")))
    assert named["model"] == "named" and {p["billedAs"] for p in named["entities"]} == {"named"}
    assert [p["name"] for p in named["entities"]] == [p["name"] for p in from_api["entities"]]


def test_a_subscription_is_set_from_a_file_shown_and_kept_when_replaced(empty_url: str, tmp_path: Path) -> None:
    ok(billable(empty_url, "db", "upgrade"))
    org = json.loads(ok(billable(empty_url, "orgs", "create", "--name", "Acme")))["id"]
    assert "not found" in failed(billable(empty_url, "subscriptions", "show", "--org", org))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"currency": "euro", "subscriptionType": "PREPAY",
                               "contractEffectiveDate": "2026-01-01",
                               "usages": [{"name": "cx9", "partNumber": "p", "overagePrice": "1"}]}))
    message = failed(billable(empty_url, "subscriptions", "set", "--org", org, "--file", str(bad)))
    assert "currency" in message and "usages[0].name" in message and "'cx9'" in message
    assert "not found" in failed(billable(empty_url, "subscriptions", "show", "--org", org))  # nothing was taken

    first: dict[str, Any] = {"currency": "USD", "subscriptionType": "PREPAY_MONTHLY_COMMITMENT",
             "contractEffectiveDate": "2026-01-01T00:00:00.000Z", "minimumMonthlyAmount": "500",
             "usages": [{"name": "cx1", "partNumber": "PC-CX1", "grouping": "user", "unitOfMeasureType": "user",
                         "prepayQuantity": "10", "prepayPrice": "75.00", "overagePrice": "90.00",
                         "bundleQuantity": "0", "isCancellable": False, "isThirdParty": False}]}
    made = json.loads(ok(billable(empty_url, "subscriptions", "set", "--org", org, "--file", "-", "--by", "Ada",
                                  stdin=json.dumps(first))))
    assert {key: made[key] for key in first} == first and made["setBy"] == "Ada"
    assert json.loads(ok(billable(empty_url, "subscriptions", "show", "--org", org))) == made

    second = {**first, "currency": "EUR", "usages": [{**first["usages"][0], "prepayQuantity": "25"}]}
    replaced = json.loads(ok(billable(empty_url, "subscriptions", "set", "--org", org, "--file", "-",
                                      stdin=json.dumps(second))))
    assert json.loads(ok(billable(empty_url, "subscriptions", "show", "--org", org)))["currency"] == "EUR"
    assert replaced["setAt"] > made["setAt"]
    earlier = json.loads(ok(billable(empty_url, "subscriptions", "show", "--org", org, "--at", made["setAt"])))
    assert earlier == made  # the one replaced is kept for the time it was in effect


def test_a_partner_is_trusted_listed_and_untrusted_and_an_overview_and_charges_are_printed(empty_url: str) -> None:
    ok(billable(empty_url, "db", "upgrade"))
    acme, partner = (json.loads(ok(billable(empty_url, "orgs", "create", "--name", name)))["id"]
                     for name in ("Acme", "Partner"))
    assert "trust another" in failed(billable(empty_url, "orgs", "trust", "--trustee", acme, "--trustor", acme))
    assert "not found" in failed(billable(empty_url, "orgs", "trust", "--trustee", str(uuid.uuid4()), "--trustor", acme))
    assert "trusts" in billable(empty_url, "orgs", "trust", "--trustee", partner, "--trustor", acme).stderr
    assert "already" in billable(empty_url, "orgs", "trust", "--trustee", partner, "--trustor", acme).stderr
    (listed,) = json.loads(ok(billable(empty_url, "orgs", "trustors", "--org", partner)))
    assert (listed["id"], listed["organization"]["name"]) == (acme, "Acme")
    assert "no longer" in billable(empty_url, "orgs", "untrust", "--trustee", partner, "--trustor", acme).stderr
    assert json.loads(ok(billable(empty_url, "orgs", "trustors", "--org", partner))) == []

    assert "not found" in failed(billable(empty_url, "overview", "--org", acme))  # no subscription yet
    subscription = {"currency": "EUR", "subscriptionType": "MONTH_TO_MONTH", "contractEffectiveDate": "2020-01-01",
                    "minimumMonthlyAmount": "10", "usages": [{"name": "cx1", "partNumber": "PC-CX1", "overagePrice": "3"}]}
    ok(billable(empty_url, "subscriptions", "set", "--org", acme, "--file", "-", stdin=json.dumps(subscription)))
    overview = json.loads(ok(billable(empty_url, "overview", "--org", acme, "--period-index", "2")))
    assert overview["usages"][0]["usageQuantity"] == "0" and overview["currency"] == "EUR"
    assert "billingPeriodIndex" in failed(billable(empty_url, "overview", "--org", acme, "--period-index", "-1"))
    charges = json.loads(ok(billable(empty_url, "charges", "--org", acme, "--month", "2026-02")))
    assert (charges["startDate"], charges["endDate"]) == ("2026-02-01T00:00:00.000Z", "2026-03-01T00:00:00.000Z")
    assert (charges["subtotal"], charges["minimumTopUp"], charges["total"]) == ("0.00", "10.00", "10.00")
    for month in ("2026-13", "0000-12", "9999-12"):  # past the instants' range: refused, never a trace
        assert "YYYY-MM" in failed(billable(empty_url, "charges", "--org", acme, "--month", month))
    assert json.loads(ok(billable(empty_url, "charges", "--org", acme, "--month", "9999-11")))["endDate"] == \
        "9999-12-01T00:00:00.000Z"


def test_alerts_and_webhooks_from_the_command_line(empty_url: str) -> None:
    ok(billable(empty_url, "db", "upgrade"))
    org = json.loads(ok(billable(empty_url, "orgs", "create", "--name", "Acme")))["id"]
    made = json.loads(ok(billable(empty_url, "alerts", "create", "--org", org, "--name", "seats", "--product", "cx1",
                                  "--threshold", "80%", "--threshold", "250")))
    assert made["thresholds"] == [{"percent": "80"}, {"quantity": "250"}] and made["createdBy"].startswith("cli:")
    assert "thresholds[0]" in failed(billable(empty_url, "alerts", "create", "--org", org, "--threshold", "many"))
    assert [a["id"] for a in json.loads(ok(billable(empty_url, "alerts", "list", "--org", org)))] == [made["id"]]
    assert "must be HTTPS" in failed(billable(empty_url, "webhooks", "create", "--org", org, "--url", "http://example.com/"))
    hook = json.loads(ok(billable(empty_url, "webhooks", "create", "--org", org, "--url", "http://127.0.0.1:9/x")))
    assert hook["secret"].startswith("whsec_")
    (listed,) = json.loads(ok(billable(empty_url, "webhooks", "list", "--org", org)))
    assert listed["id"] == hook["id"] and "secret" not in listed
    assert json.loads(ok(billable(empty_url, "webhooks", "deliveries", "--org", org, "--webhook", hook["id"]))) == []
    assert "not found" in failed(billable(empty_url, "webhooks", "redeliver", "--org", org, "--webhook", hook["id"],
                                          "--message", "msg_x"))
    ok(billable(empty_url, "webhooks", "delete", "--org", org, "--webhook", hook["id"]))
    ok(billable(empty_url, "alerts", "delete", "--org", org, "--alert", made["id"]))
    assert json.loads(ok(billable(empty_url, "alerts", "list", "--org", org))) == []
    assert "not found" in failed(billable(empty_url, "alerts", "delete", "--org", org, "--alert", made["id"]))
