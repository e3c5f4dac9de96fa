"""POST /api/v1/ai-for-hire/operator/tasks/{task_id}/split: an operator splits a disputed
escrow. The route has API Gateway's AWS_IAM authorizer (a SigV4-signed call by a principal
allowed execute-api:Invoke on it); the handler also refuses any request that API Gateway did
not authorise with IAM, so the route is closed wherever that authorizer is absent (the local
gateway): locally it is reached by invoking the function with a signed-call event
(events/HireOperatorSplitFunction.json)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, StrictInt

from timmy.api import HttpApi, make_handler, response_doc
from timmy.hire import service
from timmy.hire.errors import HireForbidden
from timmy.hire.views import HireSplit
from timmy.observability import logger

app = HttpApi()


class HireSplitBody(BaseModel):
    contractor_sats: StrictInt = Field(
        ge=0, description="To the contractor; the rest of the escrow returns to the buyer"
    )


def _operator() -> str:
    context: dict[str, Any] = app.current_event.get("requestContext") or {}
    iam = (context.get("authorizer") or {}).get("iam") or {}
    arn = iam.get("userArn") or iam.get("callerId")
    if not arn:
        raise HireForbidden("This route needs an IAM-signed request.")
    return str(arn)


@app.post(
    "/api/v1/ai-for-hire/operator/tasks/<task_id>/split",
    summary="Split a disputed escrow (operators: IAM-authorised)",
    tags=["ai-for-hire"],
    responses={
        200: response_doc("Split", HireSplit),
        400: response_doc("invalid_request or invalid_content (more than the escrow)"),
        403: response_doc("forbidden: not an IAM-signed request"),
        404: response_doc("not_found"),
        409: response_doc("invalid_state: the task is not disputed"),
    },
)
def split(task_id: str, body: HireSplitBody) -> HireSplit:
    # The ids are part of the request: a malformed one is 404 before any credential.
    task_id = service.parse_id(task_id)
    operator = _operator()
    result = service.split(task_id, contractor_sats=body.contractor_sats)
    logger.info("disputed escrow split", extra={"operator": operator, "task_id": task_id})
    return result


handler = make_handler(app)
