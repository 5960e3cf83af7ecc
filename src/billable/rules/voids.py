"""Voids: which stored events a client asks to stop billing, and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from billable.rules.errors import FieldProblem, InvalidInput, PayloadTooLarge
from billable.rules.events import ItemChecker

MAX_VOIDS = 10_000  # per request, all or nothing
MAX_REASON = 1_000


@dataclass(frozen=True)
class VoidRequest:
    source: str
    id: str
    reason: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.id)


def validate_voids(raw: Any) -> list[VoidRequest]:
    """The voids of a request's body, a JSON array of ``{"source", "id", "reason"}``; else
    ``InvalidInput`` naming every bad item and field (an event listed twice included)."""
    if not isinstance(raw, list) or not raw:
        message = "the body must be a non-empty JSON array of {source, id, reason}"
        raise InvalidInput(message, [FieldProblem("body", "invalid.value", message)])
    if len(raw) > MAX_VOIDS:
        raise PayloadTooLarge(f"at most {MAX_VOIDS} voids per request; this one has {len(raw)}")
    problems: list[FieldProblem] = []
    found: list[VoidRequest] = []
    first_at: dict[tuple[str, str], int] = {}
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            problems.append(FieldProblem(f"voids[{index}]", "invalid.value", "a void must be a JSON object", index))
            continue
        check = ItemChecker(index, item, problems, "voids")
        source, event_id = check.text(item, "source", "source"), check.text(item, "id", "id")
        reason = check.text(item, "reason", "reason", MAX_REASON)
        if source is None or event_id is None or reason is None:
            continue
        void = VoidRequest(source, event_id, reason)
        if void.key in first_at:
            check.problem("id", "duplicate", f"the event is listed twice: first as voids[{first_at[void.key]}]")
            continue
        first_at[void.key] = index
        found.append(void)
    if problems:
        named = "; ".join(f"{p.field_name}: {p.message}" for p in problems[:5])
        more = f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        raise InvalidInput(f"{len({p.index for p in problems})} invalid void(s), nothing was voided: {named}{more}",
                           problems)
    return found
