"""Scheduled (every 5 minutes): end what crashes and lost workflows left unfinished (stuck
jobs and bootstrap nodes, abandoned session holds), each once. See ``timmy.reconcile``."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict

from timmy import reconcile
from timmy.observability import logger, metrics
from timmy.runtime import validated


class ScheduledEvent(BaseModel):
    """An EventBridge schedule's event; nothing in it steers the run (the clock is ours)."""

    model_config = ConfigDict(extra="allow")


@logger.inject_lambda_context
@metrics.log_metrics(raise_on_empty_metrics=False)
@validated
def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    ScheduledEvent.model_validate(event)
    report = reconcile.run()
    # What crashes and lost workflows left behind: a rising count is worth an alarm.
    metrics.add_metric(
        name="ReconcilerEnded", unit=MetricUnit.Count, value=sum(report.ended.values())
    )
    metrics.add_metric(name="ReconcilerErrors", unit=MetricUnit.Count, value=report.error_count)
    return {"ended": report.ended, "errors": report.errors}
