"""POST /api/sessions/{session_id}/request: do work paid from the session's balance."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, Field

from timmy.api import HttpApi, header, make_handler, response_doc
from timmy.observability import metrics
from timmy.sessions.requests import run_request
from timmy.sessions.views import SessionRequestResult

app = HttpApi()


class SessionRequestBody(BaseModel):
    request: str = Field(description="What Timmy should do")


@app.post(
    "/api/sessions/<session_id>/request",
    summary="Run a request on a session's balance",
    description=(
        "Needs `Authorization: Bearer <macaroon>`. The free tier first decides, on the"
        " request's estimate, how much of it the generosity pool pays for the session's Nostr"
        " identity (all, part or none; anonymous sessions pay everything). The caller's part"
        " of the estimate is held from the balance, the work runs (its output capped at the"
        " estimated tokens), and only the real usage's cost is split between the pool"
        " (`absorbed_sats`, up to what it reserved) and the balance (`charged_sats`); the rest"
        " of both reservations is returned at once. A wholly free request needs no balance. A"
        " failed AI call debits nothing, from the balance or the pool."
    ),
    tags=["sessions"],
    responses={
        200: response_doc("The work's result and what it cost", SessionRequestResult),
        400: response_doc("Empty or too long request text"),
        401: response_doc(
            "Macaroon missing (missing_macaroon), undecodable or forged (invalid_macaroon)"
            " or expired (macaroon_expired)"
        ),
        402: response_doc(
            "Deposit not paid yet (session_not_paid), or the balance cannot cover the"
            " caller's part of the request's estimate (insufficient_balance); nothing is"
            " debited, from the balance or the pool"
        ),
        403: response_doc("The macaroon belongs to another session (macaroon_wrong_session)"),
        404: response_doc("No session has this id (malformed ids included)"),
        409: response_doc("The session has expired (session_expired)"),
        502: response_doc("The AI provider failed (ai_failed); nothing was debited"),
        503: response_doc("The AI provider is unavailable (ai_unavailable); nothing was debited"),
    },
)
def session_request(session_id: str, body: SessionRequestBody) -> SessionRequestResult:
    result = run_request(session_id, header(app, "authorization"), body.request)
    metrics.add_metric(name="SessionRequests", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="SessionSatsCharged", unit=MetricUnit.Count, value=result.charged_sats)
    if result.absorbed_sats:
        metrics.add_metric(
            name="PoolSatsGranted", unit=MetricUnit.Count, value=result.absorbed_sats
        )
    return result


handler = make_handler(app)
