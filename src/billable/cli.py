"""The ``billable`` command line (README.md, "The command line"): each command parses its
options, calls the service and prints the answer."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta, timezone
from functools import cached_property
from pathlib import Path
from typing import Any, BinaryIO

import click
from sqlalchemy.exc import SQLAlchemyError

from billable.generator import Workload, generate
from billable.rules.alerts import MEASURES
from billable.rules.catalog import Catalog, LicensingModel
from billable.rules.errors import BillingError, InvalidInput
from billable.rules.events import EVENT_TYPES, validate_events
from billable.rules.instants import DAY_MS, Period, format_instant, instant_from_datetime, parse_instant, system_now
from billable.rules.report import BillableUsageReport, Resource, Usage
from billable.rules.subscriptions import calendar_month
from billable.service import bulk_load
from billable.service.billing import DEFAULT_URL, Billing
from billable.service.event_log import MAX_PAGE_SIZE, EventFilter
from billable.service.organizations import PERMISSIONS, READ_REPORTS
from billable.service.report_desk import ReportStatus
from billable.service.report_requests import BILLABLE_USAGE, CONCURRENT_USAGE
from billable.wire import text, writers
from billable.wire.writers import billable_usage_body, concurrent_usage_body


class Context:
    """What every command needs: the database, the catalog and the clock."""

    def __init__(self, database_url: str, catalog_path: str | None, clock: Callable[[], int] = system_now):
        self.database_url = database_url
        self.catalog_path = catalog_path
        self.clock = clock
        self._service: Billing | None = None
        self._checked = False

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog.load(self.catalog_path)

    @property
    def service(self) -> Billing:
        """The service on the database, its schema as it is (for the schema's own commands)."""
        if self._service is None:
            self._service = Billing.open(self.database_url, self.catalog, self.clock)
        return self._service

    @property
    def billing(self) -> Billing:
        """The service on the database, once its schema is checked to be current."""
        if not self._checked and not self.service.schema_is_current():
            raise click.ClickException("the database schema is not up to date: run `billable db upgrade`")
        self._checked = True
        return self.service

    def close(self) -> None:
        """Close the database's connections, if a command opened it."""
        if self._service is not None:
            self._service.close()
            self._service = None


def _print_json(document: Mapping[str, object] | Sequence[Mapping[str, object]]) -> None:
    click.echo(json.dumps(document, indent=2))


class Commands(click.Group):
    """A group whose help lists each command's first sentence whole, wrapped to the
    terminal (click's own cuts it to one line with "...")."""

    group_class = type  # its groups list their commands alike

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, command.get_short_help_str(limit=10_000)) for name in self.list_commands(ctx)
                if (command := self.get_command(ctx, name)) is not None and not command.hidden]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120})
@click.option("--database", envvar="BILLABLE_DATABASE_URL", default=DEFAULT_URL, show_default=True,
              help="sqlite:///PATH or postgresql://… (env BILLABLE_DATABASE_URL)")
@click.option("--catalog", envvar="BILLABLE_CATALOG", default=None, help="product catalog TOML (default: the shipped one)")
@click.pass_context
def main(ctx: click.Context, database: str, catalog: str | None) -> None:
    """billable: billable usage of Genesys-style licenses and devices."""
    ctx.obj = Context(database, catalog)
    ctx.call_on_close(ctx.obj.close)


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", envvar="BILLABLE_WORKERS", default=1, show_default=True, type=click.IntRange(min=1),
              help="server processes (env BILLABLE_WORKERS)")
@click.pass_obj
def serve_command(context: Context, host: str, port: int, workers: int) -> None:
    """Migrate the database, then serve the API (settings: BILLABLE_* variables, docs/operating.md)."""
    import logging

    from billable import serving

    context.service.upgrade_schema()
    os.environ["BILLABLE_DATABASE_URL"] = context.database_url
    if context.catalog_path:
        os.environ["BILLABLE_CATALOG"] = context.catalog_path
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory(prefix="billable-metrics-") as metrics:
        # Each process keeps its Prometheus values there, and /metrics on any one sums them.
        if workers > 1:
            os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", metrics)
        serving.serve("billable.server.asgi:app", host, port, workers, access_log=False, log_level="info",
                        http="billable.server.connections:LimitedHttp")


@main.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(context: Context) -> None:
    """Apply the migrations."""
    context.service.upgrade_schema()
    click.echo("database is up to date", err=True)


@db.command("repage")
@click.pass_obj
def db_repage(context: Context) -> None:
    """Rewrite an SQLite database made by an earlier release with today's larger pages
    (faster ingestion; the database is copied whole, so stop the service first)."""
    try:
        before, after = context.service.repage()
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    click.echo(f"page size {before:,} → {after:,} bytes" if before != after else f"page size already {after:,} bytes",
               err=True)


@db.command("distribute")
@click.pass_obj
def db_distribute(context: Context) -> None:
    """Distribute the schema over a Citus cluster by organization (run on the coordinator,
    after `db upgrade`; again, it changes nothing)."""
    placed = context.billing.distribute()
    click.echo(f"distributed: {', '.join(placed)}" if placed else "already distributed: nothing to do", err=True)


@main.group()
def orgs() -> None:
    """Organizations."""


_MODELS = click.Choice([model.value for model in LicensingModel])


@orgs.command("create")
@click.option("--name", required=True)
@click.option("--model", type=_MODELS, default="named", show_default=True)
@click.pass_obj
def orgs_create(context: Context, name: str, model: str) -> None:
    """Create an organization; prints {"id", "name", "licensingModel"}."""
    _print_json(writers.organization_summary(context.billing.create_organization(name, model)))


@orgs.command("list")
@click.pass_obj
def orgs_list(context: Context) -> None:
    """Every organization, by name; prints a JSON array of {"id", "name", "licensingModel"}."""
    _print_json([writers.organization_summary(org) for org in context.billing.organizations()])


@orgs.command("show")
@click.option("--org", "org_id", required=True)
@click.pass_obj
def orgs_show(context: Context, org_id: str) -> None:
    """One organization; prints {"id", "name", "licensingModel"}."""
    _print_json(writers.organization_summary(context.billing.organization(org_id)))


@orgs.command("update")
@click.option("--org", "org_id", required=True)
@click.option("--model", type=_MODELS, required=True)
@click.pass_obj
def orgs_update(context: Context, org_id: str, model: str) -> None:
    """Bill the organization under another licensing model; every report of it, stored or
    held by a running server, is computed again under the new one. Prints the organization."""
    _print_json(writers.organization_summary(context.billing.change_model(org_id, model)))


@orgs.command("trust")
@click.option("--trustee", required=True, help="the partner's organization: its clients with "
                                               "affiliateOrganization:clientBilling:view read the trustor's overview")
@click.option("--trustor", required=True, help="the organization that trusts it with its billing")
@click.option("--by", "author", default=None, help="who grants it, as stored (default: cli:<your user name>)")
@click.pass_obj
def orgs_trust(context: Context, trustee: str, trustor: str, author: str | None) -> None:
    """Let a partner read an organization's billing overview."""
    added = context.billing.trust(trustor, trustee, author or _cli_author())
    click.echo(f"{trustor} trusts {trustee}" + ("" if added else " (it already did)"), err=True)


@orgs.command("untrust")
@click.option("--trustee", required=True)
@click.option("--trustor", required=True)
@click.pass_obj
def orgs_untrust(context: Context, trustee: str, trustor: str) -> None:
    """Withdraw a partner's trust: its clients read the organization's overview no more."""
    removed = context.billing.untrust(trustor, trustee)
    click.echo(f"{trustor} no longer trusts {trustee}" if removed else f"{trustor} did not trust {trustee}", err=True)


@orgs.command("trustors")
@click.option("--org", "org_id", required=True, help="the partner's organization")
@click.pass_obj
def orgs_trustors(context: Context, org_id: str) -> None:
    """The organizations that trust this one, by name; prints the trustor listing's entities."""
    found = context.billing.trustors(org_id)
    _print_json(writers.trustors_body(found, max(len(found), 1), 1)["entities"])


@main.group()
def clients() -> None:
    """OAuth clients."""


@clients.command("create")
@click.option("--org", "org_id", required=True)
@click.option("--permission", "permissions", multiple=True, required=True, help=f"any of {', '.join(PERMISSIONS)}")
@click.option("--name", default="", help="what people call it, e.g. \"Finance reports\" (the page names who voided by it)")
@click.pass_obj
def clients_create(context: Context, org_id: str, permissions: tuple[str, ...], name: str) -> None:
    """Create a client-credentials client; its secret is shown only here."""
    _print_json(writers.new_client_body(context.billing.create_client(org_id, list(permissions), name)))


@clients.command("list")
@click.option("--org", "org_id", required=True)
@click.pass_obj
def clients_list(context: Context, org_id: str) -> None:
    """The organization's clients, oldest first; prints a JSON array of {"clientId", "orgId",
    "permissions", "createdAt", "revokedAt"}. Secrets are never shown: only their hashes are kept."""
    _print_json([writers.client_body(client) for client in context.billing.clients(org_id)])


@clients.command("revoke")
@click.option("--client", "client_id", required=True)
@click.pass_obj
def clients_revoke(context: Context, client_id: str) -> None:
    """Revoke a client: its tokens stop working at once and it can no longer log in."""
    context.billing.revoke_client(client_id)
    _print_json({"clientId": client_id, "revoked": True})


def _opener(file: str) -> Callable[[], BinaryIO]:
    """A way to read the events again and again (standard input is read once, into memory)."""
    if file == "-":
        data = sys.stdin.buffer.read()
        return lambda: io.BytesIO(data)
    path = Path(file)
    if not path.is_file():
        raise click.ClickException(f"{file}: no such file")
    return lambda: path.open("rb")


@main.command("ingest")
@click.argument("file")
@click.option("--org", "org_id", required=True)
@click.pass_obj
def ingest_command(context: Context, file: str, org_id: str) -> None:
    """Load events from FILE (NDJSON or a JSON array; - for standard input).

    Every event is validated before any is stored: another process checks the file while
    this one stores what is checked so far, and nothing is committed before the whole file
    has passed. They are then stored 200,000 at a time, each part committed on its own:
    after an interruption, run the same command again; what was stored is recognized by
    (source, id) and not counted twice (service/bulk_load.py).
    """
    context.billing.organization(org_id)
    began = time.monotonic()
    if sys.stderr.isatty():  # a log gets the error alone, on one line, if the file is refused
        click.echo("checking every event, and storing them alongside", err=True)
    with bulk_load.checked(_opener(file), context.catalog, context.clock()) as events:
        with _storing_progress(events, began) as progress:
            totals = context.billing.load(org_id, events.batches(), progress, events)
    click.echo(f"{totals.accepted:,} new events stored; {totals.duplicates:,} were stored already (by source and id), "
               "not counted twice", err=True)
    _print_json({"accepted": totals.accepted, "duplicates": totals.duplicates})


@contextmanager
def _storing_progress(events: bulk_load.CheckedEvents, began: float) -> Iterator[Callable[[int], None]]:
    """Told how many more events were stored after each commit (the first waits for the
    end of the check, so the total is known then): a bar with the rate on a terminal, else
    (a log) a line per commit, both on standard error."""
    done = 0
    bar: Any = None
    with ExitStack() as stack:
        def advance(stored: int) -> None:
            nonlocal done, bar
            total = events.count
            if not done:  # the first commit: the check is over
                click.echo(f"{total:,} events valid; storing", err=True)
                if sys.stderr.isatty():
                    bar = stack.enter_context(click.progressbar(length=total, label="taking in", file=sys.stderr,
                                                                show_pos=True, item_show_func=lambda shown: shown))
            done += stored
            rate = f"{done / max(time.monotonic() - began, 1e-9):,.0f} events/s"
            if bar is not None:
                bar.update(stored, rate)
            else:
                click.echo(f"{done:,} of {total:,} events taken in ({100 * done / max(total, 1):.0f}%), {rate}", err=True)
        yield advance


@main.group()
def events() -> None:
    """The event log."""


@events.command("list")
@click.option("--org", "org_id", required=True)
@click.option("--subject", help="only this user's (by id, or by the email a report names them by) or device's events")
@click.option("--type", "event_type", type=click.Choice(EVENT_TYPES), help="only events of this type")
@click.option("--start", help="events at or after this ISO-8601 date-time or date (UTC)")
@click.option("--end", help="events before this ISO-8601 date-time or date (UTC)")
@click.option("--received-after", help="events acknowledged after this ISO-8601 date-time or date")
@click.pass_obj
def events_list(context: Context, org_id: str, subject: str | None, event_type: str | None, start: str | None,
                end: str | None, received_after: str | None) -> None:
    """The organization's events as received, newest arrival first, one JSON object a line."""
    chosen = EventFilter(subject, event_type, *(_instant(text, option) for text, option in (
        (start, "--start"), (end, "--end"), (received_after, "--received-after"))))
    context.billing.organization(org_id)
    cursor = None
    while True:
        page = context.billing.events_page(org_id, chosen, cursor, MAX_PAGE_SIZE)
        for stored in page.events:
            click.echo(json.dumps(writers.listed_event(stored), separators=(",", ":")))
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


@events.command("void")
@click.option("--org", "org_id", required=True)
@click.option("--source", help="the event's source (one event; or give a FILE)")
@click.option("--id", "event_id", help="the event's id (one event; or give a FILE)")
@click.option("--reason", help="why it is voided (one event; or give a FILE)")
@click.option("--by", "author", default=None, help="who voids, as stored and listed (default: cli:<your user name>)")
@click.argument("file", required=False, type=click.File("rb"))
@click.pass_obj
def events_void(context: Context, org_id: str, source: str | None, event_id: str | None, reason: str | None,
                author: str | None, file: BinaryIO | None) -> None:
    """Void received events, all or none: kept and listed, billed as if never received.
    FILE ('-' for standard input): a JSON array, or one JSON object a line, of
    {"source", "id", "reason"}; or one event with --source, --id and --reason."""
    from billable.rules.json_text import parse_json

    if file is not None:
        if source or event_id or reason:
            raise click.UsageError("give either FILE or --source, --id and --reason")
        text = file.read().strip()
        raw = parse_json(text) if text.startswith(b"[") else [parse_json(line) for line in text.splitlines() if line.strip()]
    elif source and event_id and reason:
        raw = [{"source": source, "id": event_id, "reason": reason}]
    else:
        raise click.UsageError("give FILE, or --source, --id and --reason")
    _print_json(writers.void_body(context.billing.void(org_id, raw, author or _cli_author())))


@main.group()
def periods() -> None:
    """Closed periods: reports kept as they were when closed."""


@periods.command("close")
@click.option("--org", "org_id", required=True)
@click.option("--start", required=True, help="ISO-8601 date-time or date (UTC)")
@click.option("--end", required=True, help="ISO-8601 date-time or date (UTC), exclusive; the period must be over")
@click.option("--by", "author", default=None, help="who closes, as stored (default: cli:<your user name>)")
@click.pass_obj
def periods_close(context: Context, org_id: str, start: str, end: str, author: str | None) -> None:
    """Close a period: its billable usage report is kept as it is now, for good."""
    closed = context.billing.close_period(org_id, Period.parse(start, end), author or _cli_author())
    _print_json(writers.closed_periods_body([closed])["entities"][0])


@periods.command("amendments")
@click.option("--org", "org_id", required=True)
@click.option("--start", required=True, help="the closed period's start")
@click.option("--end", required=True, help="the closed period's end (exclusive)")
@click.pass_obj
def periods_amendments(context: Context, org_id: str, start: str, end: str) -> None:
    """What arrived since a period was closed changes in its report, and which events did it."""
    _print_json(writers.amendments_body(context.billing.amendments(org_id, Period.parse(start, end))))


@periods.command("list")
@click.option("--org", "org_id", required=True)
@click.pass_obj
def periods_list(context: Context, org_id: str) -> None:
    """The organization's closed periods, earliest first."""
    _print_json(writers.closed_periods_body(context.billing.closed_periods(org_id)))


@main.group()
def subscriptions() -> None:
    """What an organization bought: its subscription, in the trustee billing overview's keys."""


@subscriptions.command("set")
@click.option("--org", "org_id", required=True)
@click.option("--file", "file", required=True, type=click.Path(dir_okay=False, allow_dash=True),
              help="a JSON subscription ('-': standard input); docs/beyond-genesys.md shows one")
@click.option("--by", "author", default=None, help="who sets it, as stored (default: cli:<your user name>)")
@click.pass_obj
def subscriptions_set(context: Context, org_id: str, file: str, author: str | None) -> None:
    """Give the organization a subscription from now on (the one before is kept for the periods before)."""
    with _opener(file)() as source:
        body = source.read()
    kept = context.billing.set_subscription(org_id, body, author or _cli_author())
    _print_json(writers.subscription_body(kept))


@subscriptions.command("show")
@click.option("--org", "org_id", required=True)
@click.option("--at", "at", default=None, help="ISO-8601 date-time or date: the one in effect then (default: now)")
@click.pass_obj
def subscriptions_show(context: Context, org_id: str, at: str | None) -> None:
    """The organization's subscription, as set, with when and by whom."""
    _print_json(writers.subscription_body(context.billing.subscription(org_id, _instant(at, "--at"))))


@main.group()
def alerts() -> None:
    """Usage alerts, told to the organization's webhooks (docs/beyond-genesys.md)."""


@alerts.command("create")
@click.option("--org", "org_id", required=True)
@click.option("--name", default="", help="what people call it")
@click.option("--product", default=None, help="a product or device type (default: every one, each on its own)")
@click.option("--measure", type=click.Choice(MEASURES),
              default="billableUsage", show_default=True)
@click.option("--threshold", "thresholds", multiple=True, required=True,
              help="a quantity (250), or a percentage of the prepaid quantity (80%); repeat for several")
@click.pass_obj
def alerts_create(context: Context, org_id: str, name: str, product: str | None, measure: str,
                  thresholds: tuple[str, ...]) -> None:
    """Create an alert; prints it as the API does."""
    lines = [{"percent": t[:-1]} if t.endswith("%") else {"quantity": t} for t in thresholds]
    body = json.dumps({"name": name, **({"product": product} if product else {}), "measure": measure,
                       "thresholds": lines}).encode()
    _print_json(writers.alert_body(context.billing.create_alert(org_id, body, _cli_author())))


@alerts.command("list")
@click.option("--org", "org_id", required=True)
@click.pass_obj
def alerts_list(context: Context, org_id: str) -> None:
    """The organization's alerts, with where each line stands."""
    _print_json(writers.alerts_body(context.billing.alerts(org_id))["entities"])


@alerts.command("delete")
@click.option("--org", "org_id", required=True)
@click.option("--alert", "alert_id", required=True)
@click.pass_obj
def alerts_delete(context: Context, org_id: str, alert_id: str) -> None:
    context.billing.delete_alert(org_id, alert_id)
    click.echo(f"alert {alert_id} deleted", err=True)


@main.group()
def webhooks() -> None:
    """Where alerts are told: endpoints, signed messages, their deliveries."""


@webhooks.command("create")
@click.option("--org", "org_id", required=True)
@click.option("--url", required=True, help="HTTPS (plain HTTP on the loopback only)")
@click.option("--description", default="")
@click.pass_obj
def webhooks_create(context: Context, org_id: str, url: str, description: str) -> None:
    """Create an endpoint; prints it with its secret, shown this once."""
    made = context.billing.create_webhook(org_id, json.dumps({"url": url, "description": description}).encode())
    _print_json(writers.webhook_body(made, with_secret=True))


@webhooks.command("list")
@click.option("--org", "org_id", required=True)
@click.pass_obj
def webhooks_list(context: Context, org_id: str) -> None:
    _print_json(writers.webhooks_body(context.billing.webhooks(org_id))["entities"])


@webhooks.command("delete")
@click.option("--org", "org_id", required=True)
@click.option("--webhook", "webhook_id", required=True)
@click.pass_obj
def webhooks_delete(context: Context, org_id: str, webhook_id: str) -> None:
    """Forget an endpoint: its messages not delivered yet are never sent."""
    context.billing.delete_webhook(org_id, webhook_id)
    click.echo(f"webhook {webhook_id} deleted", err=True)


@webhooks.command("deliveries")
@click.option("--org", "org_id", required=True)
@click.option("--webhook", "webhook_id", required=True)
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
@click.pass_obj
def webhooks_deliveries(context: Context, org_id: str, webhook_id: str, limit: int) -> None:
    """The endpoint's latest messages, newest first, with every attempt's answer."""
    _print_json(writers.deliveries_body(context.billing.deliveries(org_id, webhook_id, limit))["entities"])


@webhooks.command("redeliver")
@click.option("--org", "org_id", required=True)
@click.option("--webhook", "webhook_id", required=True)
@click.option("--message", "message_id", required=True, help="its webhook-id")
@click.pass_obj
def webhooks_redeliver(context: Context, org_id: str, webhook_id: str, message_id: str) -> None:
    """Deliver a message again, with its id, at a running server's next pass."""
    context.billing.redeliver(org_id, webhook_id, message_id)
    click.echo(f"message {message_id} is due again", err=True)


@main.command("overview")
@click.option("--org", "org_id", required=True)
@click.option("--period-index", "index", type=int, default=0, show_default=True,
              help="0: the billing period running now; 1: the one before; …")
@click.pass_obj
def overview_command(context: Context, org_id: str, index: int) -> None:
    """A billing period against the organization's subscription, as the trustee billing
    overview route answers it: per product the usage, what was prepaid, the prices."""
    _print_json(writers.overview_body(context.billing.overview(org_id, READ_REPORTS, org_id, index)))


@main.command("charges")
@click.option("--org", "org_id", required=True)
@click.option("--month", required=True, help="the billing period, YYYY-MM (a calendar month in UTC)")
@click.option("--as-of", help="the charges as they were at this ISO-8601 instant")
@click.pass_obj
def charges_command(context: Context, org_id: str, month: str, as_of: str | None) -> None:
    """What a billing period costs under the organization's subscription, each charge explained."""
    period = _billing_month(month)
    _print_json(writers.charges_body(context.billing.charges(org_id, period, _instant(as_of, "--as-of"))))


@main.command("report")
@click.option("--org", "org_id", help="organization id, for a report from the database")
@click.option("--start", required=True, help="ISO-8601 date-time or date (UTC)")
@click.option("--end", required=True, help="ISO-8601 date-time or date (UTC), exclusive")
@click.option("--format", "output", type=click.Choice(["json", "csv", "table"]), default="json", show_default=True)
@click.option("--host", help="a remote service (this one or Genesys Cloud) instead of the database, e.g. https://api.mypurecloud.ie")
@click.option("--region", help="a Genesys Cloud region instead of --host, e.g. eu_west_1")
@click.option("--client-id", envvar="BILLABLE_CLIENT_ID", help="for --host/--region (env BILLABLE_CLIENT_ID)")
@click.option("--client-secret", envvar="BILLABLE_CLIENT_SECRET", help="for --host/--region (env BILLABLE_CLIENT_SECRET)")
@click.option("--kind", type=click.Choice(["billable", "concurrent"]), default="billable", show_default=True,
              help="concurrent: daily and period peaks per product under the concurrent or hourly model")
@click.option("--as-of", help="the report as it was at this ISO-8601 instant (database only)")
@click.pass_obj
def report_command(context: Context, org_id: str | None, start: str, end: str, output: str, host: str | None,
                   region: str | None, client_id: str | None, client_secret: str | None, kind: str,
                   as_of: str | None) -> None:
    """The billable usage report for [start, end): of an organization in the database,
    or fetched through the SDK from a remote service with --host or --region."""
    from billable.rules.json_text import parse_json

    period = Period.parse(start, end)
    instant = _instant(as_of, "--as-of")
    if kind == "concurrent":
        if not org_id:
            raise click.ClickException("--kind concurrent needs --org")
        peaks = context.billing.report(CONCURRENT_USAGE, org_id, period, instant)
        if output == "json":
            _print_json(parse_json(concurrent_usage_body(org_id, peaks, ReportStatus.COMPLETE)))
        else:
            click.echo((text.concurrent_csv if output == "csv" else text.concurrent_table)(peaks.figures), nl=False)
        return
    if host or region:
        if not (client_id and client_secret):
            raise click.ClickException("--host and --region need --client-id and --client-secret")
        if instant is not None:
            raise click.ClickException("--as-of reads the database: give --org, not --host or --region")
        fetched, report = _remote_report(host, region, client_id, client_secret, period)
        body = fetched.to_dict()
    elif org_id:
        answered = context.billing.report(BILLABLE_USAGE, org_id, period, instant)
        body = parse_json(billable_usage_body(org_id, answered, ReportStatus.COMPLETE))
        report = answered.figures
        if answered.closed is not None:  # the report kept when the period was closed, as the API serves it
            click.echo(f"closed period: the figures kept at {body['closed']['closedAt']}", err=True)
    else:
        raise click.ClickException("give --org for the database, or --host/--region for a remote service")
    if output == "json":
        _print_json(body)
    elif output == "csv":
        click.echo(text.csv_text(report), nl=False)
    else:
        click.echo(text.table_text(report), nl=False)


def _remote_report(host: str | None, region: str | None, client_id: str, client_secret: str,
                   period: Period) -> tuple[Any, BillableUsageReport]:
    """A report fetched with the SDK, in the engine's terms so every format is written alike."""
    from billable.client import ApiClient, BillableClientError, BillingApi

    try:
        with ApiClient(host, region=region) as client:
            fetched = BillingApi(client.login_client_credentials(client_id, client_secret)).get_billing_reports_billableusage(
                format_instant(period.start), format_instant(period.end))
    except BillableClientError as error:
        raise click.ClickException(str(error)) from None
    usages = [Usage.of(u.name, format(u.total_usage, "f"), [Resource(r.name, instant_from_datetime(r.date))
                                                           for r in u.resources]) for u in fetched.usages]
    return fetched, BillableUsageReport.of(period, usages)


@main.command("explain")
@click.option("--org", "org_id", required=True)
@click.option("--user", "user_id", required=True, help="the user id (the events' subject), or the email a report names them by")
@click.option("--start", required=True, help="ISO-8601 date-time or date (UTC)")
@click.option("--end", required=True, help="ISO-8601 date-time or date (UTC), exclusive")
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: sentences, as the page says it; json: the API's body")
@click.pass_obj
def explain_command(context: Context, org_id: str, user_id: str, start: str, end: str, output: str) -> None:
    """Why a user is or is not billed in [start, end)."""
    period = Period.parse(start, end)
    explanation = context.billing.explain(org_id, user_id, period)
    if output == "json":
        _print_json(writers.explanation_body(explanation, period))
    else:
        click.echo(text.explanation_text(explanation, period), nl=False)


@main.command("catalog")
@click.option("--org", "org_id", help="bill as this organization's licensing model does (default: --model)")
@click.option("--model", type=click.Choice([m.value for m in LicensingModel]), default="named", show_default=True)
@click.pass_obj
def catalog_command(context: Context, org_id: str | None, model: str) -> None:
    """The products and device types, and how each is billed; as the API's /api/v2/billing/products."""
    billed = context.billing.organization(org_id).model if org_id else LicensingModel(model)
    _print_json(writers.products_body(context.catalog, billed))


@main.command("generate")
@click.option("--users", default=1_000, show_default=True)
@click.option("--days", default=31, show_default=True)
@click.option("--start", default="2026-10-01", show_default=True, help="first day (UTC)")
@click.option("--seed", default=1, show_default=True)
def generate_command(users: int, days: int, start: str, seed: int) -> None:
    """Write generated realistic usage events as NDJSON on standard output."""
    workload = Workload(users=users, days=days, start=parse_instant(start, allow_date=True), seed=seed)
    out = sys.stdout
    for generated in generate(workload):
        out.write(json.dumps(generated, separators=(",", ":")))
        out.write("\n")


DEMO_NAME = "Demo organization"


@main.command("demo")
@click.option("--users", default=200, show_default=True)
@click.option("--seed", default=1, show_default=True)
@click.pass_obj
def demo_command(context: Context, users: int, seed: int) -> None:
    """Create a demo organization with last month's generated usage and a client. Run again,
    it reuses the organization (its events are stored once) and prints a new client."""
    context.service.upgrade_schema()
    now = context.clock()
    today = datetime.fromtimestamp(now / 1000, tz=timezone.utc)
    month_start = today.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last_month = (month_start - timedelta(days=1)).replace(day=1)
    start, end = instant_from_datetime(last_month), instant_from_datetime(month_start)
    workload = Workload(users=users, days=(end - start) // DAY_MS, start=start, seed=seed)
    catalog = context.catalog
    found = [org for org in context.billing.organizations() if org.name == DEMO_NAME]
    org = found[0] if found else context.billing.create_organization(DEMO_NAME, "named")
    if found:
        click.echo(f"The demo's organization exists ({org.id}): reused, its events kept. A new client is "
                   "made for it (a secret is shown only once; `billable clients revoke` retires old ones).\n")
    client = context.billing.create_client(org.id, list(PERMISSIONS), "Demo client")
    validated = (validate_events(batch, catalog, now) for batch in bulk_load.batches(generate(workload)))
    totals = context.billing.load(org.id, validated)
    period = Period(start, end)
    click.echo(text.table_text(context.billing.report(BILLABLE_USAGE, org.id, period).figures))
    click.echo(_how_to_call(client.client_id, client.client_secret, format_instant(start), format_instant(end)))
    # README.md's commands name these: pasted, they work on the demo's data as printed.
    exported = {"BILLABLE_DATABASE_URL": context.database_url, "ORG": org.id, "START": format_instant(start),
                "END": format_instant(end), "CLIENT_ID": client.client_id, "CLIENT_SECRET": client.client_secret}
    click.echo("To run README.md's commands on this data, paste first:\n\n"
               f"  export PATH=\"{Path(sys.executable).parent}:$PATH\" "
               + " ".join(f"{name}={shlex.quote(value)}" for name, value in exported.items()) + "\n")
    _print_json({
        "orgId": org.id,
        "clientId": client.client_id,
        "clientSecret": client.client_secret,
        "accepted": totals.accepted,
        "duplicates": totals.duplicates,
        "report": f"billable report --org {org.id} --start {format_instant(start)} --end {format_instant(end)}",
    })


def _how_to_call(client_id: str, secret: str, start: str, end: str, base: str = "http://127.0.0.1:8080") -> str:
    query = f"startDate={start}&endDate={end}"
    python = sys.executable  # the project's own
    return f"""Serve it with `billable serve` ({base}), then read it in a browser at {base}/
(sign in with the client id and secret below), or call the API:

  TOKEN=$(curl -s -u {client_id}:{secret} -d grant_type=client_credentials {base}/oauth/token \\
          | {python} -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -s -H "Authorization: Bearer $TOKEN" "{base}/api/v2/billing/reports/billableusage?{query}"

  # or with the official Genesys Cloud Python SDK, unchanged (not needed to run billable: 170 MB):
  {python} -m pip install --quiet PureCloudPlatformClientV2
  {python} -c 'import PureCloudPlatformClientV2 as g; c = g.ApiClient(host="{base}").get_client_credentials_token("{client_id}", "{secret}"); print(g.BillingApi(c).get_billing_reports_billableusage("{start}", "{end}"))'
"""


def _cli_author() -> str:
    """Who changes something from the command line, as stored: ``cli:<user name>``."""
    import getpass

    return f"cli:{getpass.getuser()}"


def _billing_month(text: str) -> Period:
    """The billing period ``YYYY-MM`` names: that calendar month in UTC."""
    found = re.fullmatch(r"(\d{4})-(\d{2})", text)
    if found is None or not 1 <= int(found[2]) <= 12 or not "0001-01" <= text <= "9999-11":
        raise click.BadParameter("a month as YYYY-MM from 0001-01 to 9999-11, e.g. 2026-10", param_hint="--month")
    return calendar_month(int(found[1]), int(found[2]))


def _instant(text: str | None, option: str) -> int | None:
    """The instant an option gives, if given; else a line naming the option."""
    if text is None:
        return None
    try:
        return parse_instant(text, allow_date=True)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint=option) from None


# The API's field names, as the command line's options name them.
_OPTIONS = {"startDate": "--start", "endDate": "--end", "asOf": "--as-of", "receivedAfter": "--received-after"}


def _in_option_words(message: str) -> str:
    return re.sub(r"\b(startDate|endDate|asOf|receivedAfter)\b", lambda found: _OPTIONS[found.group(1)], message)


def run(argv: list[str] | None = None) -> int:
    """Entry point: domain and database errors become one line on stderr, never a traceback."""
    try:
        main.main(args=argv, prog_name="billable", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("billable: aborted", err=True)
        return 1
    except click.ClickException as error:
        click.echo(f"billable: {error.format_message()}", err=True)
        return error.exit_code
    except InvalidInput as error:
        click.echo(f"billable: {_in_option_words(error.message)}", err=True)
        return 1
    except BillingError as error:
        click.echo(f"billable: {_in_option_words(str(error))}", err=True)
        return 1
    except SQLAlchemyError as error:
        click.echo(f"billable: database error: {str(error.orig if hasattr(error, 'orig') else error).splitlines()[0]}", err=True)
        return 1
    except (OSError, ValueError) as error:
        click.echo(f"billable: {error}", err=True)
        return 1
    return 0


def entry_point() -> None:
    sys.exit(run())
