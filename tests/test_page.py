"""The web page, end to end, in a real headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import MakeOrg, new_client, running_server
from playwright.sync_api import Page, expect, sync_playwright

from billable.generator import Workload, generate
from billable.rules.instants import parse_instant

CHROMIUM = "/usr/bin/chromium"
# Closed network: no background connections, no first-run work (see the machine's notes).
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
OCTOBER = {"startDate": "2026-10-01", "endDate": "2026-11-01"}


@pytest.fixture
def page():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1200, "height": 900}, accept_downloads=True)
        yield context.new_page()
        context.close()
        browser.close()


def ingest_generated(org: Any, users: int, days: int) -> None:
    """``days`` of generated usage of ``users`` from 2026-10-01."""
    org.ingest(list(generate(Workload(users=users, days=days, start=parse_instant("2026-10-01", allow_date=True)))))


def figure(text: str) -> str:
    """The number a cell shows (``1,234.5 hours``) as the API writes it (``1234.5``)."""
    return text.split(" ")[0].replace(",", "")


def sign_in_reader(page: Page, base: str, org: Any) -> None:
    """Sign in with a new client of ``org`` that may read reports."""
    sign_in(page, base, *new_client(org.database, org.id, "billing:subscription:view"))


def sign_in(page: Page, base: str, client_id: str, secret: str) -> None:
    page.goto(base + "/")
    page.fill("#client-id", client_id)
    page.fill("#client-secret", secret)
    page.click("#sign-in button[type=submit]")


def test_read_the_bill(page: Page, make_org: MakeOrg, tmp_path: Path) -> None:
    org = make_org("concurrent")
    for batch in [list(generate(Workload(users=25, days=31, start=parse_instant("2026-10-01", allow_date=True))))]:
        org.ingest(batch)
    client_id, secret = new_client(org.database, org.id, "billing:subscription:view")
    with running_server(org.database.url) as base:
        sign_in(page, base, client_id, "wrong secret")
        expect(page.locator("#message")).to_contain_text("Wrong client id or secret")
        page.screenshot(path=str(tmp_path / "wrong-secret.png"))

        sign_in(page, base, client_id, secret)
        page.select_option("#preset", "custom")
        page.fill("#start", OCTOBER["startDate"])
        page.fill("#end", OCTOBER["endDate"])
        page.click("#load")
        expect(page.locator("#report-title")).to_have_text("2026-10-01 to 2026-10-31")
        expect(page.locator("#report-status")).to_have_text("Complete")
        rows = page.locator("#usages > tbody > tr.usage")
        expect(rows.first).to_be_visible()
        shown = {row.locator("td").nth(1).inner_text(): figure(row.locator("td").nth(2).inner_text())
                 for row in rows.all()}
        token = httpx.post(f"{base}/oauth/token", data={"grant_type": "client_credentials"},
                           auth=(client_id, secret)).json()["access_token"]
        api = httpx.get(f"{base}/api/v2/billing/reports/billableusage", params=OCTOBER,
                        headers={"Authorization": f"Bearer {token}"}).json()
        assert shown == {u["name"]: u["totalUsage"] for u in api["usages"]}
        assert "cx1" in shown

        page.click("tr.usage[data-usage=cx1]")
        resources = page.locator("tr.resources:visible .resource-table tbody tr")
        cx1 = next(u for u in api["usages"] if u["name"] == "cx1")
        expect(resources).to_have_count(len(cx1["resources"]))
        first_name = cx1["resources"][0]["name"]
        page.fill("tr.resources:visible .resource-search", first_name)
        expect(resources).to_have_count(1)
        expect(resources.first).to_contain_text(first_name)
        page.fill("tr.resources:visible .resource-search", "")
        page.select_option("tr.resources:visible .resource-sort", "name")
        expect(resources.first).to_contain_text(min(r["name"] for r in cx1["resources"]))
        # Why is this user billed? The explain route's answer, in sentences.
        page.locator("tr.resources:visible .resource-table tbody tr").first.locator("button.why").click()
        explained = httpx.get(f"{base}/api/v2/billing/reports/billableusage/explain",
                              params={**OCTOBER, "userId": min(r["name"] for r in cx1["resources"])},
                              headers={"Authorization": f"Bearer {token}"}).json()
        expect(page.locator("#explanation")).to_be_focused()
        expect(page.locator("#explanation-title")).to_have_text(
            f"Why {explained['displayName']} is billed, 2026-10-01 to 2026-10-31")
        charged = next(f for f in explained["families"] if f["charge"])
        expect(page.locator("#explanation-lines")).to_contain_text(f"{charged['family']}: billed {charged['charge']}")
        expect(page.locator("#explanation-lines")).to_contain_text(f"Logged in {explained['loggedInHours']} hours")
        # The charts: axes with dates, a legend naming each line, values at the cursor.
        expect(page.locator("#peaks-chart canvas")).to_be_attached()  # concurrent organization
        legend = page.locator("#trend-chart .u-legend .u-series")
        expect(legend.filter(has_text="cx1")).to_have_count(1)
        looks = {m.evaluate("e => getComputedStyle(e).borderColor + getComputedStyle(e).borderStyle")
                 for m in legend.locator(".u-marker").all()}
        assert len(looks) == len(api["usages"])  # one colour and dash per line
        page.locator("#trend-chart").scroll_into_view_if_needed()
        box = page.locator("#trend-chart .u-over").bounding_box()
        assert box is not None
        page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)
        expect(page.locator("#trend-point")).to_have_text(re.compile(rf"^2026-10-31: .*\bcx1 {len(cx1['resources'])}\b"))
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)

        with page.expect_download() as download:
            page.click("#download")
        downloaded = Path(download.value.path()).read_bytes()
        program = str(Path(sys.executable).with_name("billable"))
        cli = subprocess.run([program, "report", "--org", org.id, "--start", "2026-10-01", "--end", "2026-11-01",
                              "--format", "csv"], capture_output=True, timeout=60,
                             env={**os.environ, "BILLABLE_DATABASE_URL": org.database.url})
        assert cli.returncode == 0, cli.stderr
        assert downloaded == cli.stdout


def test_messages_for_permissions_and_expired_sessions(page: Page, make_org: MakeOrg) -> None:
    org = make_org()
    ingest_only = new_client(org.database, org.id, "billing:usage:ingest")
    with running_server(org.database.url, token_ttl_seconds="60") as base:
        sign_in(page, base, *ingest_only)
        expect(page.locator("#message")).to_contain_text("Missing permission")
        # The token dies (here: the database forgets it): the page says so and asks to sign in.
        reader = new_client(org.database, org.id, "billing:subscription:read")
        sign_in(page, base, *reader)
        expect(page.locator("#report-status")).to_have_text("Complete")
        # The page asks for the catalog after showing the report: let it finish first, or
        # that request meets the deleted token and the page signs out before the click.
        page.wait_for_load_state("networkidle")
        with org.database.write() as conn:
            conn.exec_driver_sql("DELETE FROM access_tokens")
        page.click("#load")
        expect(page.locator("#message")).to_contain_text("session has expired")
        expect(page.locator("#sign-in-panel")).to_be_visible()


def test_rate_limit_message(page: Page, make_org: MakeOrg) -> None:
    org = make_org()
    reader = new_client(org.database, org.id, "billing:subscription:view")
    with running_server(org.database.url, rate_limit_per_minute="2") as base:
        sign_in(page, base, *reader)  # the report and the catalog: two requests
        expect(page.locator("#report-status")).to_have_text("Complete")
        page.click("#load")
        expect(page.locator("#message")).to_contain_text("Too many requests")


def test_progress_while_in_progress(page: Page, make_org: MakeOrg) -> None:
    org = make_org()
    ingest_generated(org, users=5, days=3)
    reader = new_client(org.database, org.id, "billing:subscription:view")
    with running_server(org.database.url, report_budget_seconds="0") as base:  # the first answer is InProgress
        sign_in(page, base, *reader)
        expect(page.locator("#status")).to_contain_text("computing the report")
        expect(page.locator("#report-status")).to_have_text("Complete")
        expect(page.locator("#status")).to_be_hidden()


def click_and_dismiss(page: Page, selector: str) -> list[str]:
    """Click ``selector`` and dismiss the confirmation it asks for; what it asked."""
    asked: list[str] = []

    def dismiss(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.click(selector)
    return asked


def void_from_the_page(page: Page, subject: str, row_text: str, reason: str) -> None:
    """Void, confirmed, the event of ``subject`` whose row shows ``row_text``."""
    page.fill("#events-subject", subject)
    page.click("#events-search button")
    page.locator("#events tbody tr", has_text=row_text).locator("button", has_text="Void").click()
    page.fill(".void-form input", reason)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(".void-form button[type=submit]")


def _report_loaded(page: Page, start: str, end: str) -> None:
    page.select_option("#preset", "custom")
    page.fill("#start", start)
    page.fill("#end", end)
    page.click("#load")


def test_messages_clear_and_a_refused_period_keeps_the_report(page: Page, make_org: MakeOrg) -> None:
    org = make_org()
    ingest_generated(org, users=8, days=5)
    client_id, secret = new_client(org.database, org.id, "billing:subscription:view")
    with running_server(org.database.url) as base:
        sign_in(page, base, client_id, "wrong secret")
        expect(page.locator("#message")).to_contain_text("Wrong client id or secret")
        sign_in(page, base, client_id, secret)  # succeeds: the old message goes
        expect(page.locator("#report-panel")).to_be_visible()
        expect(page.locator("#message")).to_be_hidden()
        expect(page.locator("#who")).to_have_text(f"{org.organization.name} · named model")  # not the client's id
        _report_loaded(page, "2026-10-01", "2026-11-01")
        expect(page.locator("#report-title")).to_have_text("2026-10-01 to 2026-10-31")
        rows = page.locator("#usages > tbody > tr.usage").count()
        assert rows > 0
        _report_loaded(page, "2026-01-01", "2027-02-01")  # over 366 days: refused
        expect(page.locator("#end-error")).to_contain_text("The period may span at most")
        expect(page.locator("#end")).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#message")).to_be_hidden()
        # The report shown before is still there.
        expect(page.locator("#report-title")).to_have_text("2026-10-01 to 2026-10-31")
        expect(page.locator("#usages > tbody > tr.usage")).to_have_count(rows)
        _report_loaded(page, "2026-10-02", "2026-11-01")  # a good period: the error goes
        expect(page.locator("#report-title")).to_have_text("2026-10-02 to 2026-10-31")
        expect(page.locator("#end-error")).to_have_text("")
        assert page.locator("#end").get_attribute("aria-invalid") is None
        page.click("#sign-out")
        expect(page.locator("#message")).to_be_hidden()


def test_empty_period_and_searches_that_find_nothing(page: Page, make_org: MakeOrg) -> None:
    org = make_org()
    ingest_generated(org, users=8, days=5)
    with running_server(org.database.url) as base:
        sign_in_reader(page, base, org)
        _report_loaded(page, "2025-01-01", "2025-02-01")
        expect(page.locator("#usages tbody")).to_contain_text("No billable usage in this period")
        expect(page.locator(".charts")).to_be_hidden()
        expect(page.locator("#download")).to_be_disabled()
        _report_loaded(page, "2026-10-01", "2026-11-01")
        expect(page.locator("#download")).to_be_enabled()
        expect(page.locator(".charts")).to_be_visible()
        # The summary: each usage once with its total, so that a spreadsheet's sum is right.
        with page.expect_download() as download:
            page.click("#download-summary")
        lines = Path(download.value.path()).read_bytes().decode().split("\r\n")
        shown = [(row.locator("td").nth(1).inner_text(), figure(row.locator("td").nth(2).inner_text()),
                  figure(row.locator("td").nth(3).inner_text())) for row in page.locator("#usages > tbody > tr.usage").all()]
        assert lines[0] == "usage,totalUsage,resources" and lines[-1] == ""
        assert [tuple(line.split(",")) for line in lines[1:-1]] == shown and len(shown) >= 3
        first = page.locator("#usages > tbody > tr.usage").first
        first.click()
        total = int(first.locator("td").nth(3).inner_text())
        count = page.locator("tr.resources:visible .resource-count")
        expect(count).to_have_text(f"{total} of {total}")
        page.fill("tr.resources:visible .resource-search", "no such resource anywhere")
        expect(count).to_have_text(f"0 of {total}")
        expect(page.locator("tr.resources:visible .resource-search")).to_have_attribute(
            "aria-label", re.compile("Search the resources of"))


def test_a_phone_width_has_no_horizontal_scroll(make_org: MakeOrg, tmp_path: Path) -> None:
    org = make_org("concurrent")
    ingest_generated(org, users=25, days=31)
    with running_server(org.database.url) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        phone = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
        sign_in(phone, base, *new_client(org.database, org.id, "billing:subscription:view"))
        _report_loaded(phone, "2026-10-01", "2026-11-01")
        expect(phone.locator("#peaks-chart canvas")).to_be_attached()
        # Each product's legend marker in a colour and dash of its own (once the sign-in's own load has settled too).
        phone.wait_for_load_state("networkidle")
        legend = phone.eval_on_selector_all("#peaks-chart .u-legend .u-series",
                                            "all => all.map(s => [s.innerText.split('\\n')[0].trim(), "
                                            "getComputedStyle(s.querySelector('.u-marker')).border])")
        assert len(legend) >= 2 and len({colour for _, colour in legend}) == len(legend), legend
        phone.locator("#usages > tbody > tr.usage").first.click()
        expect(phone.locator("tr.resources:visible .resource-search")).to_be_visible()
        phone.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
        width = phone.evaluate("document.documentElement.scrollWidth")
        browser.close()
    assert width <= 390, width


def test_keyboard_only(page: Page, make_org: MakeOrg) -> None:
    """Sign in, choose a period and open a product's resources with the keyboard alone."""
    org = make_org("concurrent")
    ingest_generated(org, users=8, days=5)
    client_id, secret = new_client(org.database, org.id, "billing:subscription:view")
    with running_server(org.database.url) as base:
        page.goto(base + "/")
        page.keyboard.press("Tab")
        expect(page.locator("#client-id")).to_be_focused()
        page.keyboard.type(client_id)
        page.keyboard.press("Tab")
        page.keyboard.type(secret)
        page.keyboard.press("Enter")
        expect(page.locator("#preset")).to_be_focused()  # focus lands on the period, not the page's top
        expect(page.locator("#totals-caption")).to_contain_text("the period's peak")
        # Last month is October here (the clock is real): choosing a preset loads it at once.
        page.wait_for_load_state("networkidle")
        page.select_option("#preset", "this-month")
        expect(page.locator("#report-title")).not_to_have_text(re.compile("^2026-10-01 to 2026-10-31$"))
        expect(page.locator("#report-status")).to_have_text("Running: so far")  # not over: not final
        page.select_option("#preset", "custom")
        page.fill("#start", "2026-10-01")
        page.fill("#end", "2026-11-01")
        page.focus("#load")
        page.keyboard.press("Enter")
        expect(page.locator("#report-title")).to_have_text("2026-10-01 to 2026-10-31")
        expect(page.locator("#report-status")).to_have_text("Complete")
        row = page.locator("#usages > tbody > tr.usage").first
        row.focus()
        expect(row).to_have_attribute("aria-expanded", "false")
        page.keyboard.press("Enter")
        expect(row).to_have_attribute("aria-expanded", "true")
        expect(page.locator("tr.resources:visible .resource-search")).to_be_visible()
        page.keyboard.press(" ")
        expect(row).to_have_attribute("aria-expanded", "false")


def test_a_users_events_and_voiding_one(page: Page, make_org: MakeOrg) -> None:
    """Search a user's events; a client with billing:events:void voids the wrong one with a
    reason, after a confirmation (dismissed once: nothing sent); the report follows."""
    from conftest import event

    org = make_org()
    org.ingest([
        event("license.assigned", "ann", "2026-10-01T00:00:00Z", id="a1", product="cx1"),
        event("user.login", "ann", "2026-10-02T08:00:00Z", id="a2"),
        event("license.assigned", "bob", "2026-10-01T00:00:00Z", id="b1", product="cx1"),
        event("user.login", "bob", "2026-10-03T08:00:00Z", id="b2", email="bob@example.com"),
    ])
    viewer = new_client(org.database, org.id, "billing:subscription:view")
    voider = new_client(org.database, org.id, "billing:subscription:view", "billing:events:void")
    with running_server(org.database.url) as base:
        sign_in(page, base, *viewer)
        page.select_option("#preset", "custom")
        page.fill("#start", OCTOBER["startDate"])
        page.fill("#end", OCTOBER["endDate"])
        page.click("#load")
        expect(page.locator("tr.usage[data-usage=cx1] td").nth(2)).to_have_text("2 users")
        page.fill("#events-subject", "bob")
        page.click("#events-search button")
        rows = page.locator("#events tbody tr")
        expect(rows).to_have_count(2)
        expect(page.locator("#events-note")).to_contain_text("2 event(s) of bob")
        expect(page.locator("#events button")).to_have_count(0)  # no permission to void: no button
        page.fill("#events-subject", "bob@example.com")  # as the report names him
        page.click("#events-search button")
        expect(page.locator("#events-note")).to_contain_text("2 event(s) of bob@example.com")
        expect(rows).to_have_count(2)
        page.fill("#events-subject", "nobody")
        page.click("#events-search button")
        expect(page.locator("#events-note")).to_have_text("No event of nobody was received.")

        page.click("#sign-out")
        sign_in(page, base, *voider)
        page.select_option("#preset", "custom")
        page.fill("#start", OCTOBER["startDate"])
        page.fill("#end", OCTOBER["endDate"])
        page.click("#load")
        page.fill("#events-subject", "bob")
        page.click("#events-search button")
        assignment = rows.filter(has_text="license.assigned")
        assignment.locator("button", has_text="Void").click()
        page.fill(".void-form input", "assigned to bob by mistake")
        answers = click_and_dismiss(page, ".void-form button[type=submit]")
        expect(page.locator(".void-form")).to_be_visible()  # dismissed: still asking, nothing sent
        assert answers and "cannot be undone" in answers[0]
        page.once("dialog", lambda dialog: dialog.accept())
        page.click(".void-form button[type=submit]")
        expect(page.locator("#message")).to_contain_text("Voided")
        expect(assignment.locator("td.voided")).to_contain_text("assigned to bob by mistake")
        expect(assignment.locator("td.voided")).to_contain_text(voider[0])
        expect(page.locator("tr.usage[data-usage=cx1] td").nth(2)).to_have_text("1 user")


def test_a_closed_period_with_its_amendments_and_a_report_as_of(page: Page, make_org: MakeOrg) -> None:
    from conftest import CATALOG, INGESTED_AT, event

    from billable.rules.instants import HOUR_MS, Period, format_instant
    from billable.service.periods import close_period

    org = make_org()
    org.ingest([event("license.assigned", "ann", "2026-10-01T00:00:00Z", product="cx1"),
                event("user.login", "ann", "2026-10-02T08:00:00Z")], now=INGESTED_AT)
    with org.database.write() as conn:
        close_period(conn, org.id, Period.parse("2026-10-01", "2026-11-01"), CATALOG, INGESTED_AT + 1, "finance")
    org.ingest([event("license.assigned", "bob", "2026-10-01T00:00:00Z", id="late-1", product="cx1"),
                event("user.login", "bob", "2026-10-03T08:00:00Z", id="late-2")], now=INGESTED_AT + HOUR_MS)
    with running_server(org.database.url) as base:
        sign_in_reader(page, base, org)
        page.select_option("#preset", "custom")
        page.fill("#start", OCTOBER["startDate"])
        page.fill("#end", OCTOBER["endDate"])
        page.click("#load")
        expect(page.locator("#report-status")).to_contain_text("Closed")
        expect(page.locator("#report-status")).to_contain_text("finance")
        expect(page.locator("tr.usage[data-usage=cx1] td").nth(2)).to_have_text("1 user")  # the kept figure
        expect(page.locator("#amendments-list li")).to_have_count(1)
        expect(page.locator("#amendments-list li")).to_contain_text("bob added")
        expect(page.locator("#amendments-list li")).to_contain_text("late-2")
        # The report of another period, as of before bob's events arrived.
        page.fill("#end", "2026-10-31")
        page.fill("#as-of", format_instant(INGESTED_AT + 1)[:19])
        page.click("#load")
        expect(page.locator("#report-status")).not_to_contain_text("Closed")
        expect(page.locator("tr.usage[data-usage=cx1] td").nth(2)).to_have_text("1 user")
        expect(page.locator("#amendments")).to_be_hidden()
        page.fill("#as-of", "")
        page.click("#load")
        expect(page.locator("tr.usage[data-usage=cx1] td").nth(2)).to_have_text("2 users")


def test_periods_people_think_in_and_the_previous_one_beside(page: Page, make_org: MakeOrg) -> None:
    """Presets name whole UTC days from the browser's today; a report comes with the period
    before it, each product's total then and the change, and a product billed only then."""
    from conftest import event

    org = make_org()
    org.ingest([event("license.assigned", user, "2026-08-01T00:00:00Z", product=product)
                for user, product in [("ann", "cx1"), ("bob", "cx1"), ("cat", "cx2"), ("dee", "wem1")]]
               + [event(kind, user, f"2026-{day}T{hour}:00:00Z") for user, day in [
                   ("ann", "09-03"), ("dee", "09-04"),  # September
                   ("ann", "10-02"), ("bob", "10-05"), ("cat", "10-06")]
                  for kind, hour in (("user.login", "08"), ("user.logout", "09"))])
    page.clock.set_fixed_time("2026-11-20T10:00:00Z")  # the browser's today
    with running_server(org.database.url) as base:
        sign_in_reader(page, base, org)
        expect(page.locator("#report-title")).to_have_text("2026-10-01 to 2026-10-31")  # last month, at once
        expect(page.locator("#comparison")).to_have_text(
            "Compared with the previous period, 2026-09-01 to 2026-09-30.")
        rows = {row.locator("td").nth(1).inner_text(): [row.locator("td").nth(n).inner_text() for n in (2, 4, 5)]
                for row in page.locator("#usages > tbody > tr.usage, #usages > tbody > tr.gone").all()}
        assert rows == {"cx1": ["2 users", "1", "+1"], "cx2": ["1 user", "0", "+1"], "wem1": ["0", "1", "−1"]}, rows
        # Totals of different products do not add up; the last row counts the distinct users billed.
        expect(page.locator("#grand-total th")).to_have_text("Distinct users and devices")
        expect(page.locator("#grand-total td")).to_have_text(["", "—", "3", "—", "—"])
        # The dates are typed and shown as the title writes them, whatever the browser's locale.
        assert page.input_value("#start") == "2026-10-01" and page.get_attribute("#start", "placeholder") == "YYYY-MM-DD"
        expected = {"last-7": ("2026-11-14", "2026-11-21"), "last-30": ("2026-10-22", "2026-11-21"),
                    "this-month": ("2026-11-01", "2026-12-01"), "this-quarter": ("2026-10-01", "2027-01-01"),
                    "last-quarter": ("2026-07-01", "2026-10-01"), "year-to-date": ("2026-01-01", "2026-11-21")}
        for preset, (start, end) in expected.items():
            page.select_option("#preset", preset)
            assert (page.input_value("#start"), page.input_value("#end")) == (start, end), preset
        expect(page.locator("#comparison")).to_have_text(  # the same days a year before
            "Compared with the previous period, 2025-01-01 to 2025-11-20.")
        page.select_option("#preset", "last-quarter")
        expect(page.locator("#comparison")).to_have_text("Compared with the previous period, 2026-04-01 to 2026-06-30.")
        _report_loaded(page, "2026-10-01", "2026-11-01")  # whole months typed by hand: the month before
        expect(page.locator("#comparison")).to_have_text("Compared with the previous period, 2026-09-01 to 2026-09-30.")
        _report_loaded(page, "2026-10-10", "2026-10-20")  # else as many days before
        expect(page.locator("#comparison")).to_have_text("Compared with the previous period, 2026-09-30 to 2026-10-09.")
        # The catalog: what each product is billed as, as the API says.
        page.click("#catalog-panel summary")
        products = httpx.get(f"{base}/api/v2/billing/products", headers=_bearer(base, org)).json()["entities"]
        expect(page.locator("#catalog tbody tr")).to_have_count(len(products))
        expect(page.locator("#catalog tbody")).to_contain_text("named (each user who logs in)")


def _bearer(base: str, org: Any) -> dict[str, str]:
    client_id, secret = new_client(org.database, org.id, "billing:subscription:view")
    answer = httpx.post(f"{base}/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_charts_by_keyboard_and_an_accessibility_check(page: Page, make_org: MakeOrg) -> None:
    """The trend chart is read day by day with the arrow keys; axe-core finds no serious or
    critical violation on the report, a resource list and an explanation."""
    from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]

    org = make_org("concurrent")
    ingest_generated(org, users=25, days=31)
    with running_server(org.database.url) as base:
        sign_in_reader(page, base, org)
        _report_loaded(page, "2026-10-01", "2026-11-01")
        expect(page.locator("#report-title")).to_have_text("2026-10-01 to 2026-10-31")
        page.wait_for_load_state("networkidle")
        chart = page.locator("#trend-chart")
        chart.focus()
        page.keyboard.press("Home")
        expect(page.locator("#trend-point")).to_have_text(re.compile(r"^2026-10-01: .*cx1 \d+"))
        page.keyboard.press("ArrowRight")
        expect(page.locator("#trend-point")).to_have_text(re.compile(r"^2026-10-02: "))
        page.keyboard.press("End")
        cx1 = page.locator("#usages tr.usage[data-usage=cx1] td").nth(3).inner_text()
        expect(page.locator("#trend-point")).to_have_text(re.compile(rf"^2026-10-31: .*\bcx1 {cx1}\b"))
        page.click("tr.usage[data-usage=cx1]")
        page.locator("tr.resources:visible button.why").first.click()
        expect(page.locator("#explanation")).to_be_visible()
        page.click("#catalog-panel summary")
        page.wait_for_load_state("networkidle")
        found = Axe().run(page)
        serious = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
                   for v in found.response["violations"] if v["impact"] in ("serious", "critical")]
        assert serious == []


def test_hours_per_day_under_the_hourly_model(page: Page, make_org: MakeOrg) -> None:
    """An hourly organization's chart is the hours logged in per day, as the API counts them."""
    org = make_org("hourly")
    ingest_generated(org, users=12, days=5)
    with running_server(org.database.url) as base:
        sign_in_reader(page, base, org)
        _report_loaded(page, "2026-10-01", "2026-10-06")
        expect(page.locator("#peaks-caption")).to_have_text("Hours logged in per day, per product (hourly usage)")
        page.wait_for_load_state("networkidle")
        found = httpx.get(f"{base}/api/v2/billing/reports/concurrentusage",
                          params={"startDate": "2026-10-01", "endDate": "2026-10-06"}, headers=_bearer(base, org)).json()
        product = next(p for p in found["products"] if p["peak"] > 0)
        second = product["days"][1]
        page.locator("#peaks-chart").focus()
        page.keyboard.press("Home")
        page.keyboard.press("ArrowRight")
        hours = f"{float(second['loggedInHours']):g}"
        expect(page.locator("#peaks-point")).to_have_text(re.compile(rf"^2026-10-02: .*\b{product['name']} {hours}\b"))


def test_a_slow_answer_never_replaces_a_later_report(page: Page, make_org: MakeOrg) -> None:
    """September's report is held back; October is chosen meanwhile and shown; then
    September's answer arrives: October stays, with October's comparison."""
    from conftest import event

    org = make_org()
    org.ingest([event("license.assigned", "ann", "2026-08-01T00:00:00Z", product="cx1"),
                event("user.login", "ann", "2026-09-03T08:00:00Z"), event("user.logout", "ann", "2026-09-03T09:00:00Z")])
    page.clock.set_fixed_time("2026-11-20T10:00:00Z")
    held: list[Any] = []

    def hold_september(route: Any) -> None:
        if "startDate=2026-09-01&endDate=2026-10-01" in route.request.url and not held:
            held.append(route)  # answered later, by the test
        else:
            route.continue_()

    with running_server(org.database.url) as base:
        sign_in_reader(page, base, org)
        expect(page.locator("#report-title")).to_have_text("2026-10-01 to 2026-10-31")
        page.wait_for_load_state("networkidle")
        page.route("**/api/v2/billing/reports/billableusage?*", hold_september)
        _report_loaded(page, "2026-09-01", "2026-10-01")
        expect(page.locator("#status")).to_have_text("Loading the report…")
        _report_loaded(page, "2026-10-01", "2026-11-01")
        expect(page.locator("#comparison")).to_have_text("Compared with the previous period, 2026-09-01 to 2026-09-30.")
        assert len(held) == 1
        held[0].fulfill(response=held[0].fetch())  # September's answer, late
        page.wait_for_timeout(1_000)
        expect(page.locator("#report-title")).to_have_text("2026-10-01 to 2026-10-31")
        expect(page.locator("#usages > tbody > tr.usage")).to_have_count(0)  # October: nobody logged in
        expect(page.locator("#usages > tbody > tr.gone")).to_have_count(1)  # cx1, billed in September only


def test_the_date_axis_reads_any_period_and_every_line_looks_its_own(make_org: MakeOrg, tmp_path: Path) -> None:
    """The trend chart's date axis has labels for a day, two weeks and the year to date,
    at a desktop's width and a phone's; ten usages are ten lines no two of which share
    their colour and dash (issue 34, items 1 and 4)."""
    from conftest import CATALOG, event

    org = make_org()
    users = [(f"u{n}", product.name) for n, product in enumerate(CATALOG.user_products)]
    org.ingest([event("license.assigned", user, "2026-01-01T00:00:00Z", product=product) for user, product in users]
               + [event("user.login", user, f"2026-{1 + n:02d}-02T08:00:00Z") for n, (user, _) in enumerate(users)]
               + [event("device.active", f"d{n}", "2026-10-02T08:00:00Z", deviceType=device.name)
                  for n, device in enumerate(CATALOG.device_types)])
    usages = len(CATALOG.user_products) + len(CATALOG.device_types)
    assert usages == 10
    with running_server(org.database.url) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for width in (1280, 390):
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.clock.set_fixed_time("2026-11-20T10:00:00Z")
            sign_in_reader(page, base, org)
            chart = page.locator("#trend-chart")
            page.select_option("#preset", "year-to-date")
            page.click("#load")
            expect(page.locator("#report-title")).to_have_text("2026-01-01 to 2026-11-20")
            expect(chart).to_have_attribute("data-axis", re.compile(r"^2026-01 "))
            months = (chart.get_attribute("data-axis") or "").split()
            page.screenshot(path=f"/tmp/ytd-{width}.png", full_page=True)
            assert len(months) >= (4 if width == 1280 else 2) and months == sorted(months), (width, months)
            assert all(re.fullmatch(r"2026-(0[1-9]|1[01])", month) for month in months), months
            if width == 1280:
                markers = chart.locator(".u-legend .u-series .u-marker")
                expect(chart.locator(".u-legend")).not_to_contain_text("--")  # no placeholder values
                expect(chart.locator(".u-legend")).not_to_contain_text("Day")
                expect(markers).to_have_count(usages)
                looks = {marker.evaluate("m => [getComputedStyle(m).borderTopColor, getComputedStyle(m).borderTopStyle]")
                         .__str__() for marker in markers.all()}
                assert len(looks) == usages, looks
            _report_loaded(page, "2026-10-02", "2026-10-03")
            expect(page.locator("#report-title")).to_have_text("2026-10-02 to 2026-10-02")
            expect(chart).to_have_attribute("data-axis", "10-02")
            _report_loaded(page, "2026-10-01", "2026-10-15")
            expect(page.locator("#report-title")).to_have_text("2026-10-01 to 2026-10-14")
            days = (chart.get_attribute("data-axis") or "").split()
            assert days[0] == "10-01" and len(days) >= 2 and all(re.fullmatch(r"10-\d\d", d) for d in days), days
            page.screenshot(path=str(tmp_path / f"two-weeks-{width}.png"), full_page=True)
            page.close()
        browser.close()


def test_a_phone_sees_every_column_or_that_a_table_scrolls(make_org: MakeOrg, tmp_path: Path) -> None:
    """At 390 px the report's table shows every column, down to "Change"; the events table,
    wider than the phone, says it scrolls sideways, takes the keyboard, and scrolled to its
    end shows the Void button (issue 34, item 6)."""
    from conftest import event

    org = make_org()
    org.ingest([event("license.assigned", "ann", "2026-09-01T00:00:00Z", product="communicate"),
                event("license.assigned", "bob", "2026-09-01T00:00:00Z", product="collaborate"),
                event("user.login", "ann", "2026-09-03T08:00:00Z"),
                event("user.login", "ann", "2026-10-02T08:00:00Z", email="ann.longname@example.com"),
                event("user.login", "bob", "2026-10-03T08:00:00Z")])
    voider = new_client(org.database, org.id, "billing:subscription:view", "billing:events:void")
    with running_server(org.database.url) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        phone = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
        sign_in(phone, base, *voider)
        _report_loaded(phone, "2026-10-01", "2026-11-01")
        expect(phone.locator("tr.usage[data-usage=communicate] td").nth(5)).to_have_text("0")
        # The comparison is the report's last drawing: the rows stay put from here. Each edge is
        # read in one step of the page (a row drawn again between finding and measuring it
        # measured nothing: seen once under load).
        expect(phone.locator("#comparison")).to_contain_text("Compared with the previous period")
        for selector in ("#usages thead th:last-child", "tr.usage[data-usage=communicate] td:last-child"):
            right = phone.evaluate("s => { const r = document.querySelector(s).getBoundingClientRect();"
                                   " return r.width > 0 ? r.right : null; }", selector)
            assert right is not None and 0 < right <= 390, (selector, right)
        assert "scrolls" not in (phone.locator("#usages").locator("..").get_attribute("class") or "")
        phone.fill("#events-subject", "ann")
        phone.click("#events-search button")
        expect(phone.locator("#events tbody tr")).to_have_count(3)
        events_box = phone.locator("#events").locator("..")
        expect(events_box).to_have_class(re.compile(r"\bscrolls\b"))
        assert "Scroll sideways" in events_box.evaluate("b => getComputedStyle(b, '::before').content")
        assert events_box.get_attribute("tabindex") == "0"
        void = phone.locator("#events tbody tr").first.locator("button")
        events_box.evaluate("b => { b.scrollLeft = b.scrollWidth; }")
        box = void.bounding_box()
        assert box is not None and 0 <= box["x"] and box["x"] + box["width"] <= 390, box
        phone.screenshot(path=str(tmp_path / "phone-events.png"), full_page=True)
        browser.close()


def test_the_hourly_model_says_its_units_and_scales_each_on_its_own(page: Page, make_org: MakeOrg) -> None:
    """Under the hourly model the table says hours for an hourly product and users for the
    others, numbers have thousands separators, the bars of hours and of users each have a
    scale of their own, and the hours chart's axis says hours (issue 34, item 5)."""
    from conftest import event

    org = make_org("hourly")
    users = [f"u{n}" for n in range(4)]
    org.ingest([event("license.assigned", user, "2026-09-01T00:00:00Z", product=product)
                for user in users for product in ("cx1", "wem1")]
               + [event("user.login", user, "2026-10-01T00:00:00Z") for user in users]
               + [event("user.logout", user, "2026-10-20T00:00:00.500Z") for user in users])
    with running_server(org.database.url) as base:
        sign_in_reader(page, base, org)
        _report_loaded(page, "2026-10-01", "2026-11-01")
        api = httpx.get(f"{base}/api/v2/billing/reports/billableusage", params=OCTOBER,
                        headers=_bearer(base, org)).json()
        hours = next(u["totalUsage"] for u in api["usages"] if u["name"] == "cx1")
        assert float(hours) > 1000
        written = f"{float(hours):,.2f}".rstrip("0").rstrip(".")
        expect(page.locator("tr.usage[data-usage=cx1] td").nth(2)).to_have_text(f"{written} hours")
        expect(page.locator("tr.usage[data-usage=wem1] td").nth(2)).to_have_text("4 users")
        expect(page.locator("tr.usage[data-usage=cx1] td").nth(5)).to_have_text(f"+{written}")
        bars = {name: float(page.locator("#totals-chart rect").nth(n).get_attribute("width") or 0)
                for n, name in enumerate(["cx1", "wem1"])}
        assert bars["cx1"] == bars["wem1"] > 100, bars  # each the largest of its unit
        expect(page.locator("#totals-chart .bar-value")).to_have_text([f"{written} hours", "4 users"])
        expect(page.locator("#grand-total td").nth(2)).to_have_text("4")  # four people, in two products each
        expect(page.locator("#peaks-caption")).to_have_text("Hours logged in per day, per product (hourly usage)")
        # Each user's own hours, in their row.
        cx1 = next(u for u in api["usages"] if u["name"] == "cx1")
        page.click("tr.usage[data-usage=cx1]")
        own = f"{float(cx1['resources'][0]['hours']):,.2f}".rstrip("0").rstrip(".")
        expect(page.locator("tr.resources:visible .resource-table td.hours").first).to_have_text(f"{own} hours")
        assert sum(float(r["hours"]) for r in cx1["resources"]) == pytest.approx(float(hours), abs=0.02)


def test_a_closed_periods_why_explains_the_kept_report_and_a_void_says_so(page: Page, make_org: MakeOrg) -> None:
    """After a period is closed and a login voided, the report keeps the first billable time
    of the close, and so do "Why?" (which says the period is closed) and the API's
    explanation; as of now, the explanation is the current one. The message after the void
    says the closed report keeps its figures (issue 34, item 2)."""
    from conftest import CATALOG, INGESTED_AT, event

    from billable.rules.instants import Period, format_instant, system_now
    from billable.service.periods import close_period

    org = make_org()
    org.ingest([event("license.assigned", "ann", "2026-10-01T00:00:00Z", product="cx1"),
                event("user.login", "ann", "2026-10-02T08:00:00Z", id="first", email="ann@x.com"),
                event("user.logout", "ann", "2026-10-02T09:00:00Z"),
                event("user.login", "ann", "2026-10-09T08:00:00Z", id="second")], now=INGESTED_AT)
    with org.database.write() as conn:
        close_period(conn, org.id, Period.parse("2026-10-01", "2026-11-01"), CATALOG, INGESTED_AT + 1, "finance")
    voider = new_client(org.database, org.id, "billing:subscription:view", "billing:events:void", name="Finance desk")
    with running_server(org.database.url) as base:
        sign_in(page, base, *voider)
        _report_loaded(page, "2026-10-01", "2026-11-01")
        expect(page.locator("#report-status")).to_contain_text("Closed")
        void_from_the_page(page, "ann", "2026-10-02 08:00", "a test login")
        expect(page.locator("#message")).to_contain_text("The period is closed: its report above keeps the figures")
        expect(page.locator("#message")).not_to_contain_text("computed without it")
        expect(page.locator("#amendments-list li")).to_have_text([re.compile("ann added .*voided .* by Finance desk: a test"),
                                                                  re.compile("ann@x.com removed")])
        # Who voided it, by the client's name (issue 34, item 13), in the events' list too.
        expect(page.locator("#events td.voided")).to_contain_text("by Finance desk: a test login")
        expect(page.locator("#events td.voided")).not_to_contain_text(voider[0])
        page.click("tr.usage[data-usage=cx1]")
        expect(page.locator("tr.resources:visible .resource-table tbody td").nth(1)).to_contain_text("2026-10-02 08:00")  # kept
        page.locator("tr.resources:visible button.why").first.click()
        expect(page.locator("#explanation-lines")).to_contain_text("This period is closed")
        expect(page.locator("#explanation-lines")).to_contain_text("First billable login 2026-10-02 08:00")
        headers = _bearer(base, org)
        kept = httpx.get(f"{base}/api/v2/billing/reports/billableusage/explain",
                         params={**OCTOBER, "userId": "ann"}, headers=headers).json()
        now = httpx.get(f"{base}/api/v2/billing/reports/billableusage/explain",
                        params={**OCTOBER, "userId": "ann", "asOf": format_instant(system_now())},
                        headers=headers).json()
    assert kept["closed"]["closedBy"] == "finance" and kept["firstBillableLogin"] == "2026-10-02T08:00:00.000Z"
    assert now["closed"] is None and now["firstBillableLogin"] == "2026-10-09T08:00:00.000Z"


def test_the_api_reference_pages_fetch_nothing_from_elsewhere(page: Page, make_org: MakeOrg) -> None:
    """/redoc and /docs load everything from this server (ReDoc's logo on a CDN is refused
    by the page's policy, never fetched), and each shows the API (issue 34, item 12)."""
    org = make_org()
    with running_server(org.database.url) as base:
        fetched: list[str] = []
        refused: list[tuple[str, str | None]] = []
        page.on("requestfinished", lambda request: fetched.append(request.url))
        page.on("requestfailed", lambda request: refused.append((request.url, request.failure)))
        page.goto(base + "/redoc")
        expect(page.locator("h1").first).to_contain_text("billable")
        page.wait_for_load_state("networkidle")
        page.goto(base + "/docs")
        expect(page.locator(".swagger-ui .title").first).to_contain_text("billable")
        page.wait_for_load_state("networkidle")
    assert fetched and all(url.startswith((base, "blob:" + base)) for url in fetched), fetched
    # Elsewhere, nothing left the browser: the policy refused it (a request of this server's
    # may be cut short by the next page, which is not a fetch from elsewhere).
    assert all(failure == "csp" for url, failure in refused if not url.startswith((base, "blob:" + base))), refused
    assert any(failure == "csp" for _, failure in refused), refused  # ReDoc's logo, refused


def test_messages_speak_the_forms_words_close_and_good_news_goes(page: Page, make_org: MakeOrg) -> None:
    """A refused field is named by its label ("As of", "From"), not the API's field; a
    message has a close button; good news (a void) goes by itself, an error stays
    (issue 34, item 9)."""
    from conftest import event

    org = make_org()
    org.ingest([event("license.assigned", "ann", "2026-10-01T00:00:00Z", product="cx1"),
                event("user.login", "ann", "2026-10-02T08:00:00Z")])
    voider = new_client(org.database, org.id, "billing:subscription:view", "billing:events:void")
    page.clock.install()
    with running_server(org.database.url) as base:
        sign_in(page, base, *voider)
        _report_loaded(page, "2026-10-01", "2026-11-01")
        expect(page.locator("tr.usage[data-usage=cx1]")).to_be_visible()
        page.fill("#as-of", "2999-01-01 00:00:00")
        page.click("#load")
        expect(page.locator("#as-of-error")).to_have_text("“As of” may not be in the future.")
        page.fill("#as-of", "")
        _report_loaded(page, "2026-10-01", "2027-12-01")
        expect(page.locator("#end-error")).to_contain_text("The period may span at most")
        _report_loaded(page, "2026-10-01", "2026-11-01")
        expect(page.locator("#end-error")).to_have_text("")
        void_from_the_page(page, "ann", "user.login", "a test")
        message = page.locator("#message")
        expect(message).to_contain_text("Voided")
        page.clock.run_for(9_000)
        expect(message).to_be_hidden()  # good news goes by itself
        page.click("#sign-out")
        sign_in(page, base, voider[0], "wrong secret")
        expect(message).to_contain_text("Wrong client id or secret.")
        page.clock.run_for(60_000)
        expect(message).to_be_visible()  # an error stays until it is closed
        message.get_by_role("button", name="Close the message").click()
        expect(message).to_be_hidden()


def test_closing_a_period_and_the_closed_ones_from_the_page(page: Page, make_org: MakeOrg) -> None:
    """A client that may close periods closes one that is over from its report, after a
    confirmation (dismissed once: nothing closed); the closed periods are listed, each
    shown again from the list. A reader has no such button (issue 34, item 8)."""
    from conftest import event

    org = make_org()
    org.ingest([event("license.assigned", "ann", "2026-09-01T00:00:00Z", product="cx1"),
                event("user.login", "ann", "2026-10-02T08:00:00Z")])
    closer = new_client(org.database, org.id, "billing:subscription:view", "billing:period:close")
    with running_server(org.database.url) as base:
        sign_in_reader(page, base, org)
        _report_loaded(page, "2026-10-01", "2026-11-01")
        expect(page.locator("#report-status")).to_have_text("Complete")
        expect(page.locator("#close-period")).to_be_hidden()  # a reader may not close
        page.click("#sign-out")
        sign_in(page, base, *closer)
        page.click("#closed-panel summary")
        expect(page.locator("#closed-note")).to_contain_text("No period is closed yet")
        _report_loaded(page, "2026-10-01", "2026-11-01")
        expect(page.locator("#report-status")).to_have_text("Complete")
        asked = click_and_dismiss(page, "#close-period")
        expect(page.locator("#report-status")).to_have_text("Complete")  # dismissed: nothing closed
        assert asked and asked[0].startswith("Close 2026-10-01 to 2026-10-31?") and "for good" in asked[0]
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("#close-period")
        expect(page.locator("#report-status")).to_contain_text("Closed")
        expect(page.locator("#message")).to_contain_text("Closed 2026-10-01 to 2026-10-31")
        expect(page.locator("#close-period")).to_be_hidden()
        expect(page.locator("#closed tbody tr")).to_have_count(1)
        expect(page.locator("#closed tbody tr td").nth(0)).to_have_text("2026-10-01")
        listed = httpx.get(f"{base}/api/v2/billing/periods", headers=_bearer(base, org)).json()
        assert [(c["startDate"], c["closedBy"]) for c in listed["entities"]] == [("2026-10-01T00:00:00.000Z", closer[0])]
        _report_loaded(page, "2026-11-01", "2026-11-08")  # another period, then the closed one from the list
        expect(page.locator("#report-status")).not_to_contain_text("Closed")
        page.locator("#closed tbody tr button", has_text="Show").click()
        expect(page.locator("#report-title")).to_have_text("2026-10-01 to 2026-10-31")
        expect(page.locator("#report-status")).to_contain_text("Closed")


def test_what_was_bought_used_and_charged_and_a_partners_view(page: Page, make_org: MakeOrg) -> None:
    """Per product the usage against what was prepaid (a bar, the committed line, the overage
    in another colour) and each charge explained, with the minimum's top-up; a partner that
    may read only the overviews of the organizations trusting it sees those, and no charges."""
    import json
    import uuid

    from conftest import CATALOG, event

    from billable.rules.instants import DAY_MS, system_now
    from billable.rules.subscriptions import billing_period
    from billable.service.organizations import READ_CLIENT_BILLING
    from billable.service.subscriptions import set_subscription
    from billable.service.trust import trust

    org, partner = make_org(), make_org()
    now = system_now()
    last_month = billing_period(1, now)
    org.ingest([event("license.assigned", user, last_month.start - DAY_MS, id=uuid.uuid4().hex, product="cx1")
                for user in ("ann", "bob", "cid")] +
               [event("user.login", user, last_month.start + DAY_MS, id=uuid.uuid4().hex) for user in ("ann", "bob", "cid")],
               now=now)
    subscription = {"currency": "EUR", "subscriptionType": "PREPAY_MONTHLY_COMMITMENT", "contractEffectiveDate": "2020-01-01",
                    "minimumMonthlyAmount": "500", "usages": [
                        {"name": "cx1", "partNumber": "CX1", "prepayQuantity": "2", "prepayPrice": "50", "overagePrice": "60"},
                        {"name": "cx2", "partNumber": "CX2", "prepayQuantity": "1", "prepayPrice": "30", "overagePrice": "40"}]}
    with org.database.write() as conn:
        set_subscription(conn, org.id, json.dumps(subscription).encode(), CATALOG, now, "test")
        trust(conn, org.id, partner.id, now, "test")
    with running_server(org.database.url) as base:
        sign_in_reader(page, base, org)
        expect(page.locator("#billing-panel")).to_be_visible()
        expect(page.locator("#billing-month option")).to_have_count(13)
        page.select_option("#billing-month", "1")
        cx1 = page.locator("#commitments tbody tr[data-product=cx1] td")
        expect(cx1.nth(1)).to_have_text("3")
        expect(cx1.nth(2)).to_have_text("2")
        expect(cx1.nth(3)).to_have_text("1")
        expect(cx1.nth(4)).to_contain_text("160.00 EUR")  # 2 × 50 prepaid, 1 × 60 over
        expect(cx1.nth(4)).to_contain_text("1 above it × 60 = 60.00 EUR overage")
        expect(page.locator("#charges-subtotal td")).to_have_text("190.00 EUR")  # and cx2's 30.00, unused
        expect(page.locator("#charges-top-up")).to_contain_text("310.00 EUR")
        expect(page.locator("#charges-total td")).to_have_text("500.00 EUR")
        expect(page.locator("#commitment-chart .committed-line")).to_have_count(2)
        expect(page.locator("#commitment-chart .overage-bar")).to_have_count(1)
        expect(page.locator("#commitment-chart svg")).to_contain_text("3 of 2 committed, 1 over")

        page.click("#sign-out")
        sign_in(page, base, *new_client(org.database, partner.id, READ_CLIENT_BILLING))
        expect(page.locator("#billing-panel")).to_be_visible()
        expect(page.locator("#period")).to_be_hidden()  # it reads no report of its own
        expect(page.locator("#billing-org option")).to_have_text([org.organization.name])
        page.select_option("#billing-month", "1")
        expect(cx1.nth(1)).to_have_text("3")
        expect(cx1.nth(4)).to_have_text("—")
        expect(page.locator("#billing-note")).to_contain_text("Charges are shown to the organization's own clients")
        expect(page.locator("#message")).to_be_hidden()


def test_alerts_their_state_and_the_last_deliveries(page: Page, make_org: MakeOrg) -> None:
    """An alert's lines where they stand, and for a client that manages alerts the messages
    sent with every answer; a reader sees the alerts and not the webhooks."""
    import json
    import uuid

    from conftest import CATALOG, event

    from billable.rules.instants import MINUTE_MS, system_now
    from billable.rules.subscriptions import billing_period
    from billable.service.alerts import create_alert, evaluate_due
    from billable.service.webhooks import create_endpoint, deliveries, keep_outcome
    from billable.store.webhooks import WebhookAttempt, lease_message

    org = make_org()
    now = system_now()
    at = max(billing_period(0, now).start, now - MINUTE_MS)
    org.ingest([event("license.assigned", user, at - 60 * MINUTE_MS, id=uuid.uuid4().hex, product="cx1")
                for user in ("ann", "bob")] + [event("user.login", user, at, id=uuid.uuid4().hex) for user in ("ann", "bob")],
               now=now)
    with org.database.write() as conn:
        create_alert(conn, org.id, json.dumps({"name": "seats", "product": "cx1", "thresholds": [
            {"quantity": "2"}, {"quantity": "5"}]}).encode(), CATALOG, now, "test")
        hook = create_endpoint(conn, org.id, b'{"url": "http://127.0.0.1:9/billing"}', now)
    assert evaluate_due(org.database, CATALOG, now, 300_000, org.id) == 1  # the line at 2 is reached
    with org.database.write() as conn:  # sent once, answered 500: to be sent again
        (sent,) = deliveries(conn, org.id, hook.id, 10)
        message, _ = lease_message(conn, org.id, sent.message.id, now, now + 60_000)  # type: ignore[misc]
    keep_outcome(org.database, message, WebhookAttempt(message.id, 1, now, 500, None, 12), [1000])
    manager = new_client(org.database, org.id, "billing:subscription:view", "billing:alerts:manage")
    with running_server(org.database.url, alerts_poll_seconds="0") as base:
        sign_in(page, base, *manager)
        page.click("#alerts-panel summary")
        rows = page.locator("#alerts tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.nth(0).locator("td")).to_have_text(["seats", "cx1", "billable usage", "2", "2", re.compile("^Triggered")])
        expect(rows.nth(1).locator("td").nth(5)).to_have_text("Below")
        delivery = page.locator("#deliveries tbody tr td")
        expect(delivery.nth(1)).to_have_text("alert.triggered (cx1)")
        expect(delivery.nth(3)).to_have_text("pending")
        expect(delivery.nth(4)).to_have_text("500")
        page.click("#sign-out")
        sign_in_reader(page, base, org)
        page.click("#alerts-panel summary")
        expect(page.locator("#alerts tbody tr")).to_have_count(2)
        expect(page.locator("#deliveries")).to_be_hidden()
        expect(page.locator("#message")).to_be_hidden()
