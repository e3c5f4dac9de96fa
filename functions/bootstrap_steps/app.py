"""Steps of the node-provisioning workflow (shared/statemachines/bootstrap.asl.json).

One handler per task state; each validates its input and calls one function of
``timmy.bootstrap.steps``. An exception's class name is the error the state machine sees.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from timmy.bootstrap import steps
from timmy.observability import logger
from timmy.runtime import validated


class JobInput(BaseModel):
    job_id: UUID


class PollInput(JobInput):
    attempt: int = Field(ge=0, le=10_000)


class StepError(BaseModel):
    """What a Catch puts at its ResultPath: ``{"Error", "Cause"}``."""

    model_config = ConfigDict(extra="ignore")

    Error: str = Field(max_length=256)
    Cause: str | None = None


class FailureInput(JobInput):
    error: StepError
    cleanup: dict[str, Any]


@logger.inject_lambda_context
@validated
def generate_key_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    return steps.generate_ssh_key(JobInput.model_validate(event).job_id)


@logger.inject_lambda_context
@validated
def upload_key_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    return steps.upload_ssh_key(JobInput.model_validate(event).job_id)


@logger.inject_lambda_context
@validated
def tailscale_key_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    return steps.create_tailscale_key(JobInput.model_validate(event).job_id)


@logger.inject_lambda_context
@validated
def create_droplet_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    return steps.create_droplet(JobInput.model_validate(event).job_id)


@logger.inject_lambda_context
@validated
def poll_droplet_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    request = PollInput.model_validate(event)
    return steps.poll_droplet(request.job_id, request.attempt)


@logger.inject_lambda_context
@validated
def cleanup_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    return steps.cleanup(JobInput.model_validate(event).job_id)


@logger.inject_lambda_context
@validated
def record_failure_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    request = FailureInput.model_validate(event)
    return steps.record_failure(
        request.job_id, request.error.Error, request.error.Cause, request.cleanup
    )
