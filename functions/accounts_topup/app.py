"""POST /api/v1/topup: always 402 with a top-up invoice (the peer's body), bound to an account."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, Field, StrictInt

from timmy.accounts import tokens
from timmy.accounts.service import start_topup
from timmy.accounts.views import AccountTopupChallenge
from timmy.api import HttpApi, base_url, header, make_handler, response_doc
from timmy.observability import metrics

app = HttpApi()


class AccountTopupBody(BaseModel):
    amount_sats: StrictInt = Field(
        description="Top-up in whole sats, from ACCOUNT_TOPUP_MIN_SATS to ACCOUNT_TOPUP_MAX_SATS"
    )


@app.post(
    "/api/v1/topup",
    summary="Top up a prepaid account (a new one when no X-Token is sent)",
    description=(
        "Always 402 with the invoice, bound to the X-Token's account or to a new account whose"
        " token is in the body this once. Paying it credits the account exactly once; claim it"
        " at claim_url with the token (a preimage alone never claims). X-Nostr-Token binds a"
        " new account to that identity."
    ),
    tags=["accounts"],
    responses={
        402: response_doc("The top-up invoice (the peer's shape)", AccountTopupChallenge),
        400: response_doc("amount_sats missing, not an integer or out of bounds"),
        401: response_doc("invalid_token: the X-Token names no account; a bad X-Nostr-Token"),
        502: response_doc("lightning_bad_response: the backend answered nonsense"),
        503: response_doc("The Lightning backend is unreachable; nothing was created"),
    },
)
def topup(body: AccountTopupBody) -> Response[dict[str, Any]]:
    challenge = start_topup(
        body.amount_sats,
        token=tokens.presented(header(app, "x-token"), header(app, "authorization")),
        nostr_token=header(app, "x-nostr-token"),
        base_url=base_url(app),
    )
    metrics.add_metric(name="AccountTopupsInvoiced", unit=MetricUnit.Count, value=1)
    # A dict, so that ``token`` is absent (not null) when the account already existed.
    return Response(402, "application/json", challenge.model_dump(mode="json", exclude_none=True))


handler = make_handler(app)
