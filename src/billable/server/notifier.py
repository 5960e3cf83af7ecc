"""A server process's part in alerts and webhooks (issue 38): a thread that, every
``alerts_poll_seconds``, evaluates the alerts of the organizations that moved and delivers
the webhook messages that are due (service/alerts.py, service/webhooks.py). It runs beside the
requests, never inside one: a receiver that is slow or down holds this thread alone."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import httpx

from billable.rules.errors import StoreUnavailable
from billable.rules.webhooks import headers
from billable.server.settings import Settings
from billable.service.billing import Billing, Pacing, WebhookAttempt, WebhookEndpoint, WebhookMessage

log = logging.getLogger("billable.notifier")
_BATCH = 50


class Notifier:
    def __init__(self, billing: Billing, settings: Settings, clock: Callable[[], int]):
        self.billing = billing
        self.clock = clock
        self.poll_seconds = settings.alerts_poll_seconds
        self.recheck_ms = int(settings.alerts_recheck_seconds * 1000)
        self.pacing = Pacing(int(settings.alerts_quiet_seconds * 1000), int(settings.alerts_max_lag_seconds * 1000))
        self.lease_ms = int(settings.webhook_lease_seconds * 1000)
        self.retry_ms = [int(seconds * 1000) for seconds in settings.webhook_retry_seconds]
        self.http = httpx.Client(timeout=settings.webhook_timeout_seconds, follow_redirects=False)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="notifier", daemon=True)

    def start(self) -> None:
        if self.poll_seconds > 0:
            self.thread.start()

    def close(self) -> None:
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(timeout=30)
        self.http.close()

    def _run(self) -> None:
        while not self.stopping.wait(self.poll_seconds):
            try:
                self.run_once()
            except StoreUnavailable as fault:  # the database is restarting, or out of reach: a line, no trace
                log.warning("alerts and webhooks: %s; trying again in %s s", fault, self.poll_seconds)
            except Exception:  # a bug: logged with its trace, and tried again at the next poll
                log.exception("alerts and webhooks: a pass failed; trying again in %s s", self.poll_seconds)

    def run_once(self) -> None:
        """One pass: evaluate the alerts that are due, then deliver the messages that are."""
        self.billing.evaluate_alerts(self.clock(), self.recheck_ms, pacing=self.pacing)
        for message, endpoint in self.billing.lease_webhook_messages(self.clock(), self.lease_ms, _BATCH):
            if self.stopping.is_set():
                return  # its lease runs out, and another pass delivers it
            self._deliver(message, endpoint)

    def _deliver(self, message: WebhookMessage, endpoint: WebhookEndpoint) -> None:
        body = message.body.encode()
        at = self.clock()
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            status = self.http.post(endpoint.url, content=body,
                                    headers=headers(endpoint.secret, message.id, at // 1000, body)).status_code
        except httpx.HTTPError as failure:
            error = f"{type(failure).__name__}: {failure}"[:300]
        took = int((time.perf_counter() - started) * 1000)
        attempt = WebhookAttempt(message.id, message.attempts + 1, at, status, error, took)
        self.billing.keep_webhook_attempt(message, attempt, self.retry_ms)
