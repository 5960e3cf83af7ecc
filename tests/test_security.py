"""Nobody let in who should not be: secrets, timing, isolation between organizations, the
rate limit under a burst. On SQLite and PostgreSQL."""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from conftest import MakeClient, MakeOrg, bearer, event, new_client, running_server

from billable.store.database import Database

REPORT = "/api/v2/billing/reports/billableusage"
OCTOBER = {"startDate": "2026-10-01T00:00:00.000Z", "endDate": "2026-11-01T00:00:00.000Z"}
LOGIN = {"grant_type": "client_credentials"}


def test_a_wrong_secret_takes_as_long_for_an_unknown_client(make_org: MakeOrg, make_client: MakeClient) -> None:
    """Whether a client id exists cannot be told from how long a refusal takes."""
    org = make_org()
    client = make_client()
    client_id, secret = new_client(org.database, org.id)
    timings: dict[str, list[float]] = {"known": [], "unknown": []}
    for attempt in range(16):  # interleaved, so drift in the machine's speed hits both alike
        for kind, identity in (("known", client_id), ("unknown", f"nobody-{attempt}")):
            began = time.perf_counter()
            answer = client.post("/oauth/token", data=LOGIN, auth=(identity, secret + "x"))
            timings[kind].append(time.perf_counter() - began)
            assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"
    known, unknown = statistics.median(timings["known"]), statistics.median(timings["unknown"])
    assert abs(known - unknown) <= 0.25 * max(known, unknown), (known, unknown)
    assert min(known, unknown) > 0.005  # both did the scrypt work


def test_secrets_and_tokens_are_never_logged(make_org: MakeOrg, database: Database) -> None:
    org = make_org()
    client_id, secret = new_client(database, org.id)
    with running_server(database.url) as base:
        token = httpx.post(f"{base}/oauth/token", data=LOGIN, auth=(client_id, secret)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{base}{REPORT}", params=OCTOBER, headers=headers).status_code == 200
        assert httpx.get(f"{base}{REPORT}", params={**OCTOBER, "token": token}, headers=headers).status_code == 200
        assert httpx.post(f"{base}/oauth/token", data=LOGIN, auth=(client_id, secret[:-1])).status_code == 401
        assert httpx.get(f"{base}{REPORT}", params=OCTOBER, headers={"Authorization": f"Bearer {token}x"}).status_code == 401
        for _ in range(100):  # a request's line is written just after its answer is sent
            log = base.log_text()
            if log.count(REPORT) >= 3:
                break
            time.sleep(0.05)
    assert log.count(REPORT) >= 3  # the requests were logged ...
    for clear in (secret, secret[:-1], token, token[:20]):
        assert clear not in log  # ... and nothing that lets anyone in


def test_one_organization_learns_nothing_of_another(make_org: MakeOrg, make_client: MakeClient) -> None:
    """Through every route and parameter: reports, explanations, ingestion of the same keys."""
    mine, theirs = make_org("concurrent"), make_org("concurrent")
    theirs.ingest([event("license.assigned", "ann", "2026-09-01T00:00:00Z", product="cx1", id="k1"),
                   event("user.login", "ann", "2026-10-02T08:00:00Z", id="k2"),
                   event("device.active", "edge-1", "2026-10-02T08:00:00Z", id="k3", deviceType="edge")])
    client = make_client()
    headers = bearer(client, *new_client(mine.database, mine.id))
    assert client.get(REPORT, params=OCTOBER, headers=headers).json()["usages"] == []
    concurrent = client.get("/api/v2/billing/reports/concurrentusage", params=OCTOBER, headers=headers).json()
    assert all(p["peak"] == 0 for p in concurrent["products"])
    explained = client.get(f"{REPORT}/explain", params={**OCTOBER, "userId": "ann"}, headers=headers).json()
    assert explained["reason"] == "unknown.user"  # as for a user nobody ever heard of
    # The other organization's keys are new here: their existence does not show through duplicates.
    same_keys = [event("user.login", "zed", "2026-10-03T08:00:00Z", id=k) for k in ("k1", "k2", "k3")]
    assert client.post("/api/v2/billing/events", json=same_keys, headers=headers).json() == {"accepted": 3, "duplicates": 0}
    # An organization id in the query is not a parameter: the token's organization is used.
    sneaky = client.get(REPORT, params={**OCTOBER, "orgId": theirs.id, "organizationId": theirs.id}, headers=headers)
    assert sneaky.json()["usages"] == []
    their_headers = bearer(client, *new_client(theirs.database, theirs.id))
    usages = client.get(REPORT, params=OCTOBER, headers=their_headers).json()["usages"]
    assert [(u["name"], u["totalUsage"]) for u in usages] == [("cx1", "1"), ("edge", "1")]  # ann is still logged in


def test_the_rate_limit_holds_under_a_burst(make_org: MakeOrg, database: Database) -> None:
    """100 requests at once from 10 threads through two processes: exactly the limit passes."""
    org = make_org()
    client_id, secret = new_client(database, org.id)
    limit = 30
    with running_server(database.url, rate_limit_per_minute=str(limit)) as first, \
            running_server(database.url, rate_limit_per_minute=str(limit)) as second:
        token = httpx.post(f"{first}/oauth/token", data=LOGIN, auth=(client_id, secret)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}

        def one(number: int) -> httpx.Response:
            return httpx.get(f"{(first, second)[number % 2]}{REPORT}", params=OCTOBER, headers=headers, timeout=60)

        with ThreadPoolExecutor(max_workers=10) as pool:
            answers = list(pool.map(one, range(100)))
    statuses = [a.status_code for a in answers]
    assert statuses.count(200) == limit and statuses.count(429) == 100 - limit
    refused = [a for a in answers if a.status_code == 429]
    assert all(1 <= int(a.headers["Retry-After"]) <= 60 for a in refused)
    assert all(a.json()["code"] == "too.many.requests.retry.after" for a in refused)


def test_the_tokens_of_a_client_share_its_rate_limit(make_org: MakeOrg, make_client: MakeClient) -> None:
    """A client that logs in again gets a new token, not a new allowance."""
    org = make_org()
    client = make_client(rate_limit_per_minute=5)
    client_id, secret = new_client(org.database, org.id)
    tokens = [bearer(client, client_id, secret) for _ in range(3)]
    statuses = [client.get(REPORT, params=OCTOBER, headers=tokens[number % 3]).status_code for number in range(15)]
    assert statuses == [200] * 5 + [429] * 10
    other = bearer(client, *new_client(org.database, org.id))  # another client of the organization: its own
    assert [client.get(REPORT, params=OCTOBER, headers=other).status_code for _ in range(6)] == [200] * 5 + [429]


def test_a_login_without_credentials_is_told_to_send_them(make_org: MakeOrg, make_client: MakeClient) -> None:
    """No id or secret (or HTTP Basic that is not one) is not "wrong": the answer says what
    to send. The document declares HTTP Basic for the token route, so that its reference
    pages can ask for a client's id and secret (issue 34, item 12)."""
    org = make_org()
    client = make_client()
    client_id, secret = new_client(org.database, org.id)
    for headers, form in (({}, LOGIN), ({"Authorization": "Basic !!!"}, LOGIN), ({}, {**LOGIN, "client_id": client_id})):
        answer = client.post("/oauth/token", data=form, headers=headers)
        assert answer.status_code == 401 and answer.json()["error"] == "invalid_client", answer.text
        assert answer.json()["error_description"].startswith("send the client id and secret: HTTP Basic")
    assert client.post("/oauth/token", data={**LOGIN, "client_id": client_id, "client_secret": secret}).status_code == 200
    document = client.get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["HTTPBasic"] == {
        "type": "http", "scheme": "basic", "description": "a client's id and secret, for POST /oauth/token"}
    assert document["paths"]["/oauth/token"]["post"]["security"] == [{"HTTPBasic": []}]
