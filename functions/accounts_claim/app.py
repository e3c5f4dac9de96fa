"""POST /api/v1/topup/claim: credit a paid top-up to the account it is bound to."""

from __future__ import annotations

from pydantic import BaseModel, Field, StrictStr

from timmy.accounts import tokens
from timmy.accounts.service import claim
from timmy.accounts.views import AccountClaim
from timmy.api import HttpApi, header, make_handler, response_doc

app = HttpApi()


class AccountClaimBody(BaseModel):
    preimage: StrictStr = Field(description="The top-up payment's preimage (64 hex characters)")
    token: StrictStr | None = Field(default=None, description="The account token (or X-Token)")


@app.post(
    "/api/v1/topup/claim",
    summary="Claim a paid top-up",
    description=(
        "Needs the token of the account the invoice is bound to: every routing node learns a"
        " preimage at settlement, so a preimage alone never claims. A claim after the credit"
        " (by webhook, polling or an earlier claim) is 200 with credited_sats 0."
    ),
    tags=["accounts"],
    responses={
        200: response_doc("Credited (or already credited)", AccountClaim),
        400: response_doc("invalid_payment: a malformed preimage, or one of no top-up of ours"),
        401: response_doc("missing_token; invalid_token: the token names no account"),
        402: response_doc("payment_pending: the invoice is not paid yet"),
        403: response_doc("wrong_account: the top-up belongs to another account"),
        502: response_doc("lightning_bad_response: the backend answered nonsense"),
        503: response_doc("The Lightning backend is unreachable; nothing changed"),
    },
)
def claim_topup(body: AccountClaimBody) -> AccountClaim:
    token = tokens.presented(header(app, "x-token"), header(app, "authorization"))
    if token is None:
        token = tokens.required(body.token, None)
    return claim(body.preimage, token)


handler = make_handler(app)
