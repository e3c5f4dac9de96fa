"""Workflow steps shared by every workflow that waits for a Lightning payment.

``attach_handler`` is invoked as a ``.waitForTaskToken`` task: it records the task token on the
invoice (resuming at once if the invoice is already paid). ``expire_handler`` runs when that
wait times out and marks the invoice expired unless it was paid in the meantime.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from timmy.observability import logger
from timmy.payments import attach_task_token, expire_invoice
from timmy.runtime import validated


class AttachInput(BaseModel):
    payment_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    task_token: str = Field(min_length=1, max_length=2048)


class ExpireInput(BaseModel):
    payment_hash: str = Field(pattern=r"^[0-9a-f]{64}$")


@logger.inject_lambda_context
@validated
def attach_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    request = AttachInput.model_validate(event)
    attached = attach_task_token(request.payment_hash, request.task_token)
    return {"payment_hash": request.payment_hash, "attached": attached}


@logger.inject_lambda_context
@validated
def expire_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    request = ExpireInput.model_validate(event)
    return {"payment_hash": request.payment_hash, "expired": expire_invoice(request.payment_hash)}
