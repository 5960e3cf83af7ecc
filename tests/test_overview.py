"""The trustee billing overview and the charges of a billing period (issue 37): read by the
official SDK and ours through a real server, refused to whoever is not trusted, equal to the
billable usage report's totals and to the reference's charges on random logs."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import PureCloudPlatformClientV2 as genesys
import pytest
from conftest import CATALOG, Clock, close_official, event, running_server
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import reference_charges, reference_report

from billable.client import ApiClient, BillingApi, PermissionDeniedError
from billable.rules.catalog import LicensingModel
from billable.rules.errors import InvalidInput, InvalidPeriod
from billable.rules.events import validate_events
from billable.rules.instants import DAY_MS, HOUR_MS, MINUTE_MS, Period, datetime_from_instant, parse_instant, system_now
from billable.rules.subscriptions import billing_period
from billable.service.billing import Billing
from billable.service.organizations import READ_CLIENT_BILLING, READ_REPORTS
from billable.service.report_requests import BILLABLE_USAGE
from billable.store.database import Database
from billable.wire.writers import charges_body, overview_body

SUBSCRIBED = ("cx1", "cx2", "edge")


def subscription(**changes: object) -> bytes:
    found: dict[str, object] = {
        "currency": "EUR", "subscriptionType": "PREPAY_MONTHLY_COMMITMENT",
        "contractEffectiveDate": "2026-01-01T00:00:00.000Z", "minimumMonthlyAmount": "500.00",
        "rampPeriodStartDate": "2026-01-01T00:00:00.000Z", "rampPeriodEndDate": "2026-07-01T00:00:00.000Z",
        "usages": [{"name": name, "partNumber": f"PN-{name}", "grouping": "user", "unitOfMeasureType": "user",
                    "prepayQuantity": "1", "prepayPrice": "75.00", "overagePrice": "90.00", "bundleQuantity": "0",
                    "isCancellable": False, "isThirdParty": False} for name in SUBSCRIBED],
    }
    found.update(changes)
    return json.dumps(found).encode()


def month_of_usage(period: Period, now: int) -> list[dict[str, object]]:
    """Two users and a device billed in ``period`` (before ``now``)."""
    at = lambda offset: min(period.start + offset, now - 1)  # noqa: E731  # the running month may be young
    return [event("license.assigned", "ann", period.start - DAY_MS, id=uuid.uuid4().hex, product="cx2"),
            event("license.assigned", "bob", period.start - DAY_MS, id=uuid.uuid4().hex, product="cx1"),
            event("user.login", "ann", at(MINUTE_MS), id=uuid.uuid4().hex),
            event("user.login", "bob", at(2 * MINUTE_MS), id=uuid.uuid4().hex),
            event("device.active", "e-1", at(3 * MINUTE_MS), id=uuid.uuid4().hex, deviceType="edge")]


def test_the_official_sdk_reads_the_overview_of_an_organization_that_trusts_the_partner(database: Database) -> None:
    billing = Billing(database, CATALOG, system_now)
    now = system_now()
    trustor, partner, stranger = (billing.create_organization(f"{name} {uuid.uuid4().hex[:6]}", "named")
                                  for name in ("acme", "partner", "stranger"))
    for index in (1, 0):
        billing.ingest(trustor.id, json.dumps(month_of_usage(billing_period(index, now), now)).encode(), 100)
    billing.ingest(stranger.id, json.dumps(month_of_usage(billing_period(0, now), now)).encode(), 100)
    for org in (trustor, stranger):
        billing.set_subscription(org.id, subscription(), "test")
    billing.trust(trustor.id, partner.id, "test")
    partner_client = billing.create_client(partner.id, [READ_CLIENT_BILLING])
    own_client = billing.create_client(trustor.id, ["billing:subscription:view"])
    with running_server(database.url) as base:
        official = genesys.ApiClient(host=base).get_client_credentials_token(partner_client.client_id,
                                                                            partner_client.client_secret)
        api = genesys.BillingApi(official)
        for index in (0, 1):
            theirs = api.get_billing_trusteebillingoverview_trustor_org_id(trustor.id, billing_period_index=index)
            period = billing_period(index, now)
            report = billing.report(BILLABLE_USAGE, trustor.id, period).figures
            totals = {usage.name: usage.total_usage for usage in report.usages}
            assert {u.name: u.usage_quantity for u in theirs.usages} == {name: totals.get(name, "0") for name in SUBSCRIBED}
            assert (theirs.usages[0].prepay_price, theirs.usages[0].part_number) == ("75.00", "PN-cx1")
            assert theirs.billing_period_start_date == datetime_from_instant(period.start)
            assert theirs.billing_period_end_date == datetime_from_instant(period.end)
            assert (theirs.id, theirs.organization.id, theirs.currency, theirs.minimum_monthly_amount) == (
                trustor.id, trustor.id, "EUR", "500.00")
            assert theirs.subscription_type == "PREPAY_MONTHLY_COMMITMENT" and theirs.in_ramp_period is False
            assert theirs.enabled_products == list(SUBSCRIBED)
            assert totals["cx2"] == "1" and totals["edge"] == "1"
        # Neither an organization that does not trust the partner nor one that does not exist.
        for other in (stranger.id, str(uuid.uuid4()), "not-an-organization"):
            with pytest.raises(genesys.rest.ApiException) as refused:
                api.get_billing_trusteebillingoverview_trustor_org_id(other)
            assert refused.value.status == 403
            assert json.loads(refused.value.body)["code"] == "missing.any.permissions"
        with pytest.raises(genesys.rest.ApiException) as refused:
            api.get_billing_trusteebillingoverview_trustor_org_id(trustor.id, billing_period_index=2000)
        assert refused.value.status == 400 and "billingPeriodIndex" in refused.value.body
        close_official(official)

        # The organization's own client reads its own overview, and the charges; not the stranger's.
        with ApiClient(host=base).login_client_credentials(own_client.client_id, own_client.client_secret) as client:
            ours = BillingApi(client)
            own = ours.get_billing_trusteebillingoverview_trustor_org_id(trustor.id, billing_period_index=1)
            assert {u.name: u.usage_quantity for u in own.usages} == {"cx1": 1, "cx2": 1, "edge": 1}
            period = billing_period(1, now)
            bill = ours.get_billing_reports_billableusage_charges(datetime_from_instant(period.start),
                                                                  datetime_from_instant(period.end))
            # Each product: 1 prepaid at 75.00, 1 used, no overage; 225.00 under the minimum 500.00.
            assert [(p.name, p.prepaid_charge, p.overage_charge) for p in bill.products] == [
                (name, Decimal("75.00"), Decimal("0.00")) for name in SUBSCRIBED]
            assert (bill.subtotal, bill.minimum_top_up, bill.total) == (Decimal("225.00"), Decimal("275.00"),
                                                                         Decimal("500.00"))
            with pytest.raises(PermissionDeniedError):
                ours.get_billing_trusteebillingoverview_trustor_org_id(stranger.id)

        billing.untrust(trustor.id, partner.id)
        with ApiClient(host=base).login_client_credentials(partner_client.client_id,
                                                           partner_client.client_secret) as client:
            with pytest.raises(PermissionDeniedError):
                BillingApi(client).get_billing_trusteebillingoverview_trustor_org_id(trustor.id)


def test_a_closed_period_keeps_its_usage_and_its_subscription(database: Database) -> None:
    now = parse_instant("2026-12-05T12:00:00Z")
    clock = Clock(parse_instant("2026-11-10T00:00:00Z"))
    billing = Billing(database, CATALOG, clock)
    org = billing.create_organization(f"closing {uuid.uuid4().hex[:6]}", "named")
    november = billing_period(1, now)
    billing.ingest(org.id, json.dumps(month_of_usage(november, clock.now)).encode(), 100)
    billing.set_subscription(org.id, subscription(), "test")
    clock.now = now
    billing.close_period(org.id, november, "test")
    late = [event("license.assigned", "cid", november.start, id=uuid.uuid4().hex, product="cx1"),
            event("user.login", "cid", november.start + HOUR_MS, id=uuid.uuid4().hex)]
    billing.ingest(org.id, json.dumps(late).encode(), 100)
    before = charges_body(billing.charges(org.id, november))
    billing.set_subscription(org.id, subscription(minimumMonthlyAmount="9000"), "test")  # from now on
    overview = billing.overview(org.id, READ_REPORTS, org.id, 1)
    assert overview.closed is not None and overview.usage["cx1"] == 1  # the kept figures: cid came late
    assert overview_body(overview)["closed"]["closedBy"] == "test"
    assert charges_body(billing.charges(org.id, november)) == before
    assert before["minimumMonthlyAmount"] == "500.00" and "closed" in before
    assert charges_body(billing.charges(org.id, billing_period(0, now)))["minimumMonthlyAmount"] == "9000.00"


def test_a_period_that_is_no_billing_month_or_before_the_contract_is_refused(database: Database) -> None:
    now = parse_instant("2026-12-05T12:00:00Z")
    billing = Billing(database, CATALOG, lambda: now)
    org = billing.create_organization(f"months {uuid.uuid4().hex[:6]}", "named")
    billing.set_subscription(org.id, subscription(contractEffectiveDate="2026-10-15T00:00:00.000Z"), "test")
    for start, end in (("2026-11-01", "2026-11-30"), ("2026-11-02", "2026-12-02"), ("2026-09-01", "2026-10-01")):
        with pytest.raises(InvalidPeriod):
            billing.charges(org.id, Period.parse(start, end))
    billing.charges(org.id, Period.parse("2026-10-01", "2026-11-01"))  # the contract's first month
    with pytest.raises(InvalidInput) as refused:
        billing.overview(org.id, READ_REPORTS, org.id, 3)
    assert refused.value.problems[0].field_name == "billingPeriodIndex"


# --- on random logs, against the reference ------------------------------------------------

NOW_CHOICES = [parse_instant(t) for t in ("2026-11-01T00:00:00Z", "2026-11-17T09:30:00Z", "2026-11-30T23:59:59.999Z")]
USERS = ["ann", "bob", "cid", "dee"]
PRODUCTS = [p.name for p in CATALOG.user_products]
START = parse_instant("2026-08-25T00:00:00Z")
SPAN = parse_instant("2026-12-01T00:00:00Z") - START
AMOUNTS = st.sampled_from(["0", "1", "2.5", "3", "10", "0.005", "0.015", "19.99", "100.125"])


@st.composite
def subscriptions(draw):
    currency = draw(st.sampled_from(["EUR", "JPY", "KWD"]))
    names = draw(st.lists(st.sampled_from([*PRODUCTS, "edge", "phone"]), min_size=1, max_size=4, unique=True))
    return {"currency": currency, "subscriptionType": "MONTH_TO_MONTH",
            "contractEffectiveDate": draw(st.sampled_from(["2026-06-10", "2026-09-30T23:00:00Z", "2026-11-01"])),
            "minimumMonthlyAmount": draw(AMOUNTS),
            "usages": [{"name": name, "partNumber": name.upper(), "prepayQuantity": draw(AMOUNTS),
                        "prepayPrice": draw(AMOUNTS), "overagePrice": draw(AMOUNTS)} for name in names]}


@st.composite
def scenarios(draw):
    """A licensing model, a log up to a ``now`` in November 2026, a subscription, an index."""
    now = draw(st.sampled_from(NOW_CHOICES))
    times = st.integers(START, now)
    events = []
    for kind, subject, time, product in draw(st.lists(st.tuples(
            st.sampled_from(["license.assigned", "user.login", "user.logout", "user.login", "license.unassigned",
                             "device.active"]),
            st.sampled_from(USERS), times, st.sampled_from(PRODUCTS)), min_size=1, max_size=30)):
        if kind == "device.active":
            events.append(event(kind, f"d-{subject}", time, id=uuid.uuid4().hex, deviceType="edge"))
        elif kind.startswith("license"):
            events.append(event(kind, subject, time, id=uuid.uuid4().hex, product=product))
        else:
            events.append(event(kind, subject, time, id=uuid.uuid4().hex))
    return draw(st.sampled_from(list(LicensingModel))), events, draw(subscriptions()), now, draw(st.integers(0, 4))


_AMOUNTS = ("usage", "overageQuantity", "prepaidCharge", "overageCharge", "total")


def _numbers(bill: Any) -> dict:
    """The charges' amounts as ``Decimal``, as the reference gives them."""
    return {"products": [{"name": p["name"], **{key: Decimal(p[key]) for key in _AMOUNTS}} for p in bill["products"]],
            "unpricedUsages": [{"name": u["name"], "usage": Decimal(u["usage"])} for u in bill["unpricedUsages"]],
            **{key: Decimal(bill[key]) for key in ("subtotal", "minimumTopUp", "total")}}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(scenario=scenarios())
def test_overview_and_charges_equal_the_reference(database: Database, scenario) -> None:
    model, events, document, now, index = scenario
    billing = Billing(database, CATALOG, lambda: now)
    org = billing.create_organization("property", model.value)
    billing.ingest(org.id, json.dumps(events).encode(), 100)
    billing.set_subscription(org.id, json.dumps(document).encode(), "test")
    period = billing_period(index, now)
    if period.start < parse_instant(document["contractEffectiveDate"][:7] + "-01", allow_date=True):
        with pytest.raises(InvalidInput):
            billing.overview(org.id, READ_REPORTS, org.id, index)
        return
    expected = reference_report(validate_events(events, CATALOG, now), CATALOG, model, period, now)
    totals = {usage.name: usage.total_usage for usage in expected.usages}
    body = overview_body(billing.overview(org.id, READ_REPORTS, org.id, index))
    assert {u["name"]: u["usageQuantity"] for u in body["usages"]} == {
        u["name"]: totals.get(u["name"], "0") for u in document["usages"]}
    assert _numbers(charges_body(billing.charges(org.id, period))) == reference_charges(document, totals)


def test_charges_as_of_an_instant_are_those_said_then(database: Database) -> None:
    """With ``asOf``, the charges of the usage acknowledged by then, under the subscription
    in effect then: a later batch and a later subscription change neither."""
    clock = Clock(parse_instant("2026-11-10T00:00:00Z"))
    billing = Billing(database, CATALOG, clock)
    org = billing.create_organization(f"as of {uuid.uuid4().hex[:6]}", "named")
    billing.set_subscription(org.id, subscription(), "test")
    november = billing_period(0, clock.now)
    billing.ingest(org.id, json.dumps(month_of_usage(november, clock.now)).encode(), 100)
    said = charges_body(billing.charges(org.id, november))
    then = clock.now
    clock.now += DAY_MS
    late = [event("license.assigned", "eve", november.start, id=uuid.uuid4().hex, product="cx1"),
            event("user.login", "eve", november.start + HOUR_MS, id=uuid.uuid4().hex)]
    billing.ingest(org.id, json.dumps(late).encode(), 100)
    clock.now += DAY_MS
    billing.set_subscription(org.id, subscription(minimumMonthlyAmount="9000"), "test")
    now_said = charges_body(billing.charges(org.id, november))
    assert now_said["products"][0]["usage"] == "2" and now_said["minimumMonthlyAmount"] == "9000.00"
    as_of = charges_body(billing.charges(org.id, november, then))
    assert {k: v for k, v in as_of.items() if k not in ("asOf", "selfUri")} == \
        {k: v for k, v in said.items() if k != "selfUri"}
    assert as_of["asOf"] == "2026-11-10T00:00:00.000Z" and "asOf=" in as_of["selfUri"]
