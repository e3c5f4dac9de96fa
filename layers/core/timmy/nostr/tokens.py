"""``nostr_token``: a short HMAC-signed bearer token naming a verified Nostr pubkey.

Format (URL-safe, ASCII): ``v1.<pubkey hex>.<expires_at unix>.<base64url HMAC-SHA256, unpadded>``.
The MAC covers a domain-separation label, the version, the pubkey and the expiry, so a token
can neither be re-pointed at another key nor extended, and the secret cannot be confused
with another HMAC use of the same key material.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from timmy.errors import Unauthorized

VERSION = "v1"
_LABEL = b"timmy-nostr-token\x00"
# Exactly the shape issue_token produces: canonical decimal (no sign, no leading zeros, ASCII
# digits only) and a 32-byte MAC as 43 unpadded base64url characters.
_TOKEN_RE = re.compile(r"v1\.([0-9a-f]{64})\.(0|[1-9][0-9]{0,15})\.([A-Za-z0-9_-]{43})")
_PUBKEY_RE = re.compile(r"[0-9a-f]{64}")
MAX_TOKEN_CHARS = 256
MIN_SECRET_BYTES = 16


class InvalidToken(Unauthorized):
    code = "invalid_token"


class TokenExpired(Unauthorized):
    code = "token_expired"


def issue_token(pubkey: str, *, secret: bytes, now: int, ttl_seconds: int) -> tuple[str, int]:
    """Return ``(token, expires_at)`` for a verified ``pubkey`` (64 lowercase hex).

    Raises ValueError for a programming error (bad pubkey, short secret, non-positive ttl).
    """
    if not _PUBKEY_RE.fullmatch(pubkey):
        raise ValueError("pubkey must be 64 lowercase hex characters")
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")
    _check_secret(secret)
    expires_at = now + ttl_seconds
    body = f"{VERSION}.{pubkey}.{expires_at}"
    return f"{body}.{_mac(secret, body)}", expires_at


def verify_token(token: str, *, secret: bytes, now: int) -> str:
    """Return the pubkey named by a genuine, unexpired token.

    Raises ``InvalidToken`` (401) for anything malformed, tampered or signed with another
    secret, and ``TokenExpired`` (401) for a genuine token at or past its expiry.
    """
    _check_secret(secret)
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise InvalidToken("The Nostr token is not valid.")
    match = _TOKEN_RE.fullmatch(token)
    if match is None:
        raise InvalidToken("The Nostr token is not valid.")
    pubkey, expires_at, mac = match.groups()
    body = token[: match.start(3) - 1]
    # The regex guarantees ASCII, which compare_digest requires for str arguments.
    if not hmac.compare_digest(_mac(secret, body), mac):
        raise InvalidToken("The Nostr token is not valid.")
    if now >= int(expires_at):
        raise TokenExpired("The Nostr token has expired; verify your identity again.")
    return pubkey


def _mac(secret: bytes, body: str) -> str:
    digest = hmac.new(secret, _LABEL + body.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _check_secret(secret: bytes) -> None:
    if not isinstance(secret, bytes) or len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"the token secret must be at least {MIN_SECRET_BYTES} bytes")
