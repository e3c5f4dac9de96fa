"""NIP-98 HTTP Auth: ``Authorization: Nostr <base64 kind-27235 event JSON>``.

The event must be signed (NIP-01), fresh (``created_at`` within the window), and bound to
this request: its ``u`` tag is the exact absolute URL including the query, its ``method`` tag
the HTTP method, and its ``payload`` tag the sha256 hex of the body whenever a body is sent.
Tags are only compared once the signature has been checked, so the codes about the request
binding are only ever reported for authentic events.

Replay inside the window is not prevented here: callers that need it can remember the ids
returned by ``verify_http_auth_event`` for ``window_seconds``.
"""

from __future__ import annotations

import base64
import hashlib
import json

from pydantic import ValidationError

from timmy.errors import Unauthorized
from timmy.nostr.events import NostrEvent, verify_event

HTTP_AUTH_KIND = 27235
SCHEME = "nostr"
# API Gateway caps all headers at ~10 KiB; refusing anything larger early bounds the work.
MAX_HEADER_CHARS = 16 * 1024


class InvalidAuthHeader(Unauthorized):
    code = "invalid_auth_header"


class WrongKind(Unauthorized):
    code = "wrong_kind"


class UrlMismatch(Unauthorized):
    code = "url_mismatch"


class MethodMismatch(Unauthorized):
    code = "method_mismatch"


class PayloadMismatch(Unauthorized):
    code = "payload_mismatch"


def parse_http_auth_header(authorization_header: str) -> NostrEvent:
    """Decode the header into an event, checking only its shape. Raises ``InvalidAuthHeader``."""
    if not isinstance(authorization_header, str) or len(authorization_header) > MAX_HEADER_CHARS:
        raise InvalidAuthHeader("Expected 'Authorization: Nostr <base64 event>'.")
    scheme, _, token = authorization_header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != SCHEME or not token:
        raise InvalidAuthHeader("Expected 'Authorization: Nostr <base64 event>'.")
    try:
        # Some clients drop the padding; restore it before the strict decode.
        raw = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
        data = json.loads(raw)
        return NostrEvent.model_validate(data)
    # ValueError covers bad base64 (binascii.Error), non-UTF-8 bytes and bad JSON;
    # RecursionError covers absurdly nested JSON.
    except (ValueError, RecursionError, ValidationError):
        raise InvalidAuthHeader("The Nostr authorization event could not be decoded.") from None


def verify_http_auth_event(
    authorization_header: str,
    *,
    url: str,
    method: str,
    body: bytes | None,
    now: int,
    window_seconds: int = 60,
) -> NostrEvent:
    """Verify a NIP-98 header for this request and return the authenticated event.

    Raises (all 401): ``InvalidAuthHeader``, ``WrongKind``, the ``verify_event`` errors
    (``InvalidEventId``, ``InvalidSignature``, ``StaleEvent``), ``UrlMismatch``,
    ``MethodMismatch``, ``PayloadMismatch``.
    """
    event = parse_http_auth_header(authorization_header)
    if event.kind != HTTP_AUTH_KIND:
        raise WrongKind(f"A NIP-98 auth event must be of kind {HTTP_AUTH_KIND}.")
    verify_event(event, now=now, max_age_seconds=window_seconds, max_future_seconds=window_seconds)
    _check_url(event, url)
    _check_method(event, method)
    _check_payload(event, body)
    return event


def verify_http_auth(
    authorization_header: str,
    *,
    url: str,
    method: str,
    body: bytes | None,
    now: int,
    window_seconds: int = 60,
) -> str:
    """Verify a NIP-98 header for this request and return the signer's hex pubkey.

    Raises the same 401 errors as ``verify_http_auth_event``.
    """
    event = verify_http_auth_event(
        authorization_header,
        url=url,
        method=method,
        body=body,
        now=now,
        window_seconds=window_seconds,
    )
    return event.pubkey


def _single_tag(event: NostrEvent, name: str) -> str | None:
    """The value of the only ``name`` tag; None when it is missing or repeated (ambiguous)."""
    values = event.tag_values(name)
    return values[0] if len(values) == 1 else None


def _check_url(event: NostrEvent, url: str) -> None:
    if _single_tag(event, "u") != url:
        raise UrlMismatch("The event's 'u' tag must be exactly the request URL.")


def _check_method(event: NostrEvent, method: str) -> None:
    signed = _single_tag(event, "method")
    # Method names are tokens; upper-casing both sides only forgives a client's spelling.
    if signed is None or signed.upper() != method.upper():
        raise MethodMismatch("The event's 'method' tag must be the request method.")


def _check_payload(event: NostrEvent, body: bytes | None) -> None:
    values = event.tag_values("payload")
    if not values and not body:
        return
    if len(values) != 1:
        raise PayloadMismatch("A request with a body needs one 'payload' tag (sha256 hex).")
    # A payload tag is honoured even without a body: it then has to be the empty body's hash,
    # so a body the client signed cannot be dropped in transit.
    expected = hashlib.sha256(body or b"").hexdigest()
    if values[0].lower() != expected:
        raise PayloadMismatch("The 'payload' tag does not match the sha256 of the request body.")
