"""The benchmark: one data set, one database, one table (docs/performance.md).

    .venv/bin/python bench/benchmark.py --size M --database sqlite

What it does, printing progress on standard error:

1. generates the data set (bench/data/<size>.ndjson, reused when present);
2. loads it into a fresh database with `billable ingest` and times that;
3. times the billable report (named, concurrent and hourly model; month and one day;
   nothing cached; the median of --repeat runs) in this process;
4. computes the same totals with DuckDB and with pandas from the raw events, one query or
   script per model that computes that model's report and no more, times them the same
   way, and checks that all three agree;
5. starts `billable serve` on the loaded database: computes the month report once and
   reads the server's peak memory, then loads the cached report from a separate process
   (bench/load.py): as fast as it answers, and at a fixed 500 requests/s;
6. ingests the first --http-events events over HTTP in batches of 10,000 into a fresh
   database, one client;
7. prints the table, with ratios and targets.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy
from sqlalchemy import delete, func, select

sys.path.insert(0, str(Path(__file__).parent))
import peers  # noqa: E402

from billable.generator import Workload, generate  # noqa: E402
from billable.rules.catalog import Catalog, LicensingModel  # noqa: E402
from billable.rules.instants import Period, parse_instant  # noqa: E402
from billable.service.organizations import change_model  # noqa: E402
from billable.service.reports import billable_usage_report, concurrent_usage_report  # noqa: E402
from billable.store.database import Database  # noqa: E402
from billable.store.organizations import get_organization  # noqa: E402
from billable.store.tables import arrivals, computed_reports  # noqa: E402

HERE = Path(__file__).parent
DATA = HERE / "data"
SIZES = {"S": 1_000, "M": 10_000, "L": 100_000}
START = "2026-10-01"
MONTH = Period(parse_instant("2026-10-01", allow_date=True), parse_instant("2026-11-01", allow_date=True))
DAY = Period(parse_instant("2026-10-15", allow_date=True), parse_instant("2026-10-16", allow_date=True))
PERIODS = {"month": MONTH, "day": DAY}
MODELS = (LicensingModel.NAMED, LicensingModel.CONCURRENT, LicensingModel.HOURLY)
PROGRAM = str(Path(sys.executable).with_name("billable"))
SERVING_PROCESSES = 2  # `billable serve --workers` for the cached report's load: one a core here
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
# A Citus coordinator with its workers added (docs/operating.md): each run gets a schema there.
CITUS = os.environ.get("BILLABLE_BENCH_CITUS_URL", "postgresql://postgres@127.0.0.1:9700/postgres")
TARGETS = {  # (size, what) -> target in ms, from the spec's performance.md (v1, in-process; they stay met)
    ("M", "named month"): 500, ("L", "named month"): 3000,
    ("M", "concurrent month"): 1000, ("L", "concurrent month"): 6000,
}
FIRST_OVER_HTTP = {  # (size, model) -> target in ms for the first request over HTTP (v2)
    ("M", LicensingModel.NAMED): 100, ("L", LicensingModel.NAMED): 1000,
    ("M", LicensingModel.CONCURRENT): 300, ("L", LicensingModel.CONCURRENT): 3000,
}


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def median_of(repeat: int, work: Callable[[], Any]) -> tuple[float, Any]:
    """The median of ``repeat`` runs in milliseconds, and the last result: the same measure
    for the service and its peers (performance.md, "Peers do the same work")."""
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = work()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), result


# ---------------------------------------------------------------------------- data and databases

def data_set(size: str) -> Path:
    path = DATA / f"{size}.ndjson"
    if path.exists():
        return path
    DATA.mkdir(exist_ok=True)
    say(f"generating {size} ({SIZES[size]:,} users) into {path}")
    partial = path.with_suffix(".partial")
    with partial.open("w") as out:
        for event in generate(Workload(users=SIZES[size], days=31, start=parse_instant(START, allow_date=True))):
            out.write(json.dumps(event, separators=(",", ":")) + "\n")
    partial.rename(path)
    return path


def fresh_database(kind: str, name: str) -> str:
    """The URL of a new, empty database called ``name`` (on Citus: a schema of the coordinator's)."""
    if kind == "sqlite":
        for suffix in ("", "-wal", "-shm", "-ratelimit"):
            Path(f"{DATA / name}.db{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{DATA / name}.db"
    import psycopg

    if kind == "citus":
        with psycopg.connect(CITUS, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
            admin.execute(f'CREATE SCHEMA "{name}"')
        return f"{CITUS}?options=-csearch_path%3D{name}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def billable(url: str, *args: str) -> dict[str, Any]:
    done = subprocess.run([PROGRAM, "--database", url, *args], capture_output=True, text=True, check=True)
    return json.loads(done.stdout) if done.stdout.strip() else {}


def new_organization(url: str, kind: str, model: str = "concurrent") -> tuple[str, str, str]:
    """A migrated database (distributed on Citus) with one organization and one client:
    (org, client id, secret)."""
    billable(url, "db", "upgrade")
    if kind == "citus":
        billable(url, "db", "distribute")
    org = billable(url, "orgs", "create", "--name", "benchmark", "--model", model)["id"]
    client = billable(url, "clients", "create", "--org", org, "--permission", "billing:subscription:view",
                      "--permission", "billing:usage:ingest")
    return org, client["clientId"], client["clientSecret"]


def count_lines(path: Path) -> int:
    with path.open("rb") as stream:
        return sum(1 for _ in stream)


# ---------------------------------------------------------------------------- the server

@contextmanager
def server(url: str, workers: int = 1) -> Iterator[tuple[str, int]]:
    """`billable serve` on the database at ``url`` with ``workers`` processes: its base URL
    and process id (with several, the id of the process that starts them)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {**os.environ, "BILLABLE_DATABASE_URL": url, "BILLABLE_RATE_LIMIT_PER_MINUTE": "100000000",
                   "BILLABLE_REPORT_BUDGET_SECONDS": "600"}
    process = subprocess.Popen([PROGRAM, "serve", "--port", str(port), "--workers", str(workers)], env=environment,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                httpx.get(f"{base}/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.1)
        yield base, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def token(base: str, client_id: str, secret: str) -> str:
    answer = httpx.post(f"{base}/oauth/token", auth=(client_id, secret), data={"grant_type": "client_credentials"})
    answer.raise_for_status()
    issued: str = answer.json()["access_token"]
    return issued


def memory_mib(pid: int, field: str) -> float:
    """A memory figure of /proc/<pid>/status: VmHWM (the high-water mark of all resident
    memory, SQLite's memory-mapped database file included) or RssAnon (private memory now)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field}")


@contextmanager
def private_peak(pid: int) -> Iterator[list[float]]:
    """Samples the private memory of ``pid`` every 10 ms while the block runs; the list
    holds the highest figure afterwards."""
    import threading

    peak, done = [0.0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            try:
                peak[0] = max(peak[0], memory_mib(pid, "RssAnon"))
            except (OSError, RuntimeError):  # the process has ended
                return
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        yield peak
    finally:
        done.set()
        sampler.join()


def load(url: str, bearer: str, seconds: float, *options: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, str(HERE / "load.py"), url, f"--token={bearer}", "--seconds", str(seconds),
                           *options], capture_output=True, text=True, check=True)
    figures: dict[str, float] = json.loads(done.stdout)
    return figures


# ---------------------------------------------------------------------------- the measurements

@dataclasses.dataclass
class Row:
    what: str
    service: str
    duckdb: str = ""
    pandas: str = ""
    target: str = ""
    met: str = ""


def measure_reports(url: str, org_id: str, path: Path, repeat: int, rows: list[Row], size: str,
                    with_peers: bool = True) -> bool:
    """Report times of the service and both peers; whether all agree."""
    database, catalog = Database(url), Catalog.load()
    with database.read() as conn:
        org = get_organization(conn, org_id)
    if with_peers:
        say("loading the raw events into DuckDB and pandas (not timed)")
        con = peers.load_duckdb(str(path))
        frame = con.table("raw").df()
    now = int(time.time() * 1000)
    agree = True
    for model in MODELS:
        as_model = dataclasses.replace(org, model=model)
        for period_name, period in PERIODS.items():
            what = f"{model.value} {period_name}"
            say(f"report: {what}")

            def service_report() -> dict[str, str]:
                with database.read() as conn:
                    report = billable_usage_report(conn, as_model, period, catalog, now)
                return {u.name: u.total_usage for u in report.usages}

            start, cut = period.start, period.cut_off(now)
            ours, mine = median_of(repeat, service_report)
            if not with_peers:
                target = TARGETS.get((size, what))
                rows.append(Row(f"report {what} (ms)", f"{ours:,.0f}", "not run", "not run",
                                f"≤ {target:,}" if target else "", _met(target is None or ours <= target)))
                continue
            duck, by_duckdb = median_of(repeat, lambda: peers.duckdb_totals(con, catalog, model, start, cut))
            pan, by_pandas = median_of(repeat, lambda: peers.pandas_totals(frame, catalog, model, start, cut))
            for peer, totals in (("DuckDB", by_duckdb), ("pandas", by_pandas)):
                if totals != mine:
                    agree = False
                    differ = sorted(k for k in mine.keys() | totals.keys() if mine.get(k) != totals.get(k))
                    say(f"DISAGREE {what}: {peer} differs on {[(k, mine.get(k), totals.get(k)) for k in differ]}")
            target = TARGETS.get((size, what))
            missed = [reason for reason, failed in (
                ("time", target is not None and ours > target),
                ("over half of DuckDB's time", ours * 2 > duck),
                (f"only {pan / ours:.1f}× faster than pandas", ours * 10 > pan)) if failed]
            rows.append(Row(f"report {what} (ms)", f"{ours:,.0f}", f"{duck:,.0f} ({ours / duck:.2f}×)",
                            f"{pan:,.0f} ({ours / pan:.3f}×)", f"≤ {target:,}; peers" if target else "peers",
                            "no: " + ", ".join(missed) if missed else "yes"))
    # The concurrent usage report (each day's peak, minutes at it and hours logged in):
    # no peer computes it, and it has no target of its own.
    concurrent = dataclasses.replace(org, model=LicensingModel.CONCURRENT)

    def usage_by_day() -> int:
        with database.read() as conn:
            return len(concurrent_usage_report(conn, concurrent, MONTH, catalog, now).products)

    ours, _ = median_of(repeat, usage_by_day)
    rows.append(Row("concurrent usage report, month, each day's peak (ms)", f"{ours:,.0f}"))
    database.dispose()
    return agree


def measure_voids(url: str, org_id: str, path: Path, rows: list[Row], count: int = 10_000, seed: int = 7) -> bool:
    """Voiding ``count`` events of the loaded log, against ingesting ``count``: the same
    events again under new ids, which are late events for the very keys the void rebuilt
    (so both rebuild the same sessions, holdings and device days). Each in one transaction,
    in this process. Afterwards the log bills exactly what it billed before: checked."""
    import random

    from billable.rules.voids import VoidRequest
    from billable.service.ingestion import ingest
    from billable.service.voids import void_events

    total = count_lines(path)
    chosen = set(random.Random(seed).sample(range(total), count))
    picked, seen = [], set()
    with path.open() as stream:  # the stored event of a key is its first occurrence: only those are picked
        for number, line in enumerate(stream):
            found = json.loads(line)
            key = (found["source"], found["id"])
            if number in chosen and key not in seen:
                picked.append(found)
            seen.add(key)
    database, catalog, now = Database(url), Catalog.load(), int(time.time() * 1000)

    def report() -> dict[str, str]:
        with database.read() as conn:
            found = billable_usage_report(conn, get_organization(conn, org_id), MONTH, catalog, now)
        return {u.name: u.total_usage for u in found.usages}

    before = report()
    count = len(picked)
    say(f"voiding {count:,} events")
    began = time.perf_counter()
    with database.write() as conn:
        void_events(conn, org_id, [VoidRequest(e["source"], e["id"], "benchmark") for e in picked], "bench", now)
    voided = time.perf_counter() - began
    say(f"ingesting the same {count:,} events under new ids")
    began = time.perf_counter()
    with database.write() as conn:
        ingest(conn, org_id, [{**e, "id": e["id"] + "-again"} for e in picked], catalog, now)
    ingested = time.perf_counter() - began
    same = report() == before
    if not same:
        say("VOIDS: the report after voiding and sending the events again differs from before")
    database.dispose()
    rows.append(Row(f"void {count:,} events of the log, one request (ms)", f"{voided * 1000:,.0f}",
                    target=f"≤ ingesting {count:,}: {ingested * 1000:,.0f} ms", met=_met(voided <= ingested, same)))
    return same


def measure_as_of(url: str, org_id: str, client_id: str, secret: str, seconds: float, repeat: int, rows: list[Row]
                  ) -> None:
    """A report as of an earlier instant against the current one (the instant the last tenth
    of the log arrived after: the keys it touched are walked again); then the cached report
    of a closed period against the live one, over HTTP."""
    from sqlalchemy import text

    from billable.service.periods import close_period
    from billable.store.periods import list_closed

    database, catalog, now = Database(url), Catalog.load(), int(time.time() * 1000)
    with database.read() as conn:
        org = get_organization(conn, org_id)
        a = arrivals.c  # the commit of the event nine tenths into the log
        tenth = conn.execute(select(a.received_at).where(a.org_id == org_id, a.seq >= org.last_seq * 9 // 10)
                             .order_by(a.seq).limit(1)).scalar_one()
    for model in (LicensingModel.NAMED, LicensingModel.CONCURRENT):
        as_model = dataclasses.replace(org, model=model)

        def report(as_of: int | None) -> int:
            with database.read() as conn:
                return len(billable_usage_report(conn, as_model, MONTH, catalog, now, as_of).usages)

        say(f"report as of the instant before the last tenth of the log, {model.value} month")
        current, _ = median_of(repeat, lambda: report(None))
        then, _ = median_of(repeat, lambda: report(tenth))
        rows.append(Row(f"report {model.value} month as of before the last tenth of the log (ms)",
                        f"{then:,.0f} (current: {current:,.0f}; {then / current:.1f}×)", target="≤ 3× the current",
                        met=_met(then <= 3 * current)))
    query = urllib.parse.urlencode({"startDate": "2026-10-01T00:00:00.000Z", "endDate": "2026-11-01T00:00:00.000Z"})
    with server(url) as (base, _):
        bearer = token(base, client_id, secret)
        route = f"{base}/api/v2/billing/reports/billableusage?{query}"
        httpx.get(route, headers={"Authorization": f"Bearer {bearer}"}, timeout=600).raise_for_status()
        say("server: the live month report, cached, 8 connections")
        live = load(route, bearer, seconds, "--connections", "8", "--gzip")
        with database.write() as conn:
            if not list_closed(conn, org_id):
                close_period(conn, org_id, MONTH, catalog, now, "bench")
        say("server: the closed month report, 8 connections")
        kept = load(route, bearer, seconds, "--connections", "8", "--gzip")
    with database.write() as conn:  # reopened, which only the benchmark does: a --reuse run times the live month
        conn.execute(text("DELETE FROM closed_periods WHERE org_id = :org"), {"org": org_id})
    database.dispose()
    ratio = kept["requests_per_second"] / live["requests_per_second"]
    rows.append(Row("closed month report, 8 connections: req/s (p50 / p99 ms)",
                    f"{kept['requests_per_second']:,.0f} ({kept['p50_ms']} / {kept['p99_ms']}); cached live: "
                    f"{live['requests_per_second']:,.0f} ({ratio:.2f}×)", target="as fast as a cached one",
                    met=_met(ratio >= 0.9 and kept["errors"] == 0)))


def _met(*conditions: bool) -> str:
    return "yes" if all(conditions) else "no"


def measure_server(url: str, org_id: str, client_id: str, secret: str, seconds: float, rows: list[Row], size: str
                   ) -> None:
    query = urllib.parse.urlencode({"startDate": "2026-10-01T00:00:00.000Z", "endDate": "2026-11-01T00:00:00.000Z"})
    database = Database(url)  # a reused database keeps the reports an earlier run stored: the first request computes
    with database.write() as conn:
        conn.execute(delete(computed_reports).where(computed_reports.c.org_id == org_id))
    firsts: dict[LicensingModel, float] = {}
    # One client for the first requests: making an httpx client takes 17-30 ms here (its TLS
    # context), which is the client's cost, not the server's.
    with server(url) as (base, pid), httpx.Client(timeout=600) as client:
        bearer = token(base, client_id, secret)
        route = f"{base}/api/v2/billing/reports/billableusage?{query}"
        before = memory_mib(pid, "VmHWM")
        # Each model's month report, computed by the first request for it: a report stored
        # under one model is not served under another. The last one, named, stays cached.
        with private_peak(pid) as private:
            for model in (LicensingModel.CONCURRENT, LicensingModel.HOURLY, LicensingModel.NAMED):
                with database.write() as conn:
                    change_model(conn, org_id, model.value)
                say(f"server: computing the {model.value} month report once")
                began = time.perf_counter()
                first = client.get(route, headers={"Authorization": f"Bearer {bearer}"})
                first.raise_for_status()
                firsts[model] = (time.perf_counter() - began) * 1000
        peak = memory_mib(pid, "VmHWM")
    # The cached report from two server processes, as deployed on a machine of two cores
    # (the load generator is a third process on the same two). The official SDK sends no
    # Accept-Encoding; httpx (our SDK) and browsers ask for gzip.
    with server(url, workers=SERVING_PROCESSES) as (base, _):
        bearer = token(base, client_id, secret)
        route = f"{base}/api/v2/billing/reports/billableusage?{query}"
        runs = {}
        for encoding, flags in (("identity", ()), ("gzip", ("--gzip",))):
            say(f"server: cached report ({encoding}), closed loop")
            fastest = load(route, bearer, seconds, "--connections", "8", *flags)
            say(f"server: cached report ({encoding}), 500 requests/s")
            runs[encoding] = fastest, load(route, bearer, seconds, "--rate", "500", *flags)
    database.dispose()
    for model in MODELS:
        target = FIRST_OVER_HTTP.get((size, model))
        rows.append(Row(f"report {model.value} month over HTTP, first request (ms)", f"{firsts[model]:,.0f}",
                        target=f"≤ {target:,}" if target else "", met=_met(target is None or firsts[model] <= target)))
    for encoding, (fastest, steady) in runs.items():
        sent = f"{fastest['body_bytes'] / 1024:,.0f} KiB" + (" gzip" if encoding == "gzip" else "")
        rows.append(Row(f"cached report ({sent}), {SERVING_PROCESSES} server processes, 8 connections: req/s",
                        f"{fastest['requests_per_second']:,.0f}",
                        target="≥ 2,000", met=_met(fastest["requests_per_second"] >= 2000 and fastest["errors"] == 0)))
        rows.append(Row("  … p50 / p99 (ms)", f"{fastest['p50_ms']} / {fastest['p99_ms']}"))
        rows.append(Row(f"cached report ({sent}) at 500 req/s: p50 / p99 (ms)", f"{steady['p50_ms']} / {steady['p99_ms']}",
                        target="p99 ≤ 25", met=_met(steady["p99_ms"] <= 25 and steady["errors"] == 0)))
    rows.append(Row("server peak memory: idle / after the month reports (MiB)", f"{before:,.0f} / {peak:,.0f}",
                    target="≤ 1,024", met=_met(peak <= 1024)))
    rows.append(Row("  … of which private (not the mapped database file): peak (MiB)", f"{private[0]:,.0f}",
                    target="≤ 1,024", met=_met(private[0] <= 1024)))


def _batches_of(lines: Iterator[str], events: int) -> list[bytes]:
    """The first ``events`` NDJSON lines as JSON arrays of 10,000 events."""
    bodies, batch = [], []
    for number, line in enumerate(lines):
        if number >= events:
            break
        batch.append(line.rstrip("\n"))
        if len(batch) == 10_000:
            bodies.append(("[" + ",".join(batch) + "]").encode())
            batch = []
    if batch:
        bodies.append(("[" + ",".join(batch) + "]").encode())
    return bodies


def http_ingestion_seconds(kind: str, name: str, bodies: list[bytes], alerts: int = 0) -> float:
    """Seconds to send ``bodies`` to a server on a fresh database, one after the other; with
    ``alerts``, the organization has that many alerts and a webhook to a receiver on the
    loopback first, and the server evaluates them as it does by default."""
    url = fresh_database(kind, name)
    org, client_id, secret = new_organization(url, kind)
    with receiver() as hook_url:
        if alerts:
            billable(url, "webhooks", "create", "--org", org, "--url", hook_url)
            for number in range(alerts):
                product = ("cx1", "cx2", "cx3", "")[number % 4]
                billable(url, "alerts", "create", "--org", org, *(("--product", product) if product else ()),
                         "--measure", ("billableUsage", "concurrentPeak")[number % 2],
                         "--threshold", str(10 * (number + 1)), "--threshold", str(1000 * (number + 1)))
        with server(url) as (base, _), httpx.Client(timeout=120) as client:
            headers = {"Authorization": f"Bearer {token(base, client_id, secret)}", "Content-Type": "application/json"}
            began = time.perf_counter()
            for body in bodies:
                client.post(f"{base}/api/v2/billing/events", content=body, headers=headers).raise_for_status()
            return time.perf_counter() - began


@contextmanager
def receiver() -> Iterator[str]:
    """A webhook receiver on the loopback that answers 204 to everything: its URL."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802  # the standard library's name
            self.rfile.read(int(self.headers.get("content-length", "0")))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    listening = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=listening.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listening.server_address[1]}/hook"
    finally:
        listening.shutdown()
        listening.server_close()


def measure_http_ingestion(kind: str, size: str, path: Path, events: int, rows: list[Row],
                           floor: float | None = None) -> None:
    with path.open() as stream:
        bodies = _batches_of(stream, events)
    sent = sum(body.count(b'"specversion"') for body in bodies)
    say(f"HTTP ingestion: {sent:,} events in {len(bodies)} batches")
    elapsed = http_ingestion_seconds(kind, f"bench_{size.lower()}_http", bodies)
    rate = sent / elapsed
    if floor is None:
        rows.append(Row(f"ingestion over HTTP, {sent:,} events, batches of 10,000 (events/s)", f"{rate:,.0f}",
                        target="≥ 50,000", met=_met(rate >= 50_000)))
        return
    times_floor = elapsed / (floor * sent / count_lines(path))
    rows.append(Row(f"ingestion over HTTP, {sent:,} events, batches of 10,000 (events/s; × the floor's time)",
                    f"{rate:,.0f} ({times_floor:.1f}×)", target="≥ 50,000 and ≤ 6×",
                    met=_met(rate >= 50_000, times_floor <= 6)))


def measure_alerts_cost(kind: str, size: str, events: int, repeat: int, rows: list[Row]) -> None:
    """HTTP ingestion of the running month's usage with ten alerts and a webhook defined,
    against the same without, alternately, ``repeat`` times each: alerts evaluate the running
    billing period, so the events are generated in it (its whole days so far)."""
    from datetime import datetime, timezone

    today = datetime.now(timezone.utc)
    if today.day == 1:
        say("alerts: the running month has no whole day yet; not measured")
        return
    start = datetime(today.year, today.month, 1, tzinfo=timezone.utc)
    workload = Workload(users=SIZES[size], days=today.day - 1, start=int(start.timestamp() * 1000))
    bodies = _batches_of((json.dumps(e) for e in generate(workload)), events)
    sent = sum(body.count(b'"specversion"') for body in bodies)
    say(f"alerts: {sent:,} events of this month over HTTP, without and with ten alerts, {repeat} times each")
    timings: dict[int, list[float]] = {0: [], 10: []}
    for _ in range(repeat):
        for alerts in (0, 10):
            timings[alerts].append(http_ingestion_seconds(kind, f"bench_{size.lower()}_alerts", bodies, alerts))
            say(f"alerts: {alerts} alert(s): {timings[alerts][-1]:.2f} s")
    plain, alerted = statistics.median(timings[0]), statistics.median(timings[10])
    rows.append(Row(f"ingestion over HTTP with ten alerts and a webhook, {sent:,} events of this month "
                    "(events/s; × without)", f"{sent / alerted:,.0f} ({alerted / plain:.3f}×; without: "
                    f"{sent / plain:,.0f})", target="≤ 1.05×", met=_met(alerted / plain <= 1.05)))


def measure_floor(path: Path) -> float:
    """Seconds the bare floor takes to store ``path`` (bench/floor.py), timed like ``billable ingest``."""
    say("the floor: orjson and one SQLite insert per event")
    began = time.perf_counter()
    subprocess.run([sys.executable, str(HERE / "floor.py"), str(path), str(DATA / "floor.db")], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - began


def measure_cli_ingestion(url: str, org: str, path: Path, rows: list[Row], floor: float | None = None) -> None:
    events = count_lines(path)
    say(f"command-line ingestion of {events:,} events")
    began = time.perf_counter()
    loading = subprocess.Popen([PROGRAM, "--database", url, "ingest", str(path), "--org", org],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with private_peak(loading.pid) as private:
        if loading.wait() != 0:
            raise RuntimeError(f"billable ingest failed (exit code {loading.returncode})")
    elapsed = time.perf_counter() - began
    rate = events / elapsed
    if floor is None:
        rows.append(Row(f"ingestion from the command line, {events:,} events (events/s)",
                        f"{rate:,.0f} ({elapsed:,.0f} s)", target="≥ 100,000", met=_met(rate >= 100_000)))
    else:
        rows.append(Row(f"ingestion from the command line, {events:,} events (events/s; × the floor's {floor:.1f} s)",
                        f"{rate:,.0f} ({elapsed:,.1f} s; {elapsed / floor:.1f}×)", target="≥ 100,000 and ≤ 3×",
                        met=_met(rate >= 100_000, elapsed <= 3 * floor)))
    rows.append(Row("  … peak private memory of `billable ingest` (MiB; not the mapped database file)",
                    f"{private[0]:,.0f}", target="≤ 1,024", met=_met(private[0] <= 1024)))


def stored_bytes(url: str) -> tuple[int, int]:
    """Everything the database holds (the SQLite file after a checkpoint, or
    ``pg_database_size``) and the events of its log."""
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(sqlalchemy.table("events"))).scalar_one()
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                files = [Path(f"{conn.engine.url.database}{suffix}") for suffix in ("", "-wal")]
                return sum(file.stat().st_size for file in files if file.exists()), stored
            return int(conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar_one()), stored
    finally:
        engine.dispose()


def measure_bytes(url: str, rows: list[Row]) -> None:
    size, stored = stored_bytes(url)
    floor = (DATA / "floor.db").stat().st_size
    per_event = size / stored
    rows.append(Row(f"bytes stored per event, everything included ({size / 2**20:,.0f} MiB for {stored:,} events; "
                    f"the floor's SQLite file: {floor / stored:,.0f})", f"{per_event:,.0f}", target="≤ 150",
                    met=_met(per_event <= 150)))


def print_table(size: str, kind: str, rows: list[Row], agree: bool, compared: bool) -> None:
    print(f"\nbillable benchmark: data set {size} ({SIZES[size]:,} users), {kind}, "
          f"{time.strftime('%Y-%m-%d %H:%M')}; peers: time (service/peer); target 'peers': "
          "at most half of DuckDB's time and at least 10× faster than pandas\n")
    print("| measure | billable | DuckDB | pandas | target | met |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row.what} | {row.service} | {row.duckdb} | {row.pandas} | {row.target} | {row.met} |")
    if not compared:
        print("\nThe peers were not run.")
    else:
        print("\nAll three agree on every total." if agree else "\nTHE PEERS DISAGREE WITH THE SERVICE (see above).")


def compare_citus(size: str, path: Path, repeat: int, http_events: int) -> None:
    """The same ingestion and reports on plain PostgreSQL and on Citus, side by side."""
    columns: dict[str, list[Row]] = {}
    for kind in ("postgresql", "citus"):
        say(f"--- {kind}")
        rows: list[Row] = []
        url = fresh_database(kind, f"bench_{size.lower()}_{kind}")
        org, _, _ = new_organization(url, kind)
        measure_cli_ingestion(url, org, path, rows)
        measure_reports(url, org, path, repeat, rows, size, with_peers=False)
        measure_http_ingestion(kind, size, path, http_events, rows)
        columns[kind] = rows
    print(f"\nbillable on Citus beside plain PostgreSQL: data set {size} ({SIZES[size]:,} users), "
          f"{time.strftime('%Y-%m-%d %H:%M')}; the same machine, one coordinator and two workers\n")
    print("| measure | PostgreSQL | Citus | Citus / PostgreSQL |")
    print("|---|---|---|---|")
    for plain, citus in zip(columns["postgresql"], columns["citus"]):
        a, b = (float(r.service.split()[0].replace(",", "")) for r in (plain, citus))
        print(f"| {plain.what} | {plain.service} | {citus.service} | {b / a:.2f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=SIZES, default="S")
    parser.add_argument("--database", choices=("sqlite", "postgresql", "citus"), default="sqlite",
                        help="citus: ingestion and reports on Citus (BILLABLE_BENCH_CITUS_URL) beside plain "
                        "PostgreSQL, in one run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per report time, the service's and each peer's; "
                        "the median counts")
    parser.add_argument("--http-events", type=int, default=200_000, help="events sent over HTTP")
    parser.add_argument("--load-seconds", type=float, default=10)
    parser.add_argument("--reuse", action="store_true",
                        help="use the database loaded by an earlier run (command-line ingestion is not measured)")
    parser.add_argument("--server-only", action="store_true", help="with --reuse: only the cached report and memory")
    parser.add_argument("--no-peers", action="store_true", help="time the service's reports only")
    parser.add_argument("--as-of", action="store_true", help="also time a report as of an earlier instant, and a "
                        "closed period's report over HTTP (it closes October: later runs serve the kept report)")
    parser.add_argument("--alerts", action="store_true", help="also time HTTP ingestion with ten alerts and a webhook "
                        "against the same without (fresh databases)")
    parser.add_argument("--voids", action="store_true", help="also time voiding 10,000 events against ingesting them "
                        "(it changes the log: a later --reuse run starts from it)")
    args = parser.parse_args()
    path = data_set(args.size)
    if args.database == "citus":
        compare_citus(args.size, path, args.repeat, args.http_events)
        return 0
    rows: list[Row] = []
    name = f"bench_{args.size.lower()}"
    state = DATA / f"{name}-{args.database}.json"
    floor = None if args.server_only else measure_floor(path)
    if args.reuse and state.exists():
        url, org, client_id, secret = json.loads(state.read_text())
        billable(url, "db", "upgrade")
    else:
        url = fresh_database(args.database, name)
        org, client_id, secret = new_organization(url, args.database)
        measure_cli_ingestion(url, org, path, rows, floor)
        measure_bytes(url, rows)
        state.write_text(json.dumps([url, org, client_id, secret]))
    agree = args.server_only or measure_reports(url, org, path, args.repeat, rows, args.size, not args.no_peers)
    measure_server(url, org, client_id, secret, args.load_seconds, rows, args.size)
    if args.voids:
        agree = measure_voids(url, org, path, rows) and agree
    if args.as_of:
        measure_as_of(url, org, client_id, secret, args.load_seconds, args.repeat, rows)
    if not args.server_only:
        measure_http_ingestion(args.database, args.size, path, args.http_events, rows, floor)
    if args.alerts:
        measure_alerts_cost(args.database, args.size, args.http_events, args.repeat, rows)
    print_table(args.size, args.database, rows, agree, compared=not (args.server_only or args.no_peers))
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
