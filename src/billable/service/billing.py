"""The service as the edges call it: bound to one database, catalog and clock, each method
one use case in a transaction of its own. The routes and the command line parse a
request, call one of these and write its answer (billable.wire); they open no transaction
themselves, and import nothing of the store: the types they name come from here."""

from __future__ import annotations

from collections.abc import Callable, Iterable
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
from billable.store import distribution, migrate
from billable.store.database import DEFAULT_URL as DEFAULT_URL  # the service's default, for the edges
from billable.store.database import Database
from billable.store.events import EventFilter as EventFilter
from billable.store.events import StoredEvent as StoredEvent
from billable.store.organizations import OAuthClient as OAuthClient
from billable.store.organizations import Organization as Organization
from billable.store.organizations import get_organization, list_clients, list_organizations
from billable.store.periods import ClosedPeriod as ClosedPeriod
from billable.store.periods import list_closed


class Billing:
    def __init__(self, database: Database, catalog: Catalog, clock: Callable[[], int]):
        self.database = database
        self.catalog = catalog
        self.clock = clock

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
        with self.database.write() as conn:
            return store_batch(conn, org_id, events, self.clock())

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
