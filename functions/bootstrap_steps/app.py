"""Steps of the node-provisioning workflow (shared/statemachines/bootstrap.asl.json).

One handler per task state; each validates its input and calls one function of
``timmy.bootstrap.steps``. An exception's class name is the error the state machine sees.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from timmy.bootstrap import steps
from timmy.observability import logger, metrics
from timmy.runtime import validated
from timmy.steps import BootstrapFailStep, JobStep, PollStep


@logger.inject_lambda_context
@validated
def generate_key_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    return steps.generate_ssh_key(JobStep.model_validate(event).job_id)


@logger.inject_lambda_context
@validated
def upload_key_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    return steps.upload_ssh_key(JobStep.model_validate(event).job_id)


@logger.inject_lambda_context
@validated
def tailscale_key_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    return steps.create_tailscale_key(JobStep.model_validate(event).job_id)


@logger.inject_lambda_context
@validated
def create_droplet_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    return steps.create_droplet(JobStep.model_validate(event).job_id)


@logger.inject_lambda_context
@metrics.log_metrics(raise_on_empty_metrics=False)
@validated
def poll_droplet_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    request = PollStep.model_validate(event)
    polled = steps.poll_droplet(request.job_id, request.attempt)
    if polled["ready"]:
        metrics.add_metric(name="NodesReady", unit=MetricUnit.Count, value=1)
    return polled


@logger.inject_lambda_context
@validated
def cleanup_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    return steps.cleanup(JobStep.model_validate(event).job_id)


@logger.inject_lambda_context
@metrics.log_metrics(raise_on_empty_metrics=False)
@validated
def record_failure_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    request = BootstrapFailStep.model_validate(event)
    failed = steps.record_failure(
        request.job_id, request.error.error, request.error.cause, request.cleanup
    )
    metrics.add_metric(name="BootstrapsFailed", unit=MetricUnit.Count, value=1)
    return failed
