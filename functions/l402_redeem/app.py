"""POST /api/v1/l402/redeem: move what is left on an L402 credential into an account."""

from __future__ import annotations

from timmy.api import HttpApi, header, make_handler, response_doc
from timmy.l402 import service
from timmy.l402.errors import InvalidL402
from timmy.l402.views import L402Redeemed

app = HttpApi()


@app.post(
    "/api/v1/l402/redeem",
    summary="Redeem an L402 credential's remainder into an account",
    description=(
        "`Authorization: L402 <macaroon>:<preimage>` (or `LSAT`): a genuine credential, expired"
        " or not, for any route. Its remaining balance moves into the `X-Token` account, else"
        " the account it was bound to (marketplace credentials), else a new account whose"
        " token is in the answer this once. Nothing left: 200 with `redeemed_sats` 0."
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
    authorization = header(app, "authorization")
    if authorization is None or not service.is_l402(authorization):
        raise InvalidL402("Send the credential as Authorization: L402 <macaroon>:<preimage>.")
    return service.redeem(authorization, header(app, "x-token"))


handler = make_handler(app)
