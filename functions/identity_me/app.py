"""GET /api/identity/me"""

from __future__ import annotations

from timmy.api import HttpApi, header, make_handler, response_doc
from timmy.identity import profile
from timmy.identity.login import caller_pubkey
from timmy.identity.views import ProfileOut

app = HttpApi()


@app.get(
    "/api/identity/me",
    summary="The trust profile of the X-Nostr-Token holder",
    tags=["identity"],
    responses={
        200: response_doc("The caller's trust profile (decay applied).", ProfileOut),
        401: response_doc("missing_token, invalid_token or token_expired."),
    },
)
def me() -> ProfileOut:
    return ProfileOut.of(profile(caller_pubkey(header(app, "x-nostr-token"))))


handler = make_handler(app)
