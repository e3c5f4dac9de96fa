"""Scheduled (every 5 minutes): end what crashes and lost workflows left unfinished (stuck
jobs and bootstrap nodes, abandoned session holds), each once. See ``timmy.reconcile``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from timmy import reconcile
from timmy.observability import logger
from timmy.runtime import validated


class ScheduledEvent(BaseModel):
    """An EventBridge schedule's event; nothing in it steers the run (the clock is ours)."""

    model_config = ConfigDict(extra="allow")


@logger.inject_lambda_context
@validated
def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    ScheduledEvent.model_validate(event)
    report = reconcile.run()
    return {"ended": report.ended, "errors": report.errors}
