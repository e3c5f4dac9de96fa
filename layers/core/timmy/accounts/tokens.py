"""Account tokens: ``tmy_`` + 43 url-safe characters, shown once, stored only as sha256.

A token is never logged: only its hash reaches the database, and callers log account ids.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from timmy.accounts.errors import InvalidToken, MissingToken

PREFIX = "tmy_"
_TOKEN_RE = re.compile(r"tmy_[A-Za-z0-9_-]{43}")


def new_token() -> str:
    # 32 random bytes are 43 url-safe base64 characters.
    return PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def presented(x_token: str | None, authorization: str | None) -> str | None:
    """The token a request carries, as ``X-Token`` or ``Authorization: Bearer``; None if none.

    A malformed one is 401 ``invalid_token`` (it can name no account).
    """
    token = (x_token or "").strip()
    if not token and authorization and authorization.strip():
        scheme, _, rest = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            raise InvalidToken("Authorization must be: Bearer <account token>.")
        token = rest.strip()
    if not token:
        return None
    if not _TOKEN_RE.fullmatch(token):
        raise InvalidToken("This token names no account.")
    return token


def required(x_token: str | None, authorization: str | None) -> str:
    token = presented(x_token, authorization)
    if token is None:
        raise MissingToken("This request needs the account token: X-Token: <token>.")
    return token
