"""Computed reports shared by every server process, and the lease of who computes one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from sqlalchemy import ColumnElement, Connection, and_, bindparam, case, literal, or_, select, update

from billable.rules.errors import NotFound
from billable.store import tokens
from billable.store.direct import DirectStatement
from billable.store.distribution import is_distributed_here
from billable.store.sql import insert_for
from billable.store.tables import closed_periods, computed_reports, organizations

_KEY = ("org_id", "kind", "period_start", "period_end", "subject")


@dataclass(frozen=True)
class ReportKey:
    org_id: str
    kind: str
    period_start: int
    period_end: int
    subject: str = ""

    def where(self) -> ColumnElement[bool]:
        return and_(*(computed_reports.c[name] == value for name, value in self.params().items()))

    def params(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in _KEY}


@dataclass(frozen=True)
class Stamp:
    """Which body of a report: the organization's ``last_seq`` it saw, until when it stays
    fresh (None: for good), and what it was computed under."""

    version: int
    fresh_until: int | None
    computed_under: str


@dataclass(frozen=True)
class Lookup:
    """What is known of a report right now."""

    current_version: int
    current_under: str  # what a body must be computed under now
    stamp: Stamp | None  # of the stored body, when it is still valid now
    body: str | None  # that body, unless the caller already holds the body of this stamp
    computing: bool  # someone holds an unexpired lease on the current version
    closed: bool = False  # the period is closed (store/periods.py): its kept report answers it, not this
    token_valid: bool = False  # the token named to the look-up is valid (store/tokens.py)

    def admits(self, stamp: Stamp, now: int) -> bool:
        """Whether a body of ``stamp`` is current: computed from the current version, under
        what a body must be computed under now, and still fresh."""
        return (stamp.version == self.current_version and stamp.computed_under == self.current_under
                and (stamp.fresh_until is None or stamp.fresh_until > now))


_c = computed_reports.c
_closed = closed_periods.c
_IS_CLOSED = _closed.closed_at.is_not(None)


def _look_up(confirming: bool) -> DirectStatement:
    """The look-up of a report; ``confirming``: with whether a token is valid."""
    return DirectStatement(
        select(
            organizations.c.last_seq,
            organizations.c.model,
            _c.version,
            case((or_(_IS_CLOSED, and_(_c.version == bindparam("held_version"),
                                      _c.fresh_until.is_not_distinct_from(bindparam("held_fresh")),
                                      _c.computed_under == bindparam("held_under"))),
                  None), else_=_c.body).label("body"),
            case((_c.body.is_(None), 0), else_=1).label("stored"),  # integers: a Boolean is converted
            _c.computed_under,
            _c.fresh_until,
            _c.computing_version,
            _c.computing_since,
            _c.computing_under,
            case((_IS_CLOSED, 1), else_=0).label("closed"),
            case((tokens.valid_token(), 1), else_=0).label("token_valid") if confirming else literal(0),
        )
        .select_from(organizations.outerjoin(computed_reports, and_(
            _c.org_id == organizations.c.id, *(_c[name] == bindparam(name) for name in _KEY))).outerjoin(
            closed_periods, and_(_closed.org_id == organizations.c.id, _closed.period_start == bindparam("period_start"),
                                 _closed.period_end == bindparam("period_end"))))
        .where(organizations.c.id == bindparam("org_id"))
    )


# Built once: this runs for every report request, and building a statement costs more
# than running it. ``held_*`` name the body the caller holds (version -1: none); the body
# is not read for a closed period either.
_LOOK_UP, _LOOK_UP_CONFIRMING = _look_up(False), _look_up(True)


def look_up(conn: Connection, key: ReportKey, under: Mapping[str, str], now: int, lease_ms: int,
            held: Stamp | None = None, token_hash: str = "") -> Lookup:
    """The organization's version, and the stored body if it is still valid: computed from
    the current version, under ``under[model]`` for the organization's licensing model.

    A caller that keeps bodies in memory passes the stamp of the one it holds: the body
    is then read only when it changed. A caller that names ``token_hash`` learns whether
    that token is valid (``Lookup.token_valid``): in the same statement, but on Citus, where
    the tokens are placed by their hash and a statement reaches one organization's worker.
    """
    held = held or Stamp(-1, None, "")
    confirming = bool(token_hash) and not is_distributed_here(conn)
    row = (_LOOK_UP_CONFIRMING if confirming else _LOOK_UP).first(conn, {
        **key.params(), "held_version": held.version, "held_fresh": held.fresh_until,
        "held_under": held.computed_under, **({"token_hash": token_hash, "now": now} if confirming else {})})
    if row is None:
        raise NotFound("organization", key.org_id)
    (last_seq, model, version, body, stored, computed_under, fresh_until, computing_version, computing_since,
     computing_under, closed, token_valid) = row
    if token_hash and not confirming:
        token_valid = tokens.find_grant(conn, token_hash, now) is not None
    current_under = under[model]
    computing = (computing_version == last_seq and computing_since is not None and computing_since > now - lease_ms
                 and computing_under in (None, current_under))
    found = Lookup(last_seq, current_under, None, None, computing, bool(closed), bool(token_valid))
    stamp = Stamp(version, fresh_until, computed_under) if stored else None
    if stamp is None or not found.admits(stamp, now):
        return found
    return replace(found, stamp=stamp, body=body)


def claim(conn: Connection, key: ReportKey, version: int, under: str, now: int, lease_ms: int) -> bool:
    """Take the lease to compute ``version`` of the report under ``under``, unless another holds it."""
    insert = insert_for(conn, computed_reports)
    c = computed_reports.c
    free = and_(
        # Nobody stored this version meanwhile (a live report's age is not checked here:
        # the caller saw it stale, and recomputing one twice is harmless) …
        or_(c.version.is_(None), c.version < version, c.fresh_until.is_not(None), c.computed_under.is_distinct_from(under)),
        # … and nobody holds a live lease on it (one under another fingerprint is on another).
        or_(
            c.computing_since.is_(None),
            c.computing_since <= now - lease_ms,
            c.computing_version.is_(None),
            c.computing_version < version,
            ~_leased_under(under),
        ),
    )
    values = {
        "org_id": key.org_id,
        "kind": key.kind,
        "period_start": key.period_start,
        "period_end": key.period_end,
        "subject": key.subject,
        "computing_version": version,
        "computing_since": now,
        "computing_under": under,
    }
    claimed = conn.execute(
        insert.values(**values)
        .on_conflict_do_update(
            index_elements=[c.org_id, c.kind, c.period_start, c.period_end, c.subject],
            set_={"computing_version": version, "computing_since": now, "computing_under": under},
            where=free,
        )
        .returning(c.computing_since)
    ).first()
    return claimed is not None


def store_body(conn: Connection, key: ReportKey, stamp: Stamp, body: str, leased_under: str) -> None:
    """Keep a computed body, unless a newer version is already kept; release the lease taken
    under ``leased_under``, unless it is now another computation's, under another fingerprint."""
    c = computed_reports.c
    conn.execute(
        update(computed_reports)
        .where(key.where(), or_(c.version.is_(None), c.version <= stamp.version))
        .values(version=stamp.version, body=body, fresh_until=stamp.fresh_until, computed_under=stamp.computed_under)
    )
    conn.execute(
        update(computed_reports)
        .where(key.where(), c.computing_version <= stamp.version, _leased_under(leased_under))
        .values(computing_version=None, computing_since=None, computing_under=None)
    )


def release(conn: Connection, key: ReportKey, version: int, under: str) -> None:
    """Give the lease back without a body (the computation failed)."""
    c = computed_reports.c
    conn.execute(
        update(computed_reports)
        .where(key.where(), c.computing_version == version, _leased_under(under))
        .values(computing_version=None, computing_since=None, computing_under=None)
    )


def _leased_under(under: str) -> ColumnElement[bool]:
    """The lease is the one taken under ``under`` (or before migration 0030, under anything)."""
    c = computed_reports.c
    return or_(c.computing_under.is_(None), c.computing_under == under)
