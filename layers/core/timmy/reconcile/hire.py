"""AI-for-Hire escrows whose timer did not fire (a lost or never-started workflow): once the
grace has passed after a delivery deadline or a confirm window, the reconciler runs the same
conditional step the workflow would have (refund an undelivered escrow, release a silent
delivery's), so a timer and the reconciler racing move the money once."""

from __future__ import annotations

from datetime import datetime, timedelta

from timmy.data import hire as data
from timmy.db.connection import transaction
from timmy.reconcile.runner import reconcile_each
from timmy.reconcile.settings import reconcile_settings


def reconcile_hire(now: datetime) -> tuple[int, int]:
    settings = reconcile_settings()
    before = now - timedelta(seconds=settings.reconcile_grace_seconds)
    with transaction() as tx:
        overdue = data.overdue_task_ids(tx, before, settings.reconcile_batch_size)
    return reconcile_each(overdue, _reconcile_one, what="hire task", item_id=lambda t: t)


def _reconcile_one(task_id: str) -> bool:
    from timmy.hire import service

    outcome, _ = service.deadline_reached(task_id)
    if outcome == "refunded":
        return True
    return service.confirm_window_ended(task_id) == "released"
