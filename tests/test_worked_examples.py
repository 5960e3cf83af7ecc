"""billing-rules.md section 9: each worked example, by the reference and by the engine."""

from __future__ import annotations

import pytest
from conftest import CATALOG
from examples import OCTOBER, WORKED_EXAMPLES
from reference import reference_report, user_histories

from billable.rules.catalog import LicensingModel
from billable.rules.events import validate_events
from billable.rules.instants import Period, format_instant, parse_instant
from billable.service.reports import billable_usage_report
from billable.store.organizations import get_organization

PERIOD = Period.parse(*OCTOBER)
AFTER = parse_instant("2026-11-15T00:00:00Z")


def as_expected(report):
    return {u.name: (u.total_usage, [(r.name, format_instant(r.date)) for r in u.resources]) for u in report.usages}


@pytest.mark.parametrize("example", WORKED_EXAMPLES, ids=lambda e: e.__name__)
def test_reference(example):
    model, raw, expected = example()
    events = validate_events(raw, CATALOG, AFTER)
    assert as_expected(reference_report(events, CATALOG, LicensingModel(model), PERIOD, AFTER)) == expected


@pytest.mark.parametrize("example", WORKED_EXAMPLES, ids=lambda e: e.__name__)
def test_engine(example, make_org):
    model, raw, expected = example()
    org = make_org(model)
    org.ingest(raw)
    with org.database.read() as conn:
        report = billable_usage_report(conn, get_organization(conn, org.id), PERIOD, CATALOG, AFTER)
    assert as_expected(report) == expected


def test_duplicate_login_makes_one_session():
    _, raw, _ = WORKED_EXAMPLES[8]()
    histories = user_histories(validate_events(raw, CATALOG, AFTER))
    assert histories["fay"].sessions == [(parse_instant("2026-10-01T08:00Z"), parse_instant("2026-10-01T10:00Z"))]
