"""POST /api/identity/challenge"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from timmy.api import install_error_handlers, make_handler
from timmy.identity.login import issue_challenge
from timmy.identity.views import ChallengeOut

app = APIGatewayHttpResolver(enable_validation=True)
install_error_handlers(app)


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
