"""The job workflow's Lambda steps: one handler per state of ``job.asl.json``.

Each validates its input, calls one function of :mod:`timmy.jobs.workflow` and returns a small
JSON object. An exception's class name is the error the state machine matches in Retry/Catch.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from timmy.jobs import workflow
from timmy.observability import logger
from timmy.runtime import validated

_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class JobStep(BaseModel):
    job_id: str = Field(pattern=_UUID)


class StepError(BaseModel):
    """What a Catch puts at its ResultPath: the error name and its cause."""

    model_config = ConfigDict(populate_by_name=True)

    error: str | None = Field(default=None, alias="Error")
    cause: str | None = Field(default=None, alias="Cause")


class FailStep(JobStep):
    error: StepError = Field(default_factory=StepError)


@logger.inject_lambda_context
@validated
def evaluate_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    step = JobStep.model_validate(event)
    return {"job_id": step.job_id, "accepted": workflow.evaluate(step.job_id)}


@logger.inject_lambda_context
@validated
def price_work_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    step = JobStep.model_validate(event)
    pricing = workflow.price_work(step.job_id)
    return {
        "job_id": step.job_id,
        "serve": pricing.serve,  # free: no work invoice (payment_hash is null)
        "payment_hash": pricing.payment_hash,
        "charge_sats": pricing.charge_sats,
    }


@logger.inject_lambda_context
@validated
def execute_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    step = JobStep.model_validate(event)
    workflow.execute(step.job_id)
    return {"job_id": step.job_id, "executed": True}


@logger.inject_lambda_context
@validated
def settle_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    step = JobStep.model_validate(event)
    settlement = workflow.settle(step.job_id)
    return {
        "job_id": step.job_id,
        "actual_cost_sats": settlement.actual_cost_sats,
        "refundable_sats": settlement.refundable_sats,
    }


@logger.inject_lambda_context
@validated
def expire_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    step = JobStep.model_validate(event)
    return {"job_id": step.job_id, "state": workflow.expire(step.job_id)}


@logger.inject_lambda_context
@validated
def fail_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    step = FailStep.model_validate(event)
    job = workflow.fail(step.job_id, step.error.error, step.error.cause)
    return {
        "job_id": step.job_id,
        "state": job.state,
        "refundable_sats": job.refundable_sats,
    }


@logger.inject_lambda_context
@validated
def record_trust_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    step = JobStep.model_validate(event)
    return {"job_id": step.job_id, "recorded": workflow.record_trust(step.job_id)}
