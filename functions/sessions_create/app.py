"""POST /api/sessions: open a session; the deposit invoice comes back."""

from __future__ import annotations

from pydantic import BaseModel, Field, StrictInt

from timmy.api import HttpApi, error_doc, header, make_handler, ok_doc
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
    status_code=201,
    responses={
        201: ok_doc("Session created, awaiting its deposit", SessionCreated),
        400: error_doc(
            "amount_sats missing, not an integer or out of bounds (amount_out_of_range);"
            " X-Nostr-Token and nostr_token differ (conflicting_tokens)"
        ),
        401: error_doc("A Nostr token was given but is invalid or expired"),
        502: error_doc(
            "lightning_bad_response: the Lightning backend answered nonsense; nothing changed"
        ),
        503: error_doc("The Lightning backend is unreachable; nothing was created"),
    },
)
def open_session(body: CreateSessionBody) -> SessionCreated:
    return create_session(
        body.amount_sats,
        header_token=header(app, "x-nostr-token"),
        body_token=body.nostr_token,
    )


handler = make_handler(app)
