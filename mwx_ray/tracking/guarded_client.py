"""An MLflow client that never stops training: failed calls are counted, warned about once, and reported.

Tracking is a side channel. When the store (usually an http server on a cluster) is unreachable or dies
mid-run, training must go on; what must not happen is a silent loss. :class:`GuardedMlflow` therefore

- wraps every call: an exception is caught, counted, and the *first* one is logged with its reason;
- stops calling a failing store for ``retry_after_s`` (a circuit breaker), so a dead server costs one
  bounded stall, not one per metric; calls skipped meanwhile are counted as dropped;
- tries again after that pause and logs a recovery if the store answers;
- summarizes everything in :meth:`report` (:class:`TrackingReport`) for the end of the run.

MLflow's http client retries a refused connection 7 times with exponential backoff (minutes of blocking);
:func:`bound_http_retries` lowers that for this process unless the user already set the variables.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

logger = logging.getLogger("mwx_ray.tracking")

T = TypeVar("T")

# Worst case per failing call: timeout_s * (retries + 1) + backoff ≈ 10 * 3 + 3 = 33 s, once per pause.
_HTTP_RETRY_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
}


def bound_http_retries() -> None:
    """Make a dead MLflow server fail within ~30 s instead of minutes (only where the user has not chosen)."""
    for name, value in _HTTP_RETRY_DEFAULTS.items():
        os.environ.setdefault(name, value)


@dataclass
class TrackingReport:
    """What tracking lost during a run. ``ok`` is True only if every MLflow call succeeded."""

    tracking_uri: str
    failed_calls: int = 0
    dropped_calls: int = 0
    missing_artifacts: list[str] = field(default_factory=list)
    first_error: str | None = None
    last_error: str | None = None

    @property
    def ok(self) -> bool:
        return not (self.failed_calls or self.dropped_calls or self.missing_artifacts)

    def summary(self) -> str:
        if self.ok:
            return f"MLflow tracking at {self.tracking_uri}: complete (no failed calls)"
        parts = [f"{self.failed_calls} failed and {self.dropped_calls} skipped MLflow calls"]
        if self.missing_artifacts:
            parts.append(f"{len(self.missing_artifacts)} artifacts not found on the driver")
        reason = f"; first error: {self.first_error}" if self.first_error else ""
        return f"MLflow tracking at {self.tracking_uri} is INCOMPLETE: {', '.join(parts)}{reason}"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


class GuardedMlflow:
    """``MlflowClient`` for an explicit URI (no process-global tracking state) whose calls never raise.

    Use :meth:`call` for every client method: ``guarded.call("log_batch", run_id, metrics=[...])`` returns
    the method's result, or None when the call failed or was skipped.
    """

    def __init__(self, tracking_uri: str, *, retry_after_s: float = 60.0):
        self.tracking_uri = tracking_uri
        self.retry_after_s = retry_after_s
        self._client = None
        self._paused_until = 0.0  # time.monotonic() seconds
        self.report_state = TrackingReport(tracking_uri=tracking_uri)

    @property
    def client(self):
        if self._client is None:
            from mlflow import MlflowClient

            bound_http_retries()
            self._client = MlflowClient(tracking_uri=self.tracking_uri)
        return self._client

    @property
    def available(self) -> bool:
        """False while paused after a failure."""
        return time.monotonic() >= self._paused_until

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.run(method, lambda client: getattr(client, method)(*args, **kwargs))

    def run(self, what: str, fn: Callable[[Any], T]) -> T | None:
        """``fn(client)`` guarded like :meth:`call`; ``what`` names the operation in warnings."""
        if not self.available:
            self.report_state.dropped_calls += 1
            return None
        try:
            result = fn(self.client)
        except Exception as err:  # any store failure: connection, HTTP 5xx, sqlite locked, bad value
            self._record_failure(what, err)
            return None
        if self.report_state.failed_calls and self._paused_until:
            logger.warning("MLflow tracking at %s answers again (%s succeeded)", self.tracking_uri, what)
            self._paused_until = 0.0
        return result

    def _record_failure(self, what: str, err: Exception) -> None:
        reason = f"{what}: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"[:500]
        state = self.report_state
        state.failed_calls += 1
        state.last_error = reason
        if state.first_error is None:
            state.first_error = reason
            logger.warning(
                "MLflow tracking at %s failed (%s). Training continues; metrics are dropped while the "
                "store is unreachable (retrying every %.0f s) and the loss is reported at the end.",
                self.tracking_uri, reason, self.retry_after_s,
            )
        self._paused_until = time.monotonic() + self.retry_after_s

    def missing_artifact(self, description: str) -> None:
        self.report_state.missing_artifacts.append(description)
        logger.warning("artifact not logged to MLflow: %s", description)

    def report(self) -> TrackingReport:
        return self.report_state
