"""Scheduled: give back the balance and pool holds of session requests whose Lambda died."""

from __future__ import annotations

from typing import Any

from timmy.observability import logger
from timmy.runtime import validated
from timmy.sessions.requests import release_abandoned_holds


@logger.inject_lambda_context
@validated
def handler(_event: dict[str, Any], _context: Any) -> dict[str, Any]:
    return {"released": release_abandoned_holds()}
