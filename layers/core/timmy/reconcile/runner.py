"""One reconciliation run: every pass in order, each isolated from the others' failures."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, TypeVar

from timmy.observability import log_ref

logger = logging.getLogger(__name__)

Item = TypeVar("Item")

# A pass takes the run's clock and returns (ended, errors).
Pass = Callable[[datetime], tuple[int, int]]


def _session_holds(_now: datetime) -> tuple[int, int]:
    """Holds of session requests whose Lambda died (their own timeout, on the database clock)."""
    from timmy.sessions.requests import release_abandoned_holds

    return release_abandoned_holds(), 0


def _chat_holds(_now: datetime) -> tuple[int, int]:
    """Holds of account completions whose Lambda died (``CHAT_HOLD_TIMEOUT_SECONDS``)."""
    from timmy.chat.service import release_abandoned_holds

    return release_abandoned_holds(), 0


def _jobs(now: datetime) -> tuple[int, int]:
    from timmy.reconcile.jobs import reconcile_jobs

    return reconcile_jobs(now)


def _bootstrap_jobs(now: datetime) -> tuple[int, int]:
    from timmy.reconcile.bootstrap import reconcile_bootstrap_jobs

    return reconcile_bootstrap_jobs(now)


def _hire(now: datetime) -> tuple[int, int]:
    from timmy.reconcile.hire import reconcile_hire

    return reconcile_hire(now)


def _payouts(now: datetime) -> tuple[int, int]:
    """Payouts whose outcome was unknown: settled (paid, or credited back) by asking the node."""
    from timmy.payouts import reconcile_pending_payouts

    report = reconcile_pending_payouts(now)
    return report.paid + report.failed, len(report.errors)


# Name → pass, run in this order. Jobs before payouts: a job failed here becomes refundable,
# and a refund left pending by an earlier run is settled in the same run.
PASSES: Final[dict[str, Pass]] = {
    "session_holds": _session_holds,
    "chat_holds": _chat_holds,
    "jobs": _jobs,
    "bootstrap_jobs": _bootstrap_jobs,
    "hire": _hire,
    "payouts": _payouts,
}


def reconcile_each(
    items: Iterable[Item],
    reconcile_one: Callable[[Item], bool],
    *,
    what: str,
    item_id: Callable[[Item], object],
) -> tuple[int, int]:
    """Reconcile every item on its own: (ended, errors).

    An item that fails is logged and left for the next run; it must not keep the others
    unreconciled.
    """
    ended = errors = 0
    for item in items:
        try:
            ended += reconcile_one(item)
        except Exception:
            logger.exception(f"could not reconcile {what}", extra={"ref": log_ref(item_id(item))})
            errors += 1
    return ended, errors


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
