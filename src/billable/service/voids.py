"""Voiding events: the originals are kept, marked with who voided them, when and why, and
from the void's commit on every report treats them as never received."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from billable.rules.errors import FieldProblem, InvalidInput
from billable.rules.instants import format_instant
from billable.rules.touched import touched_by, walked_since
from billable.rules.voids import VoidRequest
from billable.store import derived
from billable.store.events import StoredEvent, find_events, mark_voided
from billable.store.organizations import get_organization, set_last_seq


@dataclass(frozen=True)
class VoidResult:
    voided: int
    sequence: int  # the void's place in the organization's arrival order


def void_events(conn: Connection, org_id: str, voids: list[VoidRequest], voided_by: str, now: int) -> VoidResult:
    """Void the events of ``voids``, all or none: an event that is not stored, or is voided
    already, is named in the ``InvalidInput`` and nothing is voided. The derived state of
    the keys the events touched is rebuilt from the events left, exactly as for a late
    event. The caller owns the transaction."""
    # The organization's lock: a void and a batch of the same organization never interleave.
    org = get_organization(conn, org_id, lock=True)
    found = find_events(conn, org_id, [void.key for void in voids])
    problems = []
    for index, void in enumerate(voids):
        event = found.get(void.key)
        if event is None:
            problems.append(FieldProblem(f"voids[{index}].id", "not.found",
                                         f"no event {void.id!r} from source {void.source!r} was received", index))
        elif event.void is not None:
            problems.append(FieldProblem(
                f"voids[{index}].id", "already.voided",
                f"event {void.id!r} from source {void.source!r} was voided at {format_instant(event.void.at)} "
                f"by {event.void.by}", index))
    if problems:
        named = "; ".join(f"{p.field_name}: {p.message}" for p in problems[:5])
        more = f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        raise InvalidInput(f"{len(problems)} event(s) cannot be voided, nothing was voided: {named}{more}", problems)
    sequence = org.last_seq + 1  # a void changes every report that read the events: a new version
    mark_voided(conn, org_id, [(found[void.key].seq, void.reason) for void in voids], sequence, now, voided_by)
    set_last_seq(conn, org_id, sequence)
    assert org.latest_event_time is not None  # the log holds the voided events
    _derive_again(conn, org_id, [found[void.key] for void in voids], org.latest_event_time, sequence)
    return VoidResult(len(voids), sequence)


def _derive_again(conn: Connection, org_id: str, voided: list[StoredEvent], latest: int, version: int) -> None:
    touched = touched_by((event.seq, event) for event in voided)
    # A void brings no event: the log's latest event time is the one before it too.
    for kind, since in ((derived.SESSIONS, touched.sessions), (derived.HOLDINGS, touched.holdings)):
        derived.rebuild_intervals(conn, org_id, kind, walked_since(since), latest, version, latest_before=latest)
    derived.rebuild_device_days(conn, org_id, set(touched.device_days), version)
    # A user with a voided event that carried an email may have another one now.
    for user_id in touched.emails:
        _find_email_again(conn, org_id, user_id, version)


def _find_email_again(conn: Connection, org_id: str, user_id: str, version: int) -> None:
    latest = derived.latest_email(conn, org_id, user_id, derived.NOT_VOIDED)
    if latest is None:
        derived.forget_email(conn, org_id, user_id, version)
    else:
        derived.set_emails(conn, org_id, {user_id: latest}, version)


