"""The template's schedule, locally: a thread invokes the reconciler's handler every few seconds.

In AWS an EventBridge rule invokes ``ReconcilerFunction`` every 5 minutes. ``make dev`` runs it
more often (``RECONCILE_INTERVAL_SECONDS``, default 60): a restart loses every execution, and
the jobs they were driving should end soon after. Stopping waits for a run under way.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

logger = logging.getLogger("local")

RECONCILER = "ReconcilerFunction"
DEFAULT_INTERVAL_SECONDS = 60.0


def scheduled_event(rule: str) -> dict[str, Any]:
    """What EventBridge hands a scheduled function."""
    return {
        "version": "0",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:123456789012:rule/{rule}"],
        "detail": {},
    }


class Schedule:
    """Invoke ``function`` of the stack every ``interval`` seconds on a daemon thread."""

    def __init__(self, stack: Any, interval: float, function: str = RECONCILER) -> None:
        if interval <= 0:
            raise ValueError("the schedule's interval must be positive")
        self.stack = stack
        self.interval = interval
        self.function = function
        self.runs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"schedule-{function}", daemon=True)

    def start(self) -> Schedule:
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                result = self.stack.functions.invoke(self.function, scheduled_event(self.function))
            except Exception:  # a failed run is logged; the next one tries again
                logger.exception("scheduled %s failed", self.function)
            else:
                if any(result.get("ended", {}).values()) or any(result.get("errors", {}).values()):
                    logger.info("scheduled %s: %s", self.function, result)
            self.runs += 1
