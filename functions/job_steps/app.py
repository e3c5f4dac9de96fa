"""The job workflow's Lambda steps: one handler per state of ``job.asl.json``.

Each validates its input, calls one function of :mod:`timmy.jobs.workflow` and returns a small
JSON object. An exception's class name is the error the state machine matches in Retry/Catch.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from timmy.jobs import workflow
from timmy.observability import logger, metrics
from timmy.runtime import validated
from timmy.steps import FailStep, JobStep


@logger.inject_lambda_context
@metrics.log_metrics(raise_on_empty_metrics=False)
@validated
def evaluate_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    step = JobStep.model_validate(event)
    accepted = workflow.evaluate(step.job_ref)
    metrics.add_metric(
        name="JobsAccepted" if accepted else "JobsRejected", unit=MetricUnit.Count, value=1
    )
    return {"job_id": step.job_ref, "accepted": accepted}


@logger.inject_lambda_context
@metrics.log_metrics(raise_on_empty_metrics=False)
@validated
def price_work_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    step = JobStep.model_validate(event)
    pricing = workflow.price_work(step.job_ref)
    if pricing.serve != "gate":  # the generosity pool pays for all or part of the work
        metrics.add_metric(name="PoolGrants", unit=MetricUnit.Count, value=1)
    return {
        "job_id": step.job_ref,
        "serve": pricing.serve,  # free: no work invoice (payment_hash is null)
        "payment_hash": pricing.payment_hash,
        "charge_sats": pricing.charge_sats,
    }


@logger.inject_lambda_context
@validated
def execute_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    step = JobStep.model_validate(event)
    workflow.execute(step.job_ref)
    return {"job_id": step.job_ref, "executed": True}


@logger.inject_lambda_context
@metrics.log_metrics(raise_on_empty_metrics=False)
@validated
def settle_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    step = JobStep.model_validate(event)
    settlement = workflow.settle(step.job_ref)
    metrics.add_metric(name="JobsCompleted", unit=MetricUnit.Count, value=1)
    metrics.add_metric(
        name="JobSatsEarned", unit=MetricUnit.Count, value=settlement.actual_cost_sats
    )
    return {
        "job_id": step.job_ref,
        "actual_cost_sats": settlement.actual_cost_sats,
        "refundable_sats": settlement.refundable_sats,
    }


@logger.inject_lambda_context
@validated
def expire_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    step = JobStep.model_validate(event)
    return {"job_id": step.job_ref, "state": workflow.expire(step.job_ref)}


@logger.inject_lambda_context
@metrics.log_metrics(raise_on_empty_metrics=False)
@validated
def fail_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    step = FailStep.model_validate(event)
    job = workflow.fail(step.job_ref, step.error.error, step.error.cause)
    metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=1)
    return {
        "job_id": step.job_ref,
        "state": job.state,
        "refundable_sats": job.refundable_sats,
    }


@logger.inject_lambda_context
@validated
def record_trust_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    step = JobStep.model_validate(event)
    return {"job_id": step.job_ref, "recorded": workflow.record_trust(step.job_ref)}
