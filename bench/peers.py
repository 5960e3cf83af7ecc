"""The billable usage totals computed by two peers straight from the raw events.

Each peer reads the same raw events the service ingested (duplicates and late arrivals
included, arrival order = line order) and applies billing-rules.md on its own: a DuckDB
query and a plain pandas script. They give one total per usage name, as the report
writes it, for the usages that have at least one resource; the benchmark checks both
against the service.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from billable.rules.catalog import Catalog, LicensingModel

WINDOW_MS = 30 * 60 * 1000
HOUR_MS = 3_600_000


def load_duckdb(path: str) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB holding the raw events of the NDJSON file at ``path``."""
    con = duckdb.connect()
    con.execute(
        """
        CREATE TABLE raw AS
        SELECT row_number() OVER () AS seq, source, id, type, subject,
               epoch_ms(CAST(time AS TIMESTAMPTZ)) AS t,
               data.product AS product, data.deviceType AS device_type
        FROM read_json(?, format = 'newline_delimited',
                       columns = {source: 'VARCHAR', id: 'VARCHAR', type: 'VARCHAR', subject: 'VARCHAR',
                                  time: 'VARCHAR', data: 'STRUCT(product VARCHAR, deviceType VARCHAR, email VARCHAR)'})
        """,
        [path],
    )
    return con


def _catalog_frame(catalog: Catalog, model: LicensingModel) -> pd.DataFrame:
    return pd.DataFrame(
        [(p.name, p.family, p.rank, p.model_under(model).value) for p in catalog.user_products],
        columns=["product", "family", "rank", "model"],
    )


def _hours(milliseconds: int) -> str:
    centi = (2 * int(milliseconds) + 36_000) // 72_000  # hours to 2 decimals, half up
    return f"{centi // 100}.{centi % 100:02d}"


# The part every model needs: intervals, the users charged per product. Each model's query
# adds only what its report computes (a peer does the same work as the service, no more).
_CHARGED = """
WITH events AS (
    SELECT * FROM raw QUALIFY row_number() OVER (PARTITION BY source, id ORDER BY seq) = 1
),
-- Sessions and holdings: an interval opens where the state goes from out to in and
-- closes where it goes back; a still-open interval runs to the cut-off.
switches AS (
    SELECT subject, NULL AS product, t, seq, type = 'user.login' AS now_in FROM events
    WHERE type IN ('user.login', 'user.logout')
    UNION ALL
    SELECT subject, product, t, seq, type = 'license.assigned' FROM events
    WHERE type IN ('license.assigned', 'license.unassigned')
),
changes AS (
    SELECT * FROM (
        SELECT *, lag(now_in, 1, false) OVER (PARTITION BY subject, product ORDER BY t, seq) AS was_in
        FROM switches
    ) WHERE now_in <> was_in
),
intervals AS (
    SELECT subject, product, greatest(t, $start) AS s,
           least(coalesce(lead(t) OVER (PARTITION BY subject, product ORDER BY t, seq), $cut), $cut) AS e,
           now_in
    FROM changes
),
clipped AS (SELECT subject, product, s, e FROM intervals WHERE now_in AND s < e),
sessions AS (SELECT subject, s, e FROM clipped WHERE product IS NULL),
charged AS (
    SELECT held.subject, c.product, c.model
    FROM (SELECT subject, family, max(rank) AS rank FROM clipped JOIN catalog c USING (product) GROUP BY ALL) held
    JOIN catalog c USING (family, rank)
    WHERE held.subject IN (SELECT subject FROM sessions)
)"""
_DEVICES = """
UNION ALL
SELECT device_type, 'device', count(DISTINCT subject), 0, 0 FROM events
WHERE type = 'device.active' AND t >= $start AND t < $cut GROUP BY device_type
"""
# Named: users charged per product.
NAMED_QUERY = _CHARGED + """
SELECT product AS name, model, count(*) AS users, 0 AS peak, 0 AS milliseconds FROM charged GROUP BY ALL
""" + _DEVICES
# Concurrent: the 30-minute peak of the charged users' sessions per product under the model.
CONCURRENT_QUERY = _CHARGED + f""",
charged_sessions AS (
    SELECT c.product, s.s, s.e FROM sessions s JOIN charged c USING (subject) WHERE c.model = 'concurrent'
),
deltas AS (
    SELECT product, t, sum(d) AS d FROM (
        SELECT product, s AS t, 1 AS d FROM charged_sessions
        UNION ALL SELECT product, e, -1 FROM charged_sessions
        UNION ALL SELECT product, $start, 0 FROM (SELECT DISTINCT product FROM charged_sessions)
    ) GROUP BY ALL
),
levels AS (
    SELECT product, sum(d) OVER (PARTITION BY product ORDER BY t) AS level,
           lead(t, 1, $cut) OVER (PARTITION BY product ORDER BY t) AS e
    FROM deltas
),
-- The lowest level over the 30 minutes before each point where the level changes.
windows AS (
    SELECT product, e, min(level) OVER (PARTITION BY product ORDER BY e
                                        RANGE BETWEEN {WINDOW_MS - 1} PRECEDING AND CURRENT ROW) AS low
    FROM levels WHERE e <= $cut
),
peaks AS (SELECT product, max(low) AS peak FROM windows WHERE e >= $start + {WINDOW_MS} GROUP BY product)
SELECT c.product AS name, c.model, count(*) AS users, coalesce(any_value(p.peak), 0) AS peak, 0 AS milliseconds
FROM charged c LEFT JOIN peaks p USING (product) GROUP BY c.product, c.model
""" + _DEVICES
# Hourly: the charged users' logged-in time per product under the model.
HOURLY_QUERY = _CHARGED + """,
hours AS (
    SELECT c.product, sum(s.e - s.s) AS milliseconds
    FROM sessions s JOIN charged c USING (subject) WHERE c.model = 'hourly' GROUP BY c.product
)
SELECT c.product AS name, c.model, count(*) AS users, 0 AS peak, coalesce(any_value(h.milliseconds), 0) AS milliseconds
FROM charged c LEFT JOIN hours h USING (product) GROUP BY c.product, c.model
""" + _DEVICES
QUERIES = {LicensingModel.NAMED: NAMED_QUERY, LicensingModel.CONCURRENT: CONCURRENT_QUERY,
           LicensingModel.HOURLY: HOURLY_QUERY}


def _totals(rows: list[tuple[str, str, int, int, int]]) -> dict[str, str]:
    found = {}
    for name, model, users, peak, milliseconds in rows:
        if model == LicensingModel.CONCURRENT.value:
            found[name] = str(int(peak))
        elif model == LicensingModel.HOURLY.value:
            found[name] = _hours(milliseconds)
        else:
            found[name] = str(int(users))
    return found


def duckdb_totals(con: duckdb.DuckDBPyConnection, catalog: Catalog, model: LicensingModel, start: int, cut: int
                  ) -> dict[str, str]:
    """The report's totals by the DuckDB query of ``model`` over the raw events."""
    con.register("catalog", _catalog_frame(catalog, model))
    rows = con.execute(QUERIES[model], {"start": start, "cut": cut}).fetchall()
    return _totals(rows)


def pandas_totals(raw: pd.DataFrame, catalog: Catalog, model: LicensingModel, start: int, cut: int) -> dict[str, str]:
    """The report's totals by a straightforward pandas script over the raw events."""
    products = _catalog_frame(catalog, model)
    events = raw.sort_values("seq").drop_duplicates(["source", "id"], keep="first")
    logins = events[events.type.isin(["user.login", "user.logout"])].assign(product=None)
    licenses = events[events.type.isin(["license.assigned", "license.unassigned"])]
    switches = pd.concat([logins, licenses]).assign(now_in=lambda f: f.type.isin(["user.login", "license.assigned"]))
    switches["product"] = switches["product"].fillna("")
    switches = switches.sort_values(["subject", "product", "t", "seq"])
    keys = [switches.subject, switches["product"]]
    switches["was_in"] = switches.groupby(keys).now_in.shift(1, fill_value=False)
    changes = switches[switches.now_in != switches.was_in].copy()
    changes["next_t"] = changes.groupby([changes.subject, changes["product"]]).t.shift(-1).fillna(cut)
    changes["s"] = changes.t.clip(lower=start)
    changes["e"] = changes.next_t.clip(upper=cut).astype("int64")
    clipped = changes[changes.now_in & (changes.s < changes.e)]
    sessions = clipped[clipped["product"] == ""]
    holdings = clipped[clipped["product"] != ""].merge(products, on="product")

    held = holdings.groupby(["subject", "family"], as_index=False)["rank"].max()
    held = held[held.subject.isin(sessions.subject)]
    charged = held.merge(products, on=["family", "rank"])
    found = {}
    for (product, product_model), users in charged.groupby(["product", "model"]):
        if product_model == LicensingModel.NAMED.value:
            found[product] = str(len(users))
            continue
        own = sessions[sessions.subject.isin(users.subject)]
        if product_model == LicensingModel.HOURLY.value:
            found[product] = _hours((own.e - own.s).sum())
            continue
        deltas = pd.concat([pd.Series(1, index=own.s), pd.Series(-1, index=own.e), pd.Series(0, index=[start])])
        levels = deltas.groupby(level=0).sum().cumsum()
        ends = np.append(levels.index[1:], cut)
        steps = pd.Series(levels.values, index=pd.to_datetime(ends, unit="ms"))[ends <= cut]
        lows = steps.rolling(f"{WINDOW_MS}ms").min()
        valid = lows[lows.index >= pd.to_datetime(start + WINDOW_MS, unit="ms")]
        found[product] = str(int(valid.max())) if len(valid) else "0"
    devices = events[(events.type == "device.active") & (events.t >= start) & (events.t < cut)]
    for device_type, count in devices.groupby("device_type").subject.nunique().items():
        found[device_type] = str(count)
    return found
