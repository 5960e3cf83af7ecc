"""Prometheus metrics of a server process, served at ``GET /metrics`` (server/health.py;
docs/operating.md, "Metrics").

With several processes (``billable serve --workers N``, or processes an operator starts
with a shared ``PROMETHEUS_MULTIPROC_DIR``), prometheus-client keeps each process's values
in that directory and ``/metrics`` on any of them sums them all. The metrics carry no
organization: they are for the fleet, and say nothing of anyone's usage.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's own variable
# Seconds: a cached report is served in about a millisecond, a month of a large organization
# computed in about a second; a batch of 10,000 events is stored in about a third of one.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    """The metrics of one app, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.events_accepted = Counter("billable_events_accepted", "Events stored (new, not duplicates)",
                                       registry=registry)
        self.events_duplicate = Counter("billable_events_duplicate", "Events skipped as already stored",
                                        registry=registry)
        self.events_refused = Counter("billable_events_refused",
                                      "Invalid events named in refused batches (nothing of a refused batch is stored)",
                                      registry=registry)
        self.batch_seconds = Histogram("billable_ingest_batch_seconds",
                                       "Time to check and durably store one batch of events", buckets=_BUCKETS,
                                       registry=registry)
        self.report_seconds = Histogram("billable_report_seconds", "Time to answer a report request, by kind",
                                        ["kind"], buckets=_BUCKETS, registry=registry)
        self.reports = Counter("billable_reports", "Report requests answered, by kind and where the body came "
                               "from (computed, store, memory, pending)", ["kind", "source"], registry=registry)
        self.rate_limited = Counter("billable_rate_limited_requests", "Requests refused by the rate limit (429)",
                                    registry=registry)
        self.logins_refused = Counter("billable_logins_refused", "Logins refused, by reason (credentials: a wrong "
                                      "id or secret, or a revoked client; limited: too many failures of late, 429)",
                                      ["reason"], registry=registry)

    def exposition(self) -> bytes:
        """The text format of every process's metrics (one process's without a shared directory)."""
        if os.environ.get(MULTIPROCESS_DIRECTORY):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # prometheus-client leaves it unannotated
            return generate_latest(registry)
        return generate_latest(self.registry)

