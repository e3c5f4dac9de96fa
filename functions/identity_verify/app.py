"""POST /api/identity/verify"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, Field

from timmy.api import HttpApi, header, make_handler, response_doc
from timmy.identity.login import log_in, public_request_url
from timmy.identity.views import LoginOut
from timmy.nostr.events import Hex32, NostrEvent
from timmy.observability import metrics

app = HttpApi()


class VerifyRequest(BaseModel):
    event: NostrEvent | None = Field(
        default=None,
        description="A signed NIP-01 event answering a nonce from /identity/challenge: either"
        " the NIP-42 AUTH shape (kind 22242, empty content, the nonce in a ['challenge', nonce]"
        " tag) or any kind with the nonce as its content. Omit it to authenticate with a"
        " NIP-98 'Authorization: Nostr …' header instead.",
    )
    pubkey: Hex32 | None = Field(
        default=None, description="Optional; when given it must equal the signer's pubkey."
    )


@app.post(
    "/api/identity/verify",
    summary="Prove control of a Nostr key and get a nostr_token",
    description=(
        "Either a signed challenge in the body, or a NIP-98 header (kind 27235 with u, method"
        " and, when a body is sent, payload tags) with no body event. The token is returned in"
        " the body and in the X-Nostr-Token response header."
    ),
    tags=["identity"],
    responses={
        200: response_doc("A nostr_token for the proven pubkey, with its trust profile.", LoginOut),
        400: response_doc("invalid_request, malformed_event or conflicting_credentials."),
        401: response_doc(
            "missing_credentials, invalid_event_id, invalid_signature, stale_event,"
            " unknown_nonce, nonce_expired, nonce_used, pubkey_mismatch; for NIP-98 also"
            " invalid_auth_header, wrong_kind, url_mismatch, method_mismatch, payload_mismatch,"
            " replayed_event."
        ),
    },
)
def verify(request: Annotated[VerifyRequest | None, Body()] = None) -> Response[LoginOut]:
    current = app.current_event
    login = log_in(
        event=request.event if request else None,
        claimed_pubkey=request.pubkey if request else None,
        authorization=header(app, "authorization"),
        request_url=_request_url(),
        method=current.request_context.http.method,
        body=current.raw_body,
    )
    out = LoginOut.of(login)
    metrics.add_metric(name="Logins", unit=MetricUnit.Count, value=1)
    # The token also travels as a header (CORS exposes X-Nostr-Token) for clients that keep
    # credentials out of JSON bodies.
    return Response(200, "application/json", out, headers={"X-Nostr-Token": out.nostr_token})


def _request_url() -> str:
    current = app.current_event
    return public_request_url(
        domain_name=current.request_context.domain_name,
        forwarded_proto=header(app, "x-forwarded-proto"),
        raw_path=current.raw_path,
        raw_query=current.raw_query_string,
    )


handler = make_handler(app)
