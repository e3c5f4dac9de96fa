"""Nostr identity and trust: the public face used by jobs, sessions and the free tier.

Contract (shared with the Jobs and Sessions capabilities):

- ``resolve_token(token)``: None/empty → None (anonymous); a genuine unexpired token → its
  pubkey; anything else raises a 401 (``invalid_token`` / ``token_expired``).
- ``ensure_identity(tx, pubkey)``: get-or-create the ``nostr_identities`` row inside the
  caller's transaction, so a ``nostr_pubkey`` foreign key can be bound in that transaction.
- ``tier_of(pubkey)``: ``"anonymous"`` for None, else the tier after lazy decay (computed,
  never stored: reading changes no row).
- ``record_success(pubkey, paid_sats=…)`` / ``record_failure(pubkey)``: one atomic statement
  each, in its own transaction (called inside one, they raise ``NestedTransactionError``
  rather than commit the caller's half-way); concurrent calls lose no update. Only what the
  caller paid earns trust (see ``record_success``).

Every function that depends on the time takes an optional ``now`` so tests control the clock.
"""

from timmy.data.identities import TrustTier
from timmy.identity.service import (
    TIERS,
    ConflictingTokens,
    TrustProfile,
    caller,
    ensure_identity,
    issue_token,
    profile,
    record_failure,
    record_success,
    resolve_token,
    tier_of,
    utcnow,
)

__all__ = [
    "TIERS",
    "ConflictingTokens",
    "TrustProfile",
    "TrustTier",
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
