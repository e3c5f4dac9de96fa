"""Session macaroons wired to configuration: the key, the bearer header, and verification."""

from __future__ import annotations

import time

from timmy import macaroons
from timmy.server_secret import KeyLabel, derive_key
from timmy.sessions.errors import MissingMacaroon


def macaroon_secret() -> bytes:
    """The session macaroons' key, derived from SERVER_SECRET for this purpose only."""
    return derive_key(KeyLabel.SESSION_MACAROON)


def mint(session_id: str, expires_at: int) -> str:
    """The session's macaroon. Deterministic: the same session always gets the same one."""
    return macaroons.mint_session_macaroon(
        session_id, server_secret=macaroon_secret(), expires_at=expires_at
    )


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <macaroon>`` header.

    No header (or an empty one) → 401 ``missing_macaroon``; another scheme or no token → 401
    ``invalid_macaroon``.
    """
    if authorization is None or not authorization.strip():
        raise MissingMacaroon(
            "This request needs the session macaroon: Authorization: Bearer <macaroon>."
        )
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise macaroons.InvalidMacaroon(
            "The Authorization header must be: Bearer <session macaroon>."
        )
    return token


def authorize(
    authorization: str | None,
    session_id: str,
    *,
    now: int | None = None,
    allow_expired: bool = False,
) -> None:
    """Accept only a genuine, unexpired macaroon of ``session_id`` (401 / 403 otherwise).

    ``allow_expired``: the macaroon's expiry bounds spending the balance, not getting it
    back, so withdrawals accept a genuine macaroon past its expiry.
    """
    token = bearer_token(authorization)
    macaroons.verify_session_macaroon(
        token,
        session_id=session_id,
        server_secret=macaroon_secret(),
        now=int(time.time()) if now is None else now,
        check_expiry=not allow_expired,
    )
