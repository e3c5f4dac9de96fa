"""Test helper: Nostr identities placed in a trust tier (shared by the tests that need one)."""

from __future__ import annotations

from datetime import datetime

from nostr_keys import NostrKey

from timmy import identity
from timmy.data.identities import TrustTier
from timmy.db.connection import transaction
from timmy.identity.settings import settings as identity_settings


def make_identity(
    tier: TrustTier | str,
    pubkey: str | None = None,
    *,
    absorbed_today: int = 0,
    at: datetime | None = None,
) -> str:
    """An identity whose trust score puts it in ``tier``, last seen (and its day begun) at
    ``at`` (the database's clock when None), with ``absorbed_today`` sats of its daily free
    budget used. A fresh key is generated when no ``pubkey`` is given."""
    score = identity_settings().rules.threshold(TrustTier(tier))
    pubkey = pubkey or NostrKey().pubkey_hex
    with transaction() as tx:
        identity.ensure_identity(tx, pubkey)
        tx.execute(
            "UPDATE nostr_identities SET trust_score = :s, sats_absorbed_today = :a,"
            " last_seen = COALESCE(CAST(:at AS timestamptz), now()),"
            " absorbed_reset_at = COALESCE(CAST(:at AS timestamptz), now()) WHERE pubkey = :pk",
            s=score,
            a=absorbed_today,
            at=at,
            pk=pubkey,
        )
    return pubkey


def token_for(pubkey: str) -> str:
    return identity.issue_token(pubkey)[0]
