"""Input a hostile or careless client sends: every one answered with a 4xx in the error body
(never a 500), nothing of it stored, and nothing it left behind breaks a later read. On
SQLite and PostgreSQL, through the app."""

from __future__ import annotations

import json
from typing import Any

from conftest import INGESTED_AT, Clock, MakeClient, MakeOrg, bearer, event, new_client

from billable.rules.events import UsageEvent
from billable.rules.instants import EARLIEST_INSTANT, HOUR_MS, LATEST_INSTANT
from billable.rules.json_text import MAX_BODY_DEPTH
from billable.service.ingestion import store_batch

EVENTS = "/api/v2/billing/events"
VOIDS = "/api/v2/billing/events/voids"
REPORT = "/api/v2/billing/reports/billableusage"
JSON = {"content-type": "application/json"}
# Written in years 1 and 9999; in UTC, an hour before year 1 and an hour after 9999.
BEFORE_YEAR_1 = "0001-01-01T00:00:00+01:00"
AFTER_YEAR_9999 = "9999-12-31T23:59:59-01:00"
PERIOD_ROUTES = (REPORT, "/api/v2/billing/reports/concurrentusage", f"{REPORT}/amendments", f"{REPORT}/explain")


def refused(answer: Any, status: int = 400) -> list[tuple[str, str]]:
    """The (fieldName, errorCode) of a refusal, after checking it is one in the error body."""
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["status"] == status and body["code"] and body["contextId"] == answer.headers["ININ-Correlation-Id"]
    return [(detail["fieldName"], detail["errorCode"]) for detail in body["details"]]


def stored_count(client: Any, headers: dict[str, str]) -> int:
    return len(client.get(EVENTS, params={"pageSize": 500}, headers=headers).json()["entities"])


def test_instants_outside_the_years_1_to_9999_in_utc_are_refused_everywhere(make_org: MakeOrg,
                                                                               make_client: MakeClient) -> None:
    org = make_org()
    client = make_client(Clock(LATEST_INSTANT))  # so that no time at the edge is in the future
    headers = bearer(client, *new_client(org.database, org.id))
    for time in (BEFORE_YEAR_1, AFTER_YEAR_9999):
        sent = [event("user.login", "ann", "2026-10-01T08:00:00Z"), event("user.login", "ann", time)]
        assert refused(client.post(EVENTS, json=sent, headers=headers)) == [("events[1].time", "out.of.range")]
    assert stored_count(client, headers) == 0
    periods = ({"startDate": BEFORE_YEAR_1, "endDate": "0001-02-01T00:00:00Z"},
               {"startDate": "9999-12-01T00:00:00Z", "endDate": AFTER_YEAR_9999})
    for period in periods:
        field = "startDate" if period["startDate"] == BEFORE_YEAR_1 else "endDate"
        for route in PERIOD_ROUTES:
            assert refused(client.get(route, params={**period, "userId": "ann"}, headers=headers)) == [
                (field, "invalid.period")], route
        assert refused(client.post("/api/v2/billing/periods", json=period, headers=headers)) == [
            (field, "invalid.period")]
    october = {"startDate": "2026-10-01", "endDate": "2026-11-01"}
    assert refused(client.get(REPORT, params={**october, "asOf": AFTER_YEAR_9999}, headers=headers)) == [
        ("asOf", "invalid.date")]
    for name in ("receivedAfter", "startDate", "endDate"):
        assert refused(client.get(EVENTS, params={name: BEFORE_YEAR_1}, headers=headers)) == [(name, "invalid.date")]

    # At the edges themselves: taken, listed, reported.
    edges = [event("license.assigned", "ann", "0001-01-01T00:00:00Z", product="cx1"),
             event("user.login", "ann", "9999-12-31T12:00:00Z"), event("user.logout", "ann", "9999-12-31T23:59:59.999Z")]
    assert client.post(EVENTS, json=edges, headers=headers).json() == {"accepted": 3, "duplicates": 0}
    listed = client.get(EVENTS, headers=headers).json()["entities"]
    assert [e["time"] for e in listed] == ["9999-12-31T23:59:59.999Z", "9999-12-31T12:00:00.000Z",
                                           "0001-01-01T00:00:00.000Z"]
    last_month = {"startDate": "9999-12-01T00:00:00Z", "endDate": "9999-12-31T23:59:59.999Z"}
    assert client.post("/api/v2/billing/periods", json=last_month, headers=headers).status_code == 200
    for route in PERIOD_ROUTES:  # the amendments too: the period is closed
        assert client.get(route, params={**last_month, "userId": "ann"}, headers=headers).status_code == 200, route
    usages = client.get(REPORT, params=last_month, headers=headers).json()["usages"]
    assert [(u["name"], u["totalUsage"]) for u in usages] == [("cx1", "1")]
    first_month = {"startDate": "0001-01-01", "endDate": "0001-02-01"}
    assert client.get(REPORT, params=first_month, headers=headers).json()["usages"] == []  # not logged in then


def test_an_event_stored_before_the_range_was_enforced_reads_again(make_org: MakeOrg, make_client: MakeClient) -> None:
    """Planted at the current schema as the earlier code stored it: every read that
    reaches it answers, the instant written with an expanded year."""
    org = make_org()
    org.ingest([event("license.assigned", "ann", "2026-09-01T00:00:00Z", product="cx1"),
                event("user.login", "ann", "2026-10-02T08:00:00Z")])
    planted = UsageEvent("urn:old", "p1", "user.login", "ann", EARLIEST_INSTANT - HOUR_MS)
    with org.database.write() as conn:
        assert store_batch(conn, org.id, [planted], INGESTED_AT).accepted == 1
    client = make_client()
    headers = bearer(client, *new_client(org.database, org.id))
    for query in ({}, {"subject": "ann"}, {"type": "user.login"}):
        listed = client.get(EVENTS, params=query, headers=headers)
        assert listed.status_code == 200, listed.text
        assert "+000000-12-31T23:00:00.000Z" in [e["time"] for e in listed.json()["entities"]]
    october = {"startDate": "2026-10-01", "endDate": "2026-11-01"}
    explained = client.get(f"{REPORT}/explain", params={**october, "userId": "ann"}, headers=headers)
    assert explained.status_code == 200 and explained.json()["billed"] is True, explained.text
    usages = client.get(REPORT, params=october, headers=headers).json()["usages"]
    assert [(u["name"], u["totalUsage"]) for u in usages] == [("cx1", "1")]
    voided = client.post(VOIDS, json=[{"source": "urn:old", "id": "p1", "reason": "before year 1"}], headers=headers)
    assert voided.status_code == 200 and client.get(EVENTS, headers=headers).status_code == 200


def test_cursors_are_ascii_numbers_of_64_bits(make_org: MakeOrg, make_client: MakeClient) -> None:
    org = make_org()
    org.ingest([event("user.login", "ann", "2026-10-02T08:00:00Z")])
    client = make_client()
    headers = bearer(client, *new_client(org.database, org.id))
    assert client.get(EVENTS, params={"cursor": str(2**63 - 1)}, headers=headers).json()["entities"] != []
    for query in ("cursor=9223372036854775808", "cursor=9999999999999999999", "cursor=1&cursor=9999999999999999999",
                  "cursor=%EF%BC%91%EF%BC%92"):  # the last: full-width '１２'
        assert refused(client.get(f"{EVENTS}?{query}", headers=headers)) == [("cursor", refused_code(query))], query


def refused_code(query: str) -> str:
    return "string_pattern_mismatch" if "%" in query else "invalid.value"


def nested(depth: int) -> str:
    """A JSON value of arrays nested ``depth`` deep."""
    return "[" * depth + "]" * depth


def test_bodies_nested_past_32_levels_are_refused_and_within_them_taken(make_org: MakeOrg,
                                                                         make_client: MakeClient) -> None:
    org = make_org()
    client = make_client()
    headers = {**bearer(client, *new_client(org.database, org.id)), **JSON}
    one = json.dumps(event("user.login", "ann", "2026-10-02T08:00:00Z", id="n1"))[:-1]
    # The batch's array and the event are two levels; an extension attribute makes the rest.
    at_limit = f"[{one}, \"ext\": {nested(MAX_BODY_DEPTH - 2)}}}]"
    assert client.post(EVENTS, content=at_limit, headers=headers).json() == {"accepted": 1, "duplicates": 0}
    past = f"[{one.replace('n1', 'n2')}, \"ext\": {nested(MAX_BODY_DEPTH - 1)}}}]"
    assert refused(client.post(EVENTS, content=past, headers=headers)) == [("body", "too.deep")]
    deep_data = '{"a": ' * 1000 + "1" + "}" * 1000
    with_data = f"[{one.replace('n1', 'n3')}, \"data\": {deep_data}}}]"
    assert refused(client.post(EVENTS, content=with_data, headers=headers)) == [("body", "too.deep")]
    # Past orjson's own 1,024 levels: not even read.
    assert refused(client.post(EVENTS, content=nested(5000), headers=headers)) == [("body", "invalid.json")]
    assert refused(client.post(EVENTS, content=nested(1025), headers=headers)) == [("body", "invalid.json")]
    deep_reason = '[{"source": "urn:test", "id": "n1", "reason": ' + nested(2000) + "}]"
    assert refused(client.post(VOIDS, content=deep_reason, headers=headers)) == [("body", "invalid.json")]
    deeper = '[{"source": "urn:test", "id": "n1", "reason": ' + nested(1000) + "}]"
    assert refused(client.post(VOIDS, content=deeper, headers=headers)) == [("body", "too.deep")]
    listed = client.get(EVENTS, params={"subject": "ann"}, headers=headers).json()["entities"]
    assert [(e["id"], e["data"]) for e in listed] == [("n1", {})]  # what is not billed is not kept


def test_text_is_utf_8_without_lone_surrogates(make_org: MakeOrg, make_client: MakeClient) -> None:
    org = make_org()
    client = make_client()
    headers = {**bearer(client, *new_client(org.database, org.id)), **JSON}
    raw = '[{"specversion": "1.0", "id": "%s", "source": "urn:test", "type": "user.login", "subject": "ann", ' \
          '"time": "2026-10-02T08:00:00Z"}]'
    for lone in ("x\\ud800", "\\udfff", "\\uD83D"):
        assert refused(client.post(EVENTS, content=raw % lone, headers=headers)) == [("body", "invalid.json")]
    assert refused(client.post(VOIDS, content='[{"source": "s", "id": "i", "reason": "\\ud800"}]',
                               headers=headers)) == [("body", "invalid.json")]
    sixteen = json.dumps([event("user.login", "ann", "2026-10-02T08:00:00Z", id="u16")]).encode("utf-16")
    assert refused(client.post(EVENTS, content=sixteen, headers=headers)) == [("body", "invalid.json")]
    assert refused(client.post(VOIDS, content='[{"source": "s", "id": "i", "reason": "r"}]'.encode("utf-16"),
                               headers=headers)) == [("body", "invalid.json")]
    assert client.get(EVENTS, headers=headers).json()["entities"] == []
    # A pair of surrogates is one character, and is taken.
    assert client.post(EVENTS, content=raw % "\\ud83d\\ude00", headers=headers).json()["accepted"] == 1
    assert client.get(EVENTS, headers=headers).json()["entities"][0]["id"] == "\U0001F600"


def test_an_integer_of_thousands_of_digits_is_no_error_of_ours(make_org: MakeOrg, make_client: MakeClient) -> None:
    """Past a double's range, a number is not read: wherever it stands, the body is refused."""
    org = make_org()
    client = make_client()
    headers = {**bearer(client, *new_client(org.database, org.id)), **JSON}
    huge = "9" * 4301  # past the standard library's limit on the digits of an integer
    valid = json.dumps(event("user.login", "ann", "2026-10-02T08:00:00Z", id="h1"))[:-1]
    assert refused(client.post(EVENTS, content=f"[{valid}, \"ext\": {huge}}}]", headers=headers)) == [
        ("body", "invalid.json")]
    as_time = valid.replace('"2026-10-02T08:00:00Z"', huge)
    assert refused(client.post(EVENTS, content=f"[{as_time}}}]", headers=headers)) == [("body", "invalid.json")]
    assert refused(client.post(VOIDS, content=f'[{{"source": "s", "id": "i", "reason": {huge}}}]',
                               headers=headers)) == [("body", "invalid.json")]
    # Within it, an attribute billable does not bill by is ignored.
    assert client.post(EVENTS, content=f"[{valid}, \"ext\": 1{'0' * 300}}}]", headers=headers).json()["accepted"] == 1
    assert [e["id"] for e in client.get(EVENTS, headers=headers).json()["entities"]] == ["h1"]


def test_every_body_is_limited_before_it_is_read(make_org: MakeOrg, make_client: MakeClient) -> None:
    """Also a body the framework reads for a route before the token is checked."""
    org = make_org()
    client = make_client(max_body_bytes=1024)
    headers = bearer(client, *new_client(org.database, org.id))
    padded = {"startDate": "2026-10-01", "endDate": "2026-11-01", "pad": ""}
    size = len(json.dumps(padded).encode())
    at_limit = {**padded, "pad": "x" * (1024 - size)}
    assert len(json.dumps(at_limit).encode()) == 1024
    assert client.post("/api/v2/billing/periods", content=json.dumps(at_limit), headers=JSON).status_code == 401
    past = json.dumps({**at_limit, "pad": "x" * (1025 - size)})
    for sent_headers in (JSON, {**JSON, **headers}):
        assert refused(client.post("/api/v2/billing/periods", content=past, headers=sent_headers), 413) == []
    form = "grant_type=client_credentials&client_id=nobody&client_secret="
    login = {"content-type": "application/x-www-form-urlencoded"}
    assert client.post("/oauth/token", content=form + "s" * (1024 - len(form)), headers=login).status_code == 401
    assert refused(client.post("/oauth/token", content=form + "s" * (1025 - len(form)), headers=login), 413) == []

    def streamed(size: int) -> Any:  # no Content-Length: counted as it arrives
        yield b"[" + b" " * (size - 2)
        yield b"]"

    assert client.post(EVENTS, content=streamed(1024), headers={**JSON, **headers}).json() == {
        "accepted": 0, "duplicates": 0}  # read whole: an empty batch
    assert refused(client.post(EVENTS, content=streamed(1025), headers={**JSON, **headers}), 413) == []
    assert refused(client.post(VOIDS, content=streamed(1025), headers={**JSON, **headers}), 413) == []
