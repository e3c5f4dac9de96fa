"""POST /api/sessions: open a session; the deposit invoice comes back."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, Field, StrictInt

from timmy.api import HttpApi, created, header, make_handler, response_doc
from timmy.observability import metrics
from timmy.sessions.service import create_session
from timmy.sessions.views import SessionCreated

app = HttpApi()


class CreateSessionBody(BaseModel):
    amount_sats: StrictInt = Field(
        description="Deposit in whole sats, from SESSION_MIN_DEPOSIT_SATS to"
        " SESSION_MAX_DEPOSIT_SATS"
    )
    nostr_token: str | None = Field(
        default=None, description="Optional identity token (or header X-Nostr-Token)"
    )


@app.post(
    "/api/sessions",
    summary="Open a pre-funded session",
    description=(
        "Returns the deposit invoice. Poll GET /api/sessions/{session_id}: once the deposit is"
        " paid the session is active and the response carries its macaroon."
    ),
    tags=["sessions"],
    responses={
        201: response_doc("Session created, awaiting its deposit", SessionCreated),
        400: response_doc(
            "amount_sats missing, not an integer or out of bounds (amount_out_of_range);"
            " X-Nostr-Token and nostr_token differ (conflicting_tokens)"
        ),
        401: response_doc("A Nostr token was given but is invalid or expired"),
        502: response_doc(
            "lightning_bad_response: the Lightning backend answered nonsense; nothing changed"
        ),
        503: response_doc("The Lightning backend is unreachable; nothing was created"),
    },
)
def open_session(body: CreateSessionBody) -> Response[SessionCreated]:
    session = create_session(
        body.amount_sats,
        header_token=header(app, "x-nostr-token"),
        body_token=body.nostr_token,
    )
    metrics.add_metric(name="SessionsOpened", unit=MetricUnit.Count, value=1)
    return created(session)


handler = make_handler(app)
