"""The AI-for-Hire workflows' Lambda steps: one handler per task state of ``hire.asl.json``
and ``hire_timmy.asl.json``. An exception's class name is the error the state machine sees."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from timmy.hire import contractor, service
from timmy.observability import logger
from timmy.runtime import validated


class HireTaskStep(BaseModel):
    task_id: UUID


class HireQuoteStep(HireTaskStep):
    quote_id: UUID


class HireAwaitStep(HireQuoteStep):
    task_token: str = Field(min_length=1, max_length=2048)


@logger.inject_lambda_context
@validated
def await_delivery_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    step = HireAwaitStep.model_validate(event)
    return {
        "task_id": str(step.task_id),
        "parked": service.await_delivery(str(step.task_id), step.task_token),
    }


@logger.inject_lambda_context
@validated
def deadline_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    step = HireQuoteStep.model_validate(event)
    outcome, confirm_deadline = service.deadline_reached(str(step.task_id))
    return {"task_id": str(step.task_id), "outcome": outcome, "confirm_deadline": confirm_deadline}


@logger.inject_lambda_context
@validated
def release_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    step = HireQuoteStep.model_validate(event)
    return {
        "task_id": str(step.task_id),
        "outcome": service.confirm_window_ended(str(step.task_id)),
    }


@logger.inject_lambda_context
@validated
def timmy_quote_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    step = HireTaskStep.model_validate(event)
    return {"task_id": str(step.task_id), "quote_id": contractor.consider(str(step.task_id))}


@logger.inject_lambda_context
@validated
def timmy_work_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    step = HireQuoteStep.model_validate(event)
    delivered = contractor.work(str(step.task_id), str(step.quote_id))
    return {"task_id": str(step.task_id), "delivered": delivered}
