"""The ten worked examples of billing-rules.md, section 9, as data.

Each gives the organization's model, the events, and the expected usages as
``{name: (totalUsage, [(resource name, date), ...])}``.
"""

from __future__ import annotations

from typing import Any

from conftest import event

OCTOBER = ("2026-10-01T00:00:00.000Z", "2026-11-01T00:00:00.000Z")
Expected = dict[str, tuple[str, list[tuple[str, str]]]]


def day(time: str, date: str = "2026-10-01") -> str:
    return f"{date}T{time}:00.000Z"


def upgrade_mid_period() -> tuple[str, list[dict[str, Any]], Expected]:
    events = [
        event("license.assigned", "ann", "2026-09-01T00:00:00Z", product="cx1", email="ann@example.com"),
        event("license.unassigned", "ann", "2026-10-15T09:00:00Z", product="cx1"),
        event("license.assigned", "ann", "2026-10-15T09:00:00Z", product="cx3"),
        event("user.login", "ann", "2026-10-02T08:00:00Z"),
        event("user.logout", "ann", "2026-10-02T12:00:00Z"),
    ]
    return "named", events, {"cx3": ("1", [("ann@example.com", "2026-10-02T08:00:00.000Z")])}


def session_across_start() -> tuple[str, list[dict[str, Any]], Expected]:
    events = [
        event("license.assigned", "bob", "2026-09-01T00:00:00Z", product="cx2"),
        event("user.login", "bob", "2026-09-30T22:00:00Z"),
        event("user.logout", "bob", "2026-10-01T02:00:00Z"),
    ]
    return "named", events, {"cx2": ("1", [("bob", "2026-10-01T00:00:00.000Z")])}


def license_after_logging_off() -> tuple[str, list[dict[str, Any]], Expected]:
    events = [
        event("user.login", "cid", day("08:00")),
        event("user.logout", "cid", day("09:00")),
        event("license.assigned", "cid", day("10:00"), product="communicate"),
    ]
    return "named", events, {"communicate": ("1", [("cid", day("08:00"))])}


def never_logged_in() -> tuple[str, list[dict[str, Any]], Expected]:
    events = [event("license.assigned", "dee", "2026-09-01T00:00:00Z", product="cx3")]
    return "named", events, {}


def add_on_family() -> tuple[str, list[dict[str, Any]], Expected]:
    events = [
        event("license.assigned", "eve", "2026-09-01T00:00:00Z", product="cx1"),
        event("license.assigned", "eve", "2026-09-01T00:00:00Z", product="wem2"),
        event("user.login", "eve", day("08:00", "2026-10-05")),
        event("user.logout", "eve", day("09:00", "2026-10-05")),
    ]
    date = day("08:00", "2026-10-05")
    return "named", events, {"cx1": ("1", [("eve", date)]), "wem2": ("1", [("eve", date)])}


def _five_cx1_users(join_until: str) -> list[dict[str, Any]]:
    events = []
    for user in ("u1", "u2", "u3", "u4", "u5"):
        events.append(event("license.assigned", user, "2026-09-01T00:00:00Z", product="cx1"))
    for user in ("u1", "u2", "u3"):
        events += [event("user.login", user, day("09:00")), event("user.logout", user, day("11:00"))]
    for user in ("u4", "u5"):
        events += [event("user.login", user, day("10:00")), event("user.logout", user, day(join_until))]
    return events


def _five_resources() -> list[tuple[str, str]]:
    return [(u, day("09:00")) for u in ("u1", "u2", "u3")] + [(u, day("10:00")) for u in ("u4", "u5")]


def concurrent_short_peak() -> tuple[str, list[dict[str, Any]], Expected]:
    return "concurrent", _five_cx1_users("10:20"), {"cx1": ("3", _five_resources())}


def concurrent_exactly_thirty_minutes() -> tuple[str, list[dict[str, Any]], Expected]:
    return "concurrent", _five_cx1_users("10:30"), {"cx1": ("5", _five_resources())}


def hourly() -> tuple[str, list[dict[str, Any]], Expected]:
    events = [
        event("license.assigned", "gus", "2026-09-01T00:00:00Z", product="cx2"),
        event("user.login", "gus", day("08:00", "2026-10-06")),
        event("user.logout", "gus", day("16:20", "2026-10-06")),
        event("user.login", "gus", day("08:00", "2026-10-07")),
        event("user.logout", "gus", day("08:10", "2026-10-07")),
    ]
    return "hourly", events, {"cx2": ("8.50", [("gus", day("08:00", "2026-10-06"))])}


def duplicate_login() -> tuple[str, list[dict[str, Any]], Expected]:
    # One session 08:00-10:00: under the hourly model that is exactly 2 hours.
    events = [
        event("license.assigned", "fay", "2026-09-01T00:00:00Z", product="cx1"),
        event("user.login", "fay", day("08:00")),
        event("user.login", "fay", day("09:00")),
        event("user.logout", "fay", day("10:00")),
        event("user.logout", "fay", day("11:00")),
    ]
    return "hourly", events, {"cx1": ("2.00", [("fay", day("08:00"))])}


def devices() -> tuple[str, list[dict[str, Any]], Expected]:
    events = [
        event("device.active", "e-1", "2026-10-03T05:00:00Z", deviceType="edge"),
        event("device.active", "e-1", "2026-10-04T05:00:00Z", deviceType="edge"),
        event("device.active", "p-1", "2026-09-30T23:59:00Z", deviceType="phone"),
    ]
    return "named", events, {"edge": ("1", [("e-1", "2026-10-03T05:00:00.000Z")])}


WORKED_EXAMPLES = [
    upgrade_mid_period,
    session_across_start,
    license_after_logging_off,
    never_logged_in,
    add_on_family,
    concurrent_short_peak,
    concurrent_exactly_thirty_minutes,
    hourly,
    duplicate_login,
    devices,
]
