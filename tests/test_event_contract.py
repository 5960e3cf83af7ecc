"""The event types billable takes are declared once (rules/events.py: ``EVENTS``), and every
place that knows them is derived from that declaration: the checker, the decoder, the
ingestion body's schema, the API's type names, the types that name an email. A new type
is a change of the declaration (plus, where it bills, its rule)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import CATALOG, INGESTED_AT, MakeClient, event

from billable.rules.decoding import Decoder
from billable.rules.errors import InvalidEvents
from billable.rules.events import (
    EMAIL,
    EVENTS,
    PRODUCT,
    EventContract,
    EventType,
    UsageEvent,
    validate_events,
)
from billable.server.models import event_batch_schema

HEARTBEAT = EventType("user.heartbeat", required=(PRODUCT,), optional=(EMAIL,))
EXTENDED = EventContract((*EVENTS.types, HEARTBEAT))


def body(document: Any) -> bytes:
    return json.dumps(document).encode()


def test_a_new_type_declared_once_is_taken_everywhere() -> None:
    sent = [event("user.heartbeat", "ann", "2026-10-02T08:00:00Z", id="h1", product="cx1", email="ann@x")]
    expected = [UsageEvent("urn:test", "h1", "user.heartbeat", "ann", 1790928000000, product="cx1", email="ann@x")]
    # The checker and the decoder.
    assert validate_events(sent, CATALOG, INGESTED_AT, EXTENDED) == expected
    assert Decoder(EXTENDED).decode_batch(body(sent), CATALOG, INGESTED_AT) == expected
    assert Decoder(EXTENDED).decode_lines([body(sent[0])], CATALOG, INGESTED_AT) == expected
    # Its required field, checked as every type's is.
    without = [{**sent[0], "data": {"email": "ann@x"}}]
    assert Decoder(EXTENDED).decode_batch(body(without), CATALOG, INGESTED_AT) is None
    with pytest.raises(InvalidEvents) as refused:
        validate_events(without, CATALOG, INGESTED_AT, EXTENDED)
    assert [(p.field_name, p.error_code) for p in refused.value.problems] == [("events[0].data.product", "required")]
    # The schema of the ingestion body, and the types that name an email.
    variants = event_batch_schema(CATALOG, 10, EXTENDED)["items"]["oneOf"]
    heartbeat = next(v for v in variants if v["properties"]["type"]["enum"] == ["user.heartbeat"])
    assert heartbeat["properties"]["data"]["required"] == ["product"]
    assert heartbeat["properties"]["data"]["properties"]["product"]["enum"][0] == CATALOG.user_products[0].name
    assert "user.heartbeat" in EXTENDED.email_types
    # The contract in force knows nothing of it.
    assert Decoder().decode_batch(body(sent), CATALOG, INGESTED_AT) is None
    with pytest.raises(InvalidEvents):
        validate_events(sent, CATALOG, INGESTED_AT)


def test_the_api_documents_the_contract_in_force(make_client: MakeClient) -> None:
    document = make_client().get("/openapi.json").json()
    listing = document["paths"]["/api/v2/billing/events"]["get"]["parameters"]
    typed = next(p for p in listing if p["name"] == "type")
    assert typed["schema"]["anyOf"][0]["enum"] == list(EVENTS.names)
    ingestion = document["paths"]["/api/v2/billing/events"]["post"]["requestBody"]["content"]["application/json"]
    assert [v["properties"]["type"]["enum"] for v in ingestion["schema"]["items"]["oneOf"]] == [
        [name] for name in EVENTS.names]


@pytest.mark.parametrize("declared", EVENTS.types, ids=lambda kind: kind.name)
def test_checker_and_decoder_agree_on_every_type(declared: EventType) -> None:
    values = {"product": "cx1", "deviceType": "edge", "email": "ann@x"}
    data = {field.name: values[field.name] for field in declared.fields}
    sent = [event(declared.name, "ann", "2026-10-02T08:00:00Z", id="e1", **data)]
    checked = validate_events(sent, CATALOG, INGESTED_AT)
    assert Decoder().decode_batch(body(sent), CATALOG, INGESTED_AT) == checked
    assert {field.attribute: getattr(checked[0], field.attribute) for field in declared.fields} == {
        field.attribute: values[field.name] for field in declared.fields}
    for field in declared.required:  # each required field missing, blank, or not in the catalog
        for wrong in (None, " ", "nothing-of-the-catalog"):
            if wrong == "nothing-of-the-catalog" and field.catalog_names is None:
                continue
            bad = [{**sent[0], "data": {**data, field.name: wrong}}]
            assert Decoder().decode_batch(body(bad), CATALOG, INGESTED_AT) is None
            with pytest.raises(InvalidEvents) as refused:
                validate_events(bad, CATALOG, INGESTED_AT)
            assert [p.field_name for p in refused.value.problems] == [f"events[0].data.{field.name}"]
