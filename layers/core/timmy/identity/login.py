"""Proving control of a Nostr key: challenge → signed event → ``nostr_token``, or NIP-98.

Crypto is checked before any nonce is touched, so a forged or malformed event never burns a
genuine user's challenge; the nonce is consumed last, by one conditional UPDATE, so two
concurrent verifications of the same nonce yield exactly one token.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from timmy import identity
from timmy.data import identities as data
from timmy.db.connection import transaction
from timmy.errors import BadRequest, Unauthorized
from timmy.identity.settings import settings
from timmy.nostr import nip98
from timmy.nostr.events import NostrEvent, auth_challenge, parse_event, verify_event
from timmy.settings import public_base_url

_NONCE_RE = re.compile(r"[0-9a-f]{64}")
# Long-expired rows are swept in small batches as new ones arrive; a day's grace keeps
# "nonce_expired" (rather than "unknown_nonce") for anyone retrying a recent challenge.
_PURGE_GRACE = timedelta(days=1)
_NOT_A_NONCE = (
    "The event names no challenge nonce issued by this server (in its content, or in a"
    " NIP-42 challenge tag of a kind 22242 event)."
)


class UnknownNonce(Unauthorized):
    code = "unknown_nonce"


class NonceExpired(Unauthorized):
    code = "nonce_expired"


class NonceUsed(Unauthorized):
    code = "nonce_used"


class PubkeyMismatch(Unauthorized):
    code = "pubkey_mismatch"


class ReplayedEvent(Unauthorized):
    code = "replayed_event"


class MissingToken(Unauthorized):
    code = "missing_token"


class MissingCredentials(Unauthorized):
    code = "missing_credentials"


class ConflictingCredentials(BadRequest):
    code = "conflicting_credentials"


@dataclass(frozen=True)
class Challenge:
    nonce: str
    expires_at: datetime


@dataclass(frozen=True)
class Login:
    nostr_token: str
    expires_at: datetime
    profile: identity.TrustProfile


def issue_challenge(*, now: datetime | None = None) -> Challenge:
    at = now or identity.utcnow()
    expires_at = at + timedelta(seconds=settings().identity_challenge_ttl_seconds)
    nonce = secrets.token_hex(32)
    with transaction() as tx:
        data.purge_challenges(tx, expired_before=at - _PURGE_GRACE)
        data.insert_challenge(tx, nonce, expires_at=expires_at)
    return Challenge(nonce=nonce, expires_at=expires_at)


def verify_signed_challenge(
    event_data: Any, *, claimed_pubkey: str | None = None, now: datetime | None = None
) -> Login:
    """Check a signed event answering a challenge nonce; consume the nonce; log in.

    The nonce is the event's content, or, NIP-42 style, the ``challenge`` tag of a kind 22242
    event with empty content (:func:`timmy.nostr.events.auth_challenge`).

    Raises ``MalformedEvent`` (400) or, all 401: ``PubkeyMismatch``, ``InvalidEventId``,
    ``InvalidSignature``, ``StaleEvent``, ``UnknownNonce``, ``NonceExpired``, ``NonceUsed``.
    """
    at = now or identity.utcnow()
    config = settings()
    event = parse_event(event_data)
    if claimed_pubkey is not None and claimed_pubkey != event.pubkey:
        raise PubkeyMismatch("The pubkey field does not match the event's pubkey.")
    verify_event(
        event,
        now=int(at.timestamp()),
        max_age_seconds=config.nostr_event_max_age_seconds,
        max_future_seconds=config.nostr_event_max_future_seconds,
    )
    nonce = auth_challenge(event)
    if not _NONCE_RE.fullmatch(nonce):
        raise UnknownNonce(_NOT_A_NONCE)
    with transaction() as tx:
        found = data.consume_challenge_and_sight(
            tx, nonce, pubkey=event.pubkey, now=at, rules=config.rules
        )
        if found is None:
            raise _why_not_consumable(data.get_challenge(tx, nonce))
    return _login(identity.TrustProfile.of(found, config), at)


def verify_http_auth(
    authorization_header: str,
    *,
    url: str,
    method: str,
    body: bytes | None,
    claimed_pubkey: str | None = None,
    now: datetime | None = None,
) -> Login:
    """Log in with a NIP-98 ``Authorization: Nostr …`` header bound to this very request.

    Raises the ``timmy.nostr.nip98`` 401 errors, and ``ReplayedEvent`` (401) for an event id
    already used within its window.
    """
    at = now or identity.utcnow()
    config = settings()
    window = config.nip98_window_seconds
    event: NostrEvent = nip98.verify_http_auth_event(
        authorization_header,
        url=url,
        method=method,
        body=body,
        now=int(at.timestamp()),
        window_seconds=window,
    )
    if claimed_pubkey is not None and claimed_pubkey != event.pubkey:
        raise PubkeyMismatch("The pubkey field does not match the event's pubkey.")
    # Past this instant the event is refused as stale, so the id need not be kept longer.
    forget_after = datetime.fromtimestamp(event.created_at + window + 1, UTC)
    with transaction() as tx:
        data.purge_auth_events(tx, expired_before=at)
        found = data.claim_auth_event_and_sight(
            tx, event.id, pubkey=event.pubkey, forget_after=forget_after, now=at, rules=config.rules
        )
    if found is None:
        raise ReplayedEvent("This NIP-98 event was already used; sign a new one.")
    return _login(identity.TrustProfile.of(found, config), at)


def log_in(
    *,
    event: NostrEvent | None,
    claimed_pubkey: str | None,
    authorization: str | None,
    request_url: str,
    method: str,
    body: bytes,
    now: datetime | None = None,
) -> Login:
    """POST /identity/verify: a signed challenge in the body, or else a NIP-98 header."""
    nip98_header = authorization if _is_nostr_scheme(authorization) else None
    if event is not None:
        if nip98_header is not None:
            raise ConflictingCredentials(
                "Send either a signed challenge event or a NIP-98 header, not both."
            )
        return verify_signed_challenge(
            event.model_dump(mode="json"), claimed_pubkey=claimed_pubkey, now=now
        )
    if nip98_header is None:
        raise MissingCredentials(
            "Send a signed challenge event in the body or an 'Authorization: Nostr' header."
        )
    return verify_http_auth(
        nip98_header,
        url=request_url,
        method=method,
        body=body,
        claimed_pubkey=claimed_pubkey,
        now=now,
    )


def caller_pubkey(token: str | None) -> str:
    """The pubkey of a request that must carry a nostr_token (401 without one)."""
    pubkey = identity.resolve_token(token)
    if pubkey is None:
        raise MissingToken("This endpoint needs an X-Nostr-Token header.")
    return pubkey


def public_request_url(
    *, domain_name: str, forwarded_proto: str | None, raw_path: str, raw_query: str
) -> str:
    """The absolute URL the caller used, as a NIP-98 ``u`` tag must name it.

    The base is :func:`timmy.settings.public_base_url` (PUBLIC_BASE_URL, else the API Gateway
    domain; never ``X-Forwarded-Host``, which would let an event signed for another service's
    URL be replayed here).
    """
    base = public_base_url(domain_name, forwarded_proto)
    return base + raw_path + (f"?{raw_query}" if raw_query else "")


def _is_nostr_scheme(authorization: str | None) -> bool:
    if not authorization:
        return False
    return authorization.strip().partition(" ")[0].lower() == nip98.SCHEME


def _why_not_consumable(challenge: data.Challenge | None) -> Unauthorized:
    if challenge is None:
        return UnknownNonce(_NOT_A_NONCE)
    if challenge.used_at is not None:
        return NonceUsed("This challenge was already used; request a new one.")
    return NonceExpired("This challenge has expired; request a new one.")


def _login(profile: identity.TrustProfile, at: datetime) -> Login:
    token, expires_at = identity.issue_token(profile.pubkey, now=int(at.timestamp()))
    return Login(
        nostr_token=token,
        expires_at=datetime.fromtimestamp(expires_at, UTC),
        profile=profile,
    )
