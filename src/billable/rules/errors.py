"""Domain errors. They carry no HTTP; the server maps them to the Genesys error body."""

from __future__ import annotations

from dataclasses import dataclass


class BillingError(Exception):
    """Base of every error the billing domain raises on purpose."""


@dataclass(frozen=True)
class FieldProblem:
    """One bad field of a request: which one, a machine code, and a sentence."""

    field_name: str
    error_code: str
    message: str
    index: int | None = None


class InvalidInput(BillingError):
    """The input breaks the contract; ``problems`` names every bad field."""

    def __init__(self, message: str, problems: list[FieldProblem]):
        super().__init__(message)
        self.message = message
        self.problems = problems


class InvalidPeriod(InvalidInput):
    def __init__(self, field_name: str, message: str):
        super().__init__(message, [FieldProblem(field_name, "invalid.period", message)])


class InvalidEvents(InvalidInput):
    """A batch with at least one invalid event; nothing of it was stored."""

    def __init__(self, problems: list[FieldProblem], message: str | None = None):
        bad = len({problem.index for problem in problems})
        super().__init__(message or f"{bad} invalid event(s); nothing was stored", problems)


class NotFound(BillingError):
    def __init__(self, what: str, key: str):
        super().__init__(f"{what} {key!r} not found")
        self.what = what
        self.key = key


class InvalidCredentials(BillingError):
    """A client id and secret that do not match an active client."""


class TooManyRequests(BillingError):
    """Over a limit of requests (or of failed logins) in a rolling window: the same request
    may be sent again after ``retry_after_seconds``."""

    def __init__(self, message: str, retry_after_seconds: int):
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class PayloadTooLarge(BillingError):
    """A request over a size or count limit."""


class StoreUnavailable(BillingError):
    """The database cannot serve the request for a moment (restarting, unreachable, busy,
    out of space): nothing of the request was kept, and the same request may be sent again
    after ``retry_after_seconds``."""

    def __init__(self, condition: str, retry_after_seconds: int):
        super().__init__(f"the billing database is {condition}")
        self.condition = condition
        self.retry_after_seconds = retry_after_seconds


class NotPermitted(BillingError):
    """The caller may not read or change what it asked for (whether or not it exists)."""
