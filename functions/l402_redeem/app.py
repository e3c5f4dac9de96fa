"""POST /api/v1/l402/redeem: move what is left on an L402 credential into an account."""

from __future__ import annotations

from timmy.api import HttpApi, header, make_handler, response_doc
from timmy.l402 import service
from timmy.l402.views import L402Redeemed

app = HttpApi()


@app.post(
    "/api/v1/l402/redeem",
    summary="Redeem an L402 credential's remainder into an account",
    description=(
        "`Authorization: L402 <macaroon>:<preimage>` (or `LSAT`): a genuine credential, expired"
        " or not, for any route. Its remaining balance moves into the `X-Token` account, else"
        " the account it was bound to (marketplace credentials), else a new account whose"
        " token is in the answer this once. Nothing left: 200 with `redeemed_sats` 0 (and no"
        " new account: `account_id` null when none was named)."
    ),
    tags=["l402"],
    responses={
        200: response_doc("The remainder moved (or nothing was left)", L402Redeemed),
        401: response_doc(
            "invalid_l402: no, a forged, tampered or unknown credential; invalid_token"
        ),
        503: response_doc("The Lightning backend is unreachable; nothing changed"),
    },
)
def redeem() -> L402Redeemed:
    return service.redeem(header(app, "authorization"), header(app, "x-token"))


handler = make_handler(app)
