"""The service as the edges call it: bound to one database, catalog and clock, each method
one use case in a transaction of its own. The routes and the command line parse a
request, call one of these and write its answer (billable.wire); they open no transaction
themselves, and import nothing of the store: the types they name come from here."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from billable.rules.catalog import Catalog
from billable.rules.instants import Period
from billable.rules.voids import validate_voids
from billable.rules.events import UsageEvent
from billable.service import bulk_load, periods
from billable.service.organizations import NewClient, change_model, create_client, create_organization, revoke_client
from billable.service.event_log import EventsPage, events_page
from billable.service.explanations import ExplainedUser, explain_request
from billable.service.ingestion import IngestResult, events_of_body, store_batch
from billable.service.report_requests import ReportKind, RequestedReport, answer_report
from billable.service.voids import VoidResult, void_events
from billable.service.subscriptions import KeptSubscription, set_subscription, subscription_at
from billable.service import alerts, trust, webhooks
from billable.service.alerts import Alert as Alert
from billable.service.alerts import Pacing as Pacing
from billable.service.webhooks import Delivery as Delivery
from billable.service.overview import BillingOverview, PeriodCharges, billing_overview, period_charges
from billable.store import distribution, migrate
from billable.store.database import DEFAULT_URL as DEFAULT_URL  # the service's default, for the edges
from billable.store.database import Database
from billable.store.events import CommittedNumbers
from billable.store.events import EventFilter as EventFilter
from billable.store.events import StoredEvent as StoredEvent
from billable.store.organizations import OAuthClient as OAuthClient
from billable.store.organizations import Organization as Organization
from billable.store.organizations import get_organization, list_clients, list_organizations
from billable.store.periods import ClosedPeriod as ClosedPeriod
from billable.store.periods import list_closed
from billable.store.trusts import Trust as Trust
from billable.store.webhooks import WebhookAttempt as WebhookAttempt
from billable.store.webhooks import WebhookEndpoint as WebhookEndpoint
from billable.store.webhooks import WebhookMessage as WebhookMessage


class Billing:
    def __init__(self, database: Database, catalog: Catalog, clock: Callable[[], int]):
        self.database = database
        self.catalog = catalog
        self.clock = clock
        self.numbers = CommittedNumbers()  # of the log's sources and emails, across requests

    @classmethod
    def open(cls, url: str, catalog: Catalog, clock: Callable[[], int], busy_timeout_seconds: float = 30.0
             ) -> Billing:
        """The service on the database at ``url`` (``sqlite:///…`` or ``postgresql://…``)."""
        return cls(Database(url, busy_timeout_seconds=busy_timeout_seconds), catalog, clock)

    def check(self) -> None:
        """Ask the database a trivial question: ``StoreUnavailable`` while it cannot answer."""
        self.database.check()

    def close(self) -> None:
        self.database.dispose()

    def schema_is_current(self) -> bool:
        return migrate.is_current(self.database)

    def upgrade_schema(self) -> None:
        migrate.upgrade(self.database)

    def distribute(self) -> list[str]:
        """Distribute the schema over a Citus cluster; the tables it placed."""
        with self.database.write() as conn:
            return distribution.distribute(conn)

    def repage(self) -> tuple[int, int]:
        """Rewrite an SQLite database with the page size of a new one (docs/operating.md)."""
        return self.database.rewrite_pages()

    def load(self, org_id: str, validated: Iterable[list[UsageEvent]], progress: bulk_load.Progress = lambda _: None,
             check: bulk_load.CheckedEvents | None = None) -> IngestResult:
        """Store a large load's validated batches, a part at a time (service/bulk_load.py)."""
        return bulk_load.store(self.database, org_id, validated, self.clock, progress, check)

    def organization(self, org_id: str) -> Organization:
        """The organization (``NotFound`` if there is none of that id)."""
        with self.database.read_one() as conn:
            return get_organization(conn, org_id)

    def organizations(self) -> list[Organization]:
        """Every organization, by name."""
        with self.database.read() as conn:
            return list_organizations(conn)

    def create_organization(self, name: str, model: str) -> Organization:
        with self.database.write() as conn:
            return create_organization(conn, name, model, self.clock())

    def change_model(self, org_id: str, model: str) -> Organization:
        """Bill the organization under another licensing model from now on."""
        with self.database.write() as conn:
            return change_model(conn, org_id, model)

    def create_client(self, org_id: str, permissions: list[str], name: str = "") -> NewClient:
        with self.database.write() as conn:
            return create_client(conn, org_id, permissions, self.clock(), name)

    def clients(self, org_id: str) -> list[OAuthClient]:
        """The organization's clients, oldest first, revoked ones included."""
        with self.database.read() as conn:
            get_organization(conn, org_id)
            return list_clients(conn, org_id)

    def revoke_client(self, client_id: str) -> None:
        with self.database.write() as conn:
            revoke_client(conn, client_id, self.clock())

    def report(self, kind: ReportKind[Any], org_id: str, period: Period, as_of: int | None = None
               ) -> RequestedReport[Any]:
        """A report computed for the request (report_requests.answer_report): the report
        desk serves the rest, from the store or computed once for everyone."""
        with self.database.read() as conn:
            return answer_report(conn, kind, get_organization(conn, org_id), period, self.catalog, self.clock(),
                                 as_of)

    def explain(self, org_id: str, user: str, period: Period, as_of: int | None = None) -> ExplainedUser:
        """Why a user is or is not billed in the report a request for ``period`` answers with
        (a closed period's: the kept one)."""
        with self.database.read() as conn:
            get_organization(conn, org_id)
            return explain_request(conn, org_id, user, period, self.catalog, self.clock(), as_of)

    def events_page(self, org_id: str, chosen: EventFilter, cursor: str | None, page_size: int) -> EventsPage:
        with self.database.read() as conn:
            return events_page(conn, org_id, chosen, cursor, page_size)

    def ingest(self, org_id: str, body: bytes, max_events: int) -> IngestResult:
        """A request's batch: checked first, then stored in one transaction (the write lock
        is taken for the store alone)."""
        events = events_of_body(body, self.catalog, self.clock(), max_events)
        known = self.numbers.for_transaction(org_id)
        with self.database.write() as conn:
            stored = store_batch(conn, org_id, events, self.clock(), known)
        self.numbers.committed(org_id, known)
        return stored

    def void(self, org_id: str, raw: Any, voided_by: str) -> VoidResult:
        """Void the events a request or a file names (any JSON: it is checked here)."""
        voids = validate_voids(raw)
        with self.database.write() as conn:
            return void_events(conn, org_id, voids, voided_by, self.clock())

    def close_period(self, org_id: str, period: Period, closed_by: str) -> ClosedPeriod:
        with self.database.write() as conn:
            return periods.close_period(conn, org_id, period, self.catalog, self.clock(), closed_by)

    def closed_periods(self, org_id: str) -> list[ClosedPeriod]:
        with self.database.read() as conn:
            get_organization(conn, org_id)
            return list_closed(conn, org_id)

    def amendments(self, org_id: str, period: Period) -> periods.Amendments:
        with self.database.read() as conn:
            return periods.amendments(conn, org_id, period, self.catalog, self.clock())

    def set_subscription(self, org_id: str, body: bytes, set_by: str) -> KeptSubscription:
        """Give the organization the subscription a JSON document describes, from now on."""
        with self.database.write() as conn:
            return set_subscription(conn, org_id, body, self.catalog, self.clock(), set_by)

    def subscription(self, org_id: str, instant: int | None = None) -> KeptSubscription:
        """The organization's subscription in effect at ``instant`` (default: now)."""
        with self.database.read() as conn:
            return subscription_at(conn, org_id, self.clock() if instant is None else instant)

    def trust(self, trustor: str, trustee: str, created_by: str) -> bool:
        """Let ``trustee`` (a partner) read ``trustor``'s billing overview; False if it already could."""
        with self.database.write() as conn:
            return trust.trust(conn, trustor, trustee, self.clock(), created_by)

    def untrust(self, trustor: str, trustee: str) -> bool:
        """Withdraw the trust; False if there was none."""
        with self.database.write() as conn:
            return trust.untrust(conn, trustor, trustee)

    def trustors(self, trustee: str) -> list[Trust]:
        """The organizations that trust ``trustee``, by name."""
        with self.database.read() as conn:
            return trust.trustors(conn, trustee)

    def overview(self, reader_org: str, permissions: tuple[str, ...], org_id: str, index: int) -> BillingOverview:
        """Billing period ``index`` of ``org_id`` against its subscription, for a client of
        ``reader_org`` holding ``permissions`` (``NotPermitted`` unless it may read it)."""
        with self.database.read() as conn:
            trust.check_overview_reader(conn, reader_org, permissions, org_id)
            return billing_overview(conn, org_id, index, self.catalog, self.clock())

    def charges(self, org_id: str, period: Period, as_of: int | None = None) -> PeriodCharges:
        """What the billing period ``period`` costs under the organization's subscription."""
        with self.database.read() as conn:
            return period_charges(conn, org_id, period, self.catalog, self.clock(), as_of)

    def create_alert(self, org_id: str, body: bytes, created_by: str) -> Alert:
        """A new alert from a JSON document (rules/alerts.py), evaluated at the next check."""
        with self.database.write() as conn:
            return alerts.create_alert(conn, org_id, body, self.catalog, self.clock(), created_by)

    def alerts(self, org_id: str) -> list[Alert]:
        with self.database.read() as conn:
            return alerts.alerts_of(conn, org_id)

    def delete_alert(self, org_id: str, alert_id: str) -> None:
        with self.database.write() as conn:
            alerts.delete_alert(conn, org_id, alert_id)

    def create_webhook(self, org_id: str, body: bytes) -> WebhookEndpoint:
        """A new endpoint, with the secret that signs its messages (shown this once)."""
        with self.database.write() as conn:
            return webhooks.create_endpoint(conn, org_id, body, self.clock())

    def webhooks(self, org_id: str) -> list[WebhookEndpoint]:
        with self.database.read() as conn:
            return webhooks.endpoints(conn, org_id)

    def delete_webhook(self, org_id: str, webhook_id: str) -> None:
        with self.database.write() as conn:
            webhooks.delete_endpoint(conn, org_id, webhook_id)

    def deliveries(self, org_id: str, webhook_id: str, limit: int = 50) -> list[Delivery]:
        with self.database.read() as conn:
            return webhooks.deliveries(conn, org_id, webhook_id, limit)

    def redeliver(self, org_id: str, webhook_id: str, message_id: str) -> None:
        """Deliver a message again, with its id, from now."""
        with self.database.write() as conn:
            webhooks.redeliver(conn, org_id, webhook_id, message_id, self.clock())

    def evaluate_alerts(self, now: int, recheck_ms: int, org_id: str | None = None,
                        pacing: Pacing | None = None) -> int:
        """Evaluate the alerts of the organizations (or the one) that moved, as ``pacing`` lets
        (service/alerts.py); the messages written."""
        return alerts.evaluate_due(self.database, self.catalog, now, recheck_ms, org_id, pacing)

    def lease_webhook_messages(self, now: int, lease_ms: int, limit: int
                               ) -> list[tuple[WebhookMessage, WebhookEndpoint]]:
        return webhooks.lease_due(self.database, now, lease_ms, limit)

    def keep_webhook_attempt(self, message: WebhookMessage, attempt: WebhookAttempt, retry_ms: Sequence[int]) -> None:
        webhooks.keep_outcome(self.database, message, attempt, retry_ms)
