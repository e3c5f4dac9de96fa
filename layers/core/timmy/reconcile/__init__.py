"""The scheduled reconciler: one run ends, once each, what crashes and lost workflows left
unfinished (``ReconcilerFunction``, every 5 minutes; a timer in ``make dev``).

A run goes through :data:`PASSES` in order. Each pass is idempotent and safe with another
reconciler running at the same time: it reads candidates, then takes each with a conditional
``UPDATE`` guarded by the state it read (one caller gets the row), and ends it with the same
code the workflow would have run, in the workflow's transactions. A pass that raises does not
stop the others; an item that fails is logged, counted and retried by the next run.

Which executions are gone or stuck: :mod:`timmy.reconcile.executions`. What ending means per
state: :mod:`timmy.reconcile.jobs` and :mod:`timmy.reconcile.bootstrap`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

logger = logging.getLogger(__name__)

# A pass takes the run's clock and returns (ended, errors).
Pass = Callable[[datetime], tuple[int, int]]


def _session_holds(_now: datetime) -> tuple[int, int]:
    """Holds of session requests whose Lambda died (their own timeout, on the database clock)."""
    from timmy.sessions.requests import release_abandoned_holds

    return release_abandoned_holds(), 0


def _jobs(now: datetime) -> tuple[int, int]:
    from timmy.reconcile.jobs import reconcile_jobs

    return reconcile_jobs(now)


def _bootstrap_jobs(now: datetime) -> tuple[int, int]:
    from timmy.reconcile.bootstrap import reconcile_bootstrap_jobs

    return reconcile_bootstrap_jobs(now)


def _payouts(now: datetime) -> tuple[int, int]:
    """Payouts whose outcome was unknown: settled (paid, or credited back) by asking the node."""
    from timmy.payouts import reconcile_pending_payouts

    report = reconcile_pending_payouts(now)
    return report.paid + report.failed, len(report.errors)


# Name → pass, run in this order. Jobs before payouts: a job failed here becomes refundable,
# and a refund left pending by an earlier run is settled in the same run.
PASSES: Final[dict[str, Pass]] = {
    "session_holds": _session_holds,
    "jobs": _jobs,
    "bootstrap_jobs": _bootstrap_jobs,
    "payouts": _payouts,
}


@dataclass(frozen=True, slots=True)
class RunReport:
    ended: dict[str, int]  # per pass: what this run ended (released, expired, failed, settled)
    errors: dict[str, int]  # per pass: items (or the whole pass) left for the next run

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def run(now: datetime | None = None, passes: dict[str, Pass] | None = None) -> RunReport:
    """One reconciliation run over every pass."""
    now = now or datetime.now(UTC)
    ended: dict[str, int] = {}
    errors: dict[str, int] = {}
    for name, run_pass in (PASSES if passes is None else passes).items():
        try:
            ended[name], errors[name] = run_pass(now)
        except Exception:  # one broken pass must not stop the others
            logger.exception("reconciler pass failed", extra={"reconcile_pass": name})
            ended[name], errors[name] = 0, 1
    if any(ended.values()) or any(errors.values()):
        logger.warning("reconciled", extra={"ended": ended, "errors": errors})
    return RunReport(ended, errors)
