"""The JSON shapes of identity results, shared by the identity endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from timmy.api import ErrorEnvelope
from timmy.data.identities import TrustTier
from timmy.identity.login import Challenge, Login
from timmy.identity.service import TrustProfile


class ChallengeOut(BaseModel):
    nonce: str = Field(description="Sign a Nostr event whose content is exactly this nonce.")
    expires_at: datetime

    @classmethod
    def of(cls, challenge: Challenge) -> ChallengeOut:
        return cls(nonce=challenge.nonce, expires_at=challenge.expires_at)


class TrustOut(BaseModel):
    score: int
    tier: TrustTier
    interaction_count: int
    success_count: int
    failure_count: int
    sats_absorbed_today: int
    last_seen: datetime
    created_at: datetime
    next_tier: TrustTier | None = Field(description="The tier above this one (null at the top).")
    next_tier_score: int | None = Field(description="The score that reaches next_tier.")

    @classmethod
    def of(cls, profile: TrustProfile) -> TrustOut:
        return cls(
            score=profile.score,
            tier=profile.tier,
            interaction_count=profile.interaction_count,
            success_count=profile.success_count,
            failure_count=profile.failure_count,
            sats_absorbed_today=profile.sats_absorbed_today,
            last_seen=profile.last_seen,
            created_at=profile.created_at,
            next_tier=profile.next_tier,
            next_tier_score=profile.next_tier_score,
        )


class ProfileOut(BaseModel):
    pubkey: str
    trust_tier: TrustTier
    trust: TrustOut

    @classmethod
    def of(cls, profile: TrustProfile) -> ProfileOut:
        return cls(pubkey=profile.pubkey, trust_tier=profile.tier, trust=TrustOut.of(profile))


class LoginOut(BaseModel):
    nostr_token: str = Field(description="Send as header X-Nostr-Token (or body nostr_token).")
    expires_at: datetime = Field(description="When nostr_token stops being accepted.")
    pubkey: str
    trust_tier: TrustTier
    trust: TrustOut

    @classmethod
    def of(cls, login: Login) -> LoginOut:
        return cls(
            nostr_token=login.nostr_token,
            expires_at=login.expires_at,
            pubkey=login.profile.pubkey,
            trust_tier=login.profile.tier,
            trust=TrustOut.of(login.profile),
        )


def documented_responses(ok: str, **errors: str) -> dict[int, Any]:
    """OpenAPI ``responses`` for a route: the success (its return model) and error envelopes.

    Keys of ``errors`` are ``e401`` style; values list the codes that status can carry.
    """
    responses: dict[int, Any] = {200: {"description": ok}}
    for key, description in errors.items():
        responses[int(key.removeprefix("e"))] = {
            "description": description,
            "content": {"application/json": {"model": ErrorEnvelope}},
        }
    return responses
