"""POST /api/sessions/{session_id}/topup: an invoice that refills the session's balance."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, Field, StrictInt

from timmy.api import HttpApi, created, json_response, make_handler, response_doc
from timmy.observability import metrics
from timmy.sessions.errors import TopupPending
from timmy.sessions.service import create_topup
from timmy.sessions.views import (
    SessionConflictError,
    SessionTopup,
    SessionTopupConflict,
)

app = HttpApi()


class SessionTopupBody(BaseModel):
    amount_sats: StrictInt = Field(description="Top-up in whole sats, within the deposit bounds")


@app.exception_handler(TopupPending)
def _topup_pending(error: TopupPending) -> Response:
    body = SessionTopupConflict(
        error=SessionConflictError(code=error.code, message=error.message),
        invoice=error.invoice,
    )
    return json_response(409, body)


@app.post(
    "/api/sessions/<session_id>/topup",
    summary="Top up a session",
    description=(
        "One top-up at a time: while one is pending (unpaid and unexpired) the answer is 409"
        " topup_pending with that invoice beside the error. Paying it credits the balance"
        " exactly once and a paused session becomes active again. No macaroon is needed:"
        " anyone who knows the session id may pay into it."
    ),
    tags=["sessions"],
    responses={
        201: response_doc("Top-up invoice issued", SessionTopup),
        400: response_doc("amount_sats missing, not an integer or out of bounds"),
        404: response_doc("No session has this id (malformed ids included)"),
        409: response_doc(
            "A top-up is pending (topup_pending, with its invoice beside the error), the"
            " deposit is not paid yet (deposit_pending) or the session has expired"
            " (session_expired)",
            SessionTopupConflict,
        ),
        502: response_doc(
            "lightning_bad_response: the Lightning backend answered nonsense; nothing changed"
        ),
        503: response_doc("The Lightning backend is unreachable; nothing was issued"),
    },
)
def topup_session(session_id: str, body: SessionTopupBody) -> Response[SessionTopup]:
    topup = create_topup(session_id, body.amount_sats)
    metrics.add_metric(name="TopupsInvoiced", unit=MetricUnit.Count, value=1)
    return created(topup)


handler = make_handler(app)
