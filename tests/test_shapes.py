"""The report bodies agree three ways: what the server sends (written by
wire/writers.py), the OpenAPI document (generated from wire/bodies.py) and the
SDK's models (client/_models.py, which must not import the server)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import CATALOG, INGESTED_AT, MakeClient, MakeOrg, bearer, new_client
from examples import WORKED_EXAMPLES
from pydantic import BaseModel, TypeAdapter
from typing_extensions import Annotated, get_args, get_origin, get_type_hints, is_typeddict

from billable.client import _models as sdk
from billable.service.alerts import create_alert
from billable.service.subscriptions import set_subscription
from billable.service.webhooks import create_endpoint
from billable.store.webhooks import add_message
from billable.wire import bodies

OCTOBER = {"startDate": "2026-10-01", "endDate": "2026-11-01"}
# Route, query, the body's one definition, the SDK's model of it.
ROUTES: list[tuple[str, dict[str, str], Any, type[BaseModel]]] = [
    ("/api/v2/billing/reports/billableusage", OCTOBER, bodies.BillingUsageReport, sdk.BillingUsageReport),
    ("/api/v2/billing/reports/concurrentusage", OCTOBER, bodies.ConcurrentUsageReport, sdk.ConcurrentUsageReport),
    ("/api/v2/billing/reports/billableusage/explain", {**OCTOBER, "userId": "ann"}, bodies.Explanation,
     sdk.Explanation),
    ("/api/v2/billing/products", {}, bodies.ProductCatalog, sdk.ProductCatalog),
    ("/api/v2/billing/events", {"pageSize": "2"}, bodies.EventListing, sdk.EventListing),
    ("/api/v2/billing/trusteebillingoverview/{trustorOrgId}", {"billingPeriodIndex": "1"},
     bodies.TrusteeBillingOverview, sdk.TrusteeBillingOverview),
    ("/api/v2/billing/reports/billableusage/charges", OCTOBER, bodies.Charges, sdk.Charges),
    ("/api/v2/billing/alerts", {}, bodies.AlertListing, sdk.AlertListing),
    ("/api/v2/billing/webhooks", {}, bodies.WebhookListing, sdk.WebhookListing),
    ("/api/v2/billing/webhooks/{webhookId}/deliveries", {}, bodies.DeliveryListing, sdk.DeliveryListing),
]
SUBSCRIPTION = {"currency": "EUR", "subscriptionType": "PREPAY", "contractEffectiveDate": "2026-01-01",
                "rampPeriodStartDate": "2026-01-01", "rampPeriodEndDate": "2026-02-01",
                "usages": [{"name": name, "partNumber": name, "grouping": "user", "prepayQuantity": "1",
                            "prepayPrice": "20", "overagePrice": "25", "usageNotes": "per user"}
                           for name in ("cx1", "cx3", "edge")]}


def _no_key_beyond(value: Any, shape: Any, where: str) -> None:
    """No dictionary in ``value`` has a key its TypedDict in ``shape`` does not define."""
    shape = getattr(shape, "__origin__", shape) if get_origin(shape) is Annotated else shape
    if is_typeddict(shape):
        hints = get_type_hints(shape)
        assert isinstance(value, dict) and value.keys() <= hints.keys(), f"{where}: {set(value) - set(hints)}"
        for key, inner in value.items():
            _no_key_beyond(inner, hints[key], f"{where}.{key}")
    elif isinstance(value, list):
        (item,) = [a for a in get_args(shape)] or [Any]
        for number, inner in enumerate(value):
            _no_key_beyond(inner, item, f"{where}[{number}]")
    elif isinstance(value, dict):  # an optional nested shape (the one TypedDict among its options), or a mapping
        options = [a for a in get_args(shape) if is_typeddict(a)]
        if options:
            _no_key_beyond(value, options[0], where)
        else:
            assert get_origin(shape) is dict, f"{where}: {shape}"


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with a ``$ref``, or an ``anyOf`` of one schema and null, resolved."""
    if "$ref" in schema:
        return _resolve(document, document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])
    options = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    return _resolve(document, options[0]) if len(options) == 1 else schema


def _sdk_fields_are_documented(document: dict[str, Any], schema: dict[str, Any], model: type[BaseModel],
                               where: str) -> int:
    """Every field the SDK reads is in the document, required where the SDK requires it,
    nested models likewise; the number of fields compared."""
    schema = _resolve(document, schema)
    compared = 0
    for name, field in model.model_fields.items():
        key = field.alias or name
        assert key in schema["properties"], f"{where}.{key}: read by the SDK, not in the OpenAPI document"
        if field.is_required():
            assert key in schema.get("required", []), f"{where}.{key}: required by the SDK, optional in the document"
        compared += 1
        inner = schema["properties"][key]
        annotation = field.annotation
        nested = [a for a in getattr(annotation, "__args__", (annotation,)) if isinstance(a, type)
                  and issubclass(a, BaseModel)]
        if nested:
            resolved = _resolve(document, inner)
            items = resolved.get("items", resolved)
            compared += _sdk_fields_are_documented(document, items, nested[0], f"{where}.{key}")
    return compared


@pytest.mark.parametrize(("path", "query", "body", "model"), ROUTES, ids=[r[0].rsplit("/", 1)[1] for r in ROUTES])
def test_served_bodies_the_document_and_the_sdk_agree(make_org: MakeOrg, make_client: MakeClient, path: str,
                                                      query: dict[str, str], body: Any,
                                                      model: type[BaseModel]) -> None:
    org = make_org("concurrent")
    org.ingest([e for example in WORKED_EXAMPLES for e in example()[1]])
    with org.database.write() as conn:
        set_subscription(conn, org.id, json.dumps(SUBSCRIPTION).encode(), CATALOG, INGESTED_AT - 1, "test")
        create_alert(conn, org.id, b'{"product": "cx1", "thresholds": [{"percent": "50"}, {"quantity": "2"}]}', CATALOG,
                     INGESTED_AT - 1, "test")
        webhook = create_endpoint(conn, org.id, b'{"url": "http://127.0.0.1:9/billing"}', INGESTED_AT - 1)
        add_message(conn, org.id, "msg_1", webhook.id, "alert.triggered", '{"type": "alert.triggered"}', INGESTED_AT)
    client = make_client(report_budget_seconds=30)
    headers = bearer(client, *new_client(org.database, org.id))
    document = client.get("/openapi.json").json()
    answer = client.get(path.replace("{trustorOrgId}", org.id).replace("{webhookId}", webhook.id), params=query,
                        headers=headers)
    assert answer.status_code == 200, answer.text
    served = answer.json()
    # The served body is exactly its one definition: no field missing, none extra, each of its type.
    assert TypeAdapter(body).validate_python(served, strict=True) == served
    _no_key_beyond(served, body, path)
    # The document's schema is generated from that definition.
    schema = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    generated = TypeAdapter(body).json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
    generated.pop("$defs", None)  # the document holds them among its components
    assert _resolve(document, schema) == generated
    # The SDK reads only fields the document names, and reads the served body.
    assert _sdk_fields_are_documented(document, schema, model, path) >= 3
    parsed = model.model_validate(served)
    assert parsed.model_dump(by_alias=True, exclude_unset=True).keys() <= served.keys()
