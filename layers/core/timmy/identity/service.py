"""Nostr identity and trust: tokens, the trust profile and tier, outcomes (see
:mod:`timmy.identity`)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from timmy.data import identities as data
from timmy.data.identities import Identity, TrustTier
from timmy.db.connection import Db, db, transaction
from timmy.errors import BadRequest
from timmy.identity.settings import IdentitySettings, settings, token_secret
from timmy.nostr import tokens

# An identity's tiers, lowest first (``TrustTier.ANONYMOUS`` is no identity's).
TIERS: tuple[TrustTier, ...] = (
    TrustTier.NEW,
    TrustTier.ESTABLISHED,
    TrustTier.TRUSTED,
    TrustTier.ELITE,
)

_PUBKEY_RE = re.compile(r"[0-9a-f]{64}")


def utcnow() -> datetime:
    return datetime.now(UTC)


def _check_pubkey(pubkey: str) -> None:
    if not isinstance(pubkey, str) or not _PUBKEY_RE.fullmatch(pubkey):
        raise ValueError("pubkey must be 64 lowercase hex characters")


# ---------------------------------------------------------------- tokens


def resolve_token(token: str | None, *, now: int | None = None) -> str | None:
    """The pubkey a ``nostr_token`` names; None when no token was given.

    A token that is present but malformed, tampered or expired raises ``InvalidToken`` or
    ``TokenExpired`` (401): it is never silently treated as anonymous.
    """
    if token is None or token == "":
        return None
    at = int(time.time()) if now is None else now
    return tokens.verify_token(token, secret=token_secret(), now=at)


class ConflictingTokens(BadRequest):
    """``X-Nostr-Token`` and the body's ``nostr_token`` were both given and differ."""

    code = "conflicting_tokens"


def caller(
    header_token: str | None, body_token: str | None = None, *, now: int | None = None
) -> str | None:
    """The pubkey a caller proved with the one token it sent (header or body field), or None
    when it sent none; two different tokens are a 400, a bad one a 401."""
    header_token = header_token or None
    body_token = body_token or None
    if header_token and body_token and header_token != body_token:
        raise ConflictingTokens("X-Nostr-Token and nostr_token differ; send one token.")
    return resolve_token(header_token or body_token, now=now)


def issue_token(pubkey: str, *, now: int | None = None) -> tuple[str, int]:
    """``(nostr_token, expires_at unix)`` for a pubkey whose control was just proven."""
    at = int(time.time()) if now is None else now
    return tokens.issue_token(
        pubkey, secret=token_secret(), now=at, ttl_seconds=settings().nostr_token_ttl_seconds
    )


# ---------------------------------------------------------------- trust


@dataclass(frozen=True)
class TrustProfile:
    pubkey: str
    score: int
    tier: TrustTier
    interaction_count: int
    success_count: int
    failure_count: int
    sats_absorbed_today: int
    last_seen: datetime
    created_at: datetime
    next_tier: TrustTier | None
    next_tier_score: int | None

    @classmethod
    def of(cls, found: Identity, config: IdentitySettings) -> TrustProfile:
        position = TIERS.index(found.tier)
        upcoming = TIERS[position + 1] if position + 1 < len(TIERS) else None
        return cls(
            pubkey=found.pubkey,
            score=found.trust_score,
            tier=found.tier,
            interaction_count=found.interaction_count,
            success_count=found.success_count,
            failure_count=found.failure_count,
            sats_absorbed_today=found.sats_absorbed_today,
            last_seen=found.last_seen,
            created_at=found.created_at,
            next_tier=upcoming,
            next_tier_score=None if upcoming is None else config.rules.threshold(upcoming),
        )


def ensure_identity(tx: Db, pubkey: str) -> None:
    """Get-or-create the identity row inside the caller's transaction."""
    _check_pubkey(pubkey)
    data.ensure(tx, pubkey)


def profile(pubkey: str, *, now: datetime | None = None, tx: Db | None = None) -> TrustProfile:
    """The trust profile after lazy decay (computed, not stored), creating the identity if it
    is missing."""
    _check_pubkey(pubkey)
    at = now or utcnow()
    config = settings()
    if tx is not None:
        return _profile_in(tx, pubkey, at, config)
    with transaction() as own:
        return _profile_in(own, pubkey, at, config)


def _profile_in(tx: Db, pubkey: str, now: datetime, config: IdentitySettings) -> TrustProfile:
    data.ensure(tx, pubkey)
    found = data.read_decayed(tx, pubkey, now=now, rules=config.rules)
    assert found is not None  # ensured just above
    return TrustProfile.of(found, config)


def tier_of(pubkey: str | None, *, now: datetime | None = None) -> TrustTier:
    """``ANONYMOUS`` for None; ``NEW`` for a pubkey never seen; else the decayed tier."""
    if pubkey is None:
        return TrustTier.ANONYMOUS
    _check_pubkey(pubkey)
    found = data.read_decayed(db(), pubkey, now=now or utcnow(), rules=settings().rules)
    return TrustTier.NEW if found is None else found.tier  # one read, no write


def record_success(pubkey: str | None, *, paid_sats: int, now: datetime | None = None) -> None:
    """Work for this identity succeeded, the caller paying ``paid_sats`` for it (0 when the free
    tier paid it all). Only paying earns trust: a point per ``TRUST_SATS_PER_POINT`` sats paid
    in the identity's day, at most ``TRUST_MAX_POINTS_PER_DAY`` a day; a free success is
    counted but earns nothing. None (anonymous) is a no-op."""
    if paid_sats < 0:
        raise ValueError("paid_sats must not be negative")
    if pubkey is None:
        return
    _record(pubkey, now, paid_sats=paid_sats, successes=1)


def record_failure(pubkey: str | None, *, now: datetime | None = None) -> None:
    """Work for this identity was rejected or failed: it costs ``TRUST_FAILURE_POINTS``.
    None (anonymous) is a no-op."""
    if pubkey is None:
        return
    _record(pubkey, now, penalty=settings().trust_failure_points, failures=1)


def _record(
    pubkey: str,
    now: datetime | None,
    *,
    paid_sats: int = 0,
    penalty: int = 0,
    successes: int = 0,
    failures: int = 0,
) -> None:
    _check_pubkey(pubkey)
    with transaction() as tx:
        data.record_outcome(
            tx,
            pubkey,
            now=now or utcnow(),
            rules=settings().rules,
            paid_sats=paid_sats,
            penalty=penalty,
            successes=successes,
            failures=failures,
        )
