"""A subscription document, checked (issue 37), and its billing periods."""

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billable.rules.catalog import Catalog
from billable.rules.errors import InvalidInput
from billable.rules.instants import instant_from_datetime, parse_instant
from billable.rules.subscriptions import billing_period, document_of, is_billing_period, parse_subscription

CATALOG = Catalog.load()


def document(**changes):
    found = {
        "currency": "EUR", "subscriptionType": "PREPAY_MONTHLY_COMMITMENT",
        "contractEffectiveDate": "2026-03-15T00:00:00.000Z", "contractEndDate": "2029-03-15T00:00:00.000Z",
        "minimumMonthlyAmount": "1000.00",
        "usages": [{"name": "cx2", "partNumber": "PureCloud-CX2", "grouping": "user", "unitOfMeasureType": "user",
                    "prepayQuantity": "100", "prepayPrice": "95.00", "overagePrice": "110.50",
                    "bundleQuantity": "0", "usageNotes": "named users", "isCancellable": False,
                    "isThirdParty": False}],
    }
    found.update(changes)
    return found


def test_a_document_with_the_overviews_keys_is_a_subscription_in_decimals():
    subscription = parse_subscription(document(), CATALOG)
    assert subscription.currency == "EUR"
    assert subscription.contract_effective_date == parse_instant("2026-03-15T00:00:00.000Z")
    assert subscription.minimum_monthly_amount == Decimal("1000.00")
    (product,) = subscription.products
    assert (product.name, product.part_number, product.prepay_quantity, product.overage_price) == (
        "cx2", "PureCloud-CX2", Decimal(100), Decimal("110.50"))
    assert product.usage_notes == "named users" and not product.is_cancellable


def test_every_problem_of_a_document_is_named_and_nothing_is_taken():
    bad = document(currency="euro", subscriptionType="FOREVER", contractEffectiveDate="soon",
                   contractEndDate="2020-01-01", minimumMonthlyAmount="-3",
                   usages=[{"name": "cx9", "partNumber": "", "overagePrice": "ten"},
                           {"name": "cx2", "partNumber": "p", "overagePrice": "1", "isCancellable": "yes"},
                           {"name": "cx2", "partNumber": "q", "overagePrice": "1"}, 7])
    with pytest.raises(InvalidInput) as raised:
        parse_subscription(bad, CATALOG)
    named = {(problem.field_name, problem.error_code) for problem in raised.value.problems}
    assert named == {
        ("currency", "invalid.value"), ("subscriptionType", "invalid.value"),
        ("contractEffectiveDate", "invalid.date"), ("minimumMonthlyAmount", "invalid.value"),
        ("usages[0].name", "unknown.product"), ("usages[0].partNumber", "required"),
        ("usages[0].overagePrice", "invalid.value"), ("usages[1].isCancellable", "invalid.value"),
        ("usages[2].name", "duplicate"), ("usages[3]", "invalid.value")}


def test_dates_out_of_order_and_half_a_ramp_are_refused():
    with pytest.raises(InvalidInput) as raised:
        parse_subscription(document(contractEndDate="2026-01-01", rampPeriodStartDate="2026-04-01"), CATALOG)
    assert {problem.field_name for problem in raised.value.problems} == {"contractEndDate", "rampPeriodEndDate"}


def test_a_device_type_of_the_catalog_can_be_subscribed_to():
    device = sorted(CATALOG.device_type_names)[0]
    usages = [{"name": device, "partNumber": "dev", "overagePrice": "2"}]
    assert parse_subscription(document(usages=usages), CATALOG).products[0].name == device


def test_a_billing_period_is_numbered_back_from_the_running_one_and_a_bad_index_is_refused():
    subscription = parse_subscription(document(), CATALOG)
    now = parse_instant("2026-05-20T10:00:00.000Z")
    period = billing_period(2, now)
    assert (period.start, period.end) == (parse_instant("2026-03-01T00:00:00Z"), parse_instant("2026-04-01T00:00:00Z"))
    assert subscription.covers(period) and not subscription.covers(billing_period(3, now))
    assert billing_period(1200, now).start == parse_instant("1926-05-01T00:00:00Z")  # the last index taken
    for index in (-1, 1201):
        with pytest.raises(InvalidInput) as raised:
            billing_period(index, now)
        assert raised.value.problems[0].field_name == "billingPeriodIndex"


def _months_back(moment: datetime, index: int) -> tuple[int, int]:
    """The reference: step back a month at a time from the first of ``moment``'s month."""
    year, month = moment.year, moment.month
    for _ in range(index):
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    following = (year, month + 1) if month < 12 else (year + 1, 1)
    return (instant_from_datetime(datetime(year, month, 1, tzinfo=timezone.utc)),
            instant_from_datetime(datetime(*following, 1, tzinfo=timezone.utc)))


@given(moment=st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2200, 1, 1),
                           timezones=st.just(timezone.utc)),
       index=st.integers(min_value=0, max_value=400))
def test_billing_period_n_is_the_calendar_month_n_months_before_the_running_one(moment, index):
    now = instant_from_datetime(moment)
    period = billing_period(index, now)
    assert (period.start, period.end) == _months_back(moment, index)
    assert is_billing_period(period)
    if index == 0:
        assert period.start <= now < period.end


def test_a_subscription_reads_back_from_its_document_unchanged():
    subscription = parse_subscription(document(rampPeriodStartDate="2026-03-15", rampPeriodEndDate="2026-06-15"), CATALOG)
    assert parse_subscription(document_of(subscription), None) == subscription
    assert subscription.in_ramp_period(parse_instant("2026-04-01T00:00:00Z"))
    assert not subscription.in_ramp_period(parse_instant("2026-06-15T00:00:00Z"))
