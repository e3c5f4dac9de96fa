"""Nostr identity and trust: the public face used by jobs, sessions and the free tier.

Contract (shared with the Jobs and Sessions capabilities):

- ``resolve_token(token)``: None/empty → None (anonymous); a genuine unexpired token → its
  pubkey; anything else raises a 401 (``invalid_token`` / ``token_expired``).
- ``ensure_identity(tx, pubkey)``: get-or-create the ``nostr_identities`` row inside the
  caller's transaction, so a ``nostr_pubkey`` foreign key can be bound in that transaction.
- ``tier_of(pubkey)``: ``"anonymous"`` for None, else the tier after lazy decay (computed,
  never stored: reading changes no row).
- ``record_success(pubkey, paid_sats=…)`` / ``record_failure(pubkey)``: one atomic statement
  each, in its own transaction; concurrent calls lose no update. Only what the caller paid
  earns trust (see ``record_success``).

Every function that depends on the time takes an optional ``now`` so tests control the clock.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from timmy.data import identities as data
from timmy.db.connection import Db, Row, db, transaction
from timmy.errors import BadRequest
from timmy.identity.settings import IdentitySettings, settings, token_secret
from timmy.nostr import tokens

Tier = Literal["new", "established", "trusted", "elite"]
TierOrAnonymous = Literal["anonymous", "new", "established", "trusted", "elite"]
ANONYMOUS: TierOrAnonymous = "anonymous"
TIERS: tuple[Tier, ...] = ("new", "established", "trusted", "elite")

_PUBKEY_RE = re.compile(r"[0-9a-f]{64}")

__all__ = [
    "ANONYMOUS",
    "TIERS",
    "ConflictingTokens",
    "IdentitySettings",
    "TrustProfile",
    "caller",
    "ensure_identity",
    "issue_token",
    "profile",
    "record_failure",
    "record_success",
    "resolve_token",
    "tier_of",
    "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


def _check_pubkey(pubkey: str) -> None:
    if not isinstance(pubkey, str) or not _PUBKEY_RE.fullmatch(pubkey):
        raise ValueError("pubkey must be 64 lowercase hex characters")


def _as_tier(name: str) -> Tier:
    for tier in TIERS:
        if tier == name:
            return tier
    raise ValueError(f"unknown tier {name!r}")


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
    tier: Tier
    interaction_count: int
    success_count: int
    failure_count: int
    sats_absorbed_today: int
    last_seen: datetime
    created_at: datetime
    next_tier: Tier | None
    next_tier_score: int | None

    @classmethod
    def from_row(cls, row: Row, *, now: datetime, config: IdentitySettings) -> TrustProfile:
        rules = config.rules
        score = int(row["trust_score"])
        tier = _as_tier(rules.tier_for(score))
        thresholds: dict[Tier, int] = {
            "established": rules.established,
            "trusted": rules.trusted,
            "elite": rules.elite,
        }
        position = TIERS.index(tier)
        upcoming = TIERS[position + 1] if position + 1 < len(TIERS) else None
        # The free tier's daily counter restarts 24 h after it was last reset.
        absorbed_fresh = now - row["absorbed_reset_at"] < timedelta(days=1)
        return cls(
            pubkey=row["pubkey"],
            score=score,
            tier=tier,
            interaction_count=int(row["interaction_count"]),
            success_count=int(row["success_count"]),
            failure_count=int(row["failure_count"]),
            sats_absorbed_today=int(row["sats_absorbed_today"]) if absorbed_fresh else 0,
            last_seen=row["last_seen"],
            created_at=row["created_at"],
            next_tier=upcoming,
            next_tier_score=thresholds[upcoming] if upcoming else None,
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
    row = data.read_decayed(tx, pubkey, now=now, rules=config.rules)
    assert row is not None  # ensured just above
    return TrustProfile.from_row(row, now=now, config=config)


def tier_of(pubkey: str | None, *, now: datetime | None = None) -> TierOrAnonymous:
    """``"anonymous"`` for None; ``"new"`` for a pubkey never seen; else the decayed tier."""
    if pubkey is None:
        return ANONYMOUS
    _check_pubkey(pubkey)
    at = now or utcnow()
    config = settings()
    row = data.read_decayed(db(), pubkey, now=at, rules=config.rules)  # one read, no write
    if row is None:
        return "new"
    return TrustProfile.from_row(row, now=at, config=config).tier


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
