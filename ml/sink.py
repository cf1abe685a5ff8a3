"""The alert sink: the alerts table, the log, and an optional webhook that never loses an alert.

Each pending alert of gold.maintenance_alerts is POSTed as JSON to
PLANTLAKE_ALERT_WEBHOOK_URL (with ``Authorization: Bearer <PLANTLAKE_ALERT_WEBHOOK_TOKEN>``
when a token is set; the token is never logged). A failed POST is retried with
exponential backoff (bounded attempts and delay); an alert that still fails stays
``pending`` with its attempts and last error, and the next run sends it again. A
delivered alert gets ``delivered_at`` and is never sent again: only pending alerts are
read, and each carries its ``alert_id`` (also as the ``Idempotency-Key`` header) so a
receiver can drop the duplicate a crash between its answer and our commit could cause.
When the webhook is down (an alert exhausts its retries on a retryable error), the run
stops sending and leaves the rest pending rather than waiting out every alert's backoff.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd

from lakehouse.delta import Lake
from lakehouse.settings import MLSettings, get_settings, redact
from ml.alerts import DELIVERED, PENDING, alerts_table
from ml.tables import MAINTENANCE_ALERTS

log = logging.getLogger(__name__)

PAYLOAD_FIELDS = ("alert_id", "date", "plant_id", "line_id", "machine_id", "component", "failure_probability",
                  "predicted_failure_cost_eur", "recommended_action", "action_duration_h", "action_cost_eur",
                  "expected_saving_eur", "rank_in_plant", "model_version", "raised_at")


class DeliveryError(Exception):
    """A delivery failed; ``retryable`` says whether trying again may help (timeouts, 5xx, 429)."""

    def __init__(self, message: str, retryable: bool):
        super().__init__(message)
        self.retryable = retryable


class Sender(Protocol):
    def send(self, payload: dict[str, Any]) -> None: ...


@dataclass
class WebhookSender:
    """POSTs one alert as JSON; raises :class:`DeliveryError` unless the receiver answers 2xx."""

    url: str
    token: str | None = field(default=None, repr=False)
    timeout_s: float = 10.0

    def send(self, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "plantlake-alerts/1",
                   "Idempotency-Key": str(payload["alert_id"])}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310 - configured URL
                response.read()
        except urllib.error.HTTPError as exc:
            retryable = exc.code in (408, 425, 429) or exc.code >= 500
            raise DeliveryError(f"HTTP {exc.code} {exc.reason}", retryable) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DeliveryError(f"{type(exc).__name__}: {reason}", True) from None


def payload(alert: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of one alert: its fields with dates as ISO strings."""
    out = {}
    for name in PAYLOAD_FIELDS:
        value = alert.get(name)
        if isinstance(value, pd.Timestamp | dt.datetime | dt.date):
            value = value.isoformat()
        elif value is not None and isinstance(value, float) and value != value:  # NaN
            value = None
        elif hasattr(value, "item"):
            value = value.item()
        out[name] = value
    return out


@dataclass
class DeliveryReport:
    delivered: int = 0
    failed: int = 0
    not_attempted: int = 0
    updates: pd.DataFrame | None = None


def deliver(
    pending: pd.DataFrame,
    sender: Sender,
    *,
    attempts: int = 4,
    backoff_s: float = 0.5,
    backoff_max_s: float = 8.0,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryReport:
    """Send each pending alert (most valuable first); return the alerts whose delivery state changed.

    Up to ``attempts`` POSTs per alert, waiting ``backoff_s`` x 2^n (at most ``backoff_max_s``)
    between them. Delivered rows get status delivered and delivered_at; failed ones stay
    pending with delivery_attempts increased and last_error set.
    """
    report = DeliveryReport()
    todo = pending[pending["status"] == PENDING].sort_values(
        ["date", "plant_id", "rank_in_plant", "alert_id"], kind="stable")
    changed = []
    for position, (_, row) in enumerate(todo.iterrows()):
        alert = row.to_dict()
        tries, error, retryable = 0, None, False
        while tries < attempts:
            if tries:
                sleep(min(backoff_s * 2 ** (tries - 1), backoff_max_s))
            tries += 1
            try:
                sender.send(payload(alert))
            except DeliveryError as exc:
                error, retryable = redact(str(exc)), exc.retryable
                if not retryable:
                    break
            else:
                error = None
                break
        alert["delivery_attempts"] = int(alert.get("delivery_attempts") or 0) + tries
        if error is None:
            alert.update(status=DELIVERED, delivered_at=now(), last_error=None)
            report.delivered += 1
            log.info("alert %s delivered (%s %s, %s)", alert["alert_id"], alert["plant_id"], alert["machine_id"],
                     alert["component"])
        else:
            alert["last_error"] = error
            report.failed += 1
            log.warning("alert %s not delivered after %d attempt(s): %s; it stays pending", alert["alert_id"],
                        tries, error)
        changed.append(alert)
        if error is not None and retryable:
            report.not_attempted = len(todo) - position - 1
            if report.not_attempted:
                log.warning("webhook unavailable: %d more pending alert(s) left for the next run",
                            report.not_attempted)
            break
    report.updates = pd.DataFrame(changed, columns=MAINTENANCE_ALERTS.column_names)
    return report


def deliver_pending(lake: Lake, settings: MLSettings | None = None, *, sender: Sender | None = None,
                    sleep: Callable[[float], None] = time.sleep, run_id: str | None = None) -> DeliveryReport:
    """Send every pending alert of gold.maintenance_alerts to the webhook and record the outcome (merge).

    Without a webhook URL (and no ``sender``) nothing is sent: the alerts stay pending in the
    table, and the log says how many.
    """
    settings = settings or get_settings().ml
    pending = lake.read(MAINTENANCE_ALERTS, filters=[("status", "=", PENDING)], missing_ok=True).to_pandas()
    if pending.empty:
        return DeliveryReport(updates=pending)
    if sender is None:
        if not settings.webhook_url:
            log.info("%d alert(s) pending in gold.maintenance_alerts; no webhook configured "
                     "(PLANTLAKE_ALERT_WEBHOOK_URL)", len(pending))
            return DeliveryReport(not_attempted=len(pending), updates=pending.iloc[0:0])
        sender = WebhookSender(settings.webhook_url, settings.webhook_token, settings.webhook_timeout_s)
    report = deliver(pending, sender, attempts=settings.webhook_attempts, backoff_s=settings.webhook_backoff_s,
                     backoff_max_s=settings.webhook_backoff_max_s, sleep=sleep)
    if report.updates is not None and len(report.updates):
        lake.merge(MAINTENANCE_ALERTS, alerts_table(report.updates), run_id=run_id)
    log.info("alert sink: %d delivered, %d failed, %d left for the next run", report.delivered, report.failed,
             report.not_attempted)
    return report
