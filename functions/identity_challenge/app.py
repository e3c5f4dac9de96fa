"""POST /api/identity/challenge"""

from __future__ import annotations

from timmy.api import HttpApi, make_handler
from timmy.identity.login import issue_challenge
from timmy.identity.views import ChallengeOut

app = HttpApi()


@app.post(
    "/api/identity/challenge",
    summary="Get a single-use nonce to sign with your Nostr key",
    description=(
        "Returns a nonce valid once, until expires_at. Sign a Nostr event whose content is"
        " exactly the nonce and send it to POST /api/identity/verify."
    ),
    tags=["identity"],
)
def challenge() -> ChallengeOut:
    return ChallengeOut.of(issue_challenge())


handler = make_handler(app)
