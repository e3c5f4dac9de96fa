"""Identity settings: challenge and token lifetimes, event freshness, trust arithmetic."""

from __future__ import annotations

from decimal import Decimal
from typing import Self

from pydantic import Field, model_validator

from timmy.data.identities import TrustRules
from timmy.server_secret import KeyLabel, derive_key
from timmy.settings import EnvSettings, load


class IdentitySettings(EnvSettings):
    identity_challenge_ttl_seconds: int = Field(default=300, ge=10, le=3600)
    nostr_token_ttl_seconds: int = Field(default=86_400, ge=60, le=30 * 86_400)
    nostr_event_max_age_seconds: int = Field(default=300, ge=5, le=3600)
    nostr_event_max_future_seconds: int = Field(default=60, ge=0, le=600)
    nip98_window_seconds: int = Field(default=60, ge=5, le=600)

    trust_threshold_established: int = Field(default=10, ge=1)
    trust_threshold_trusted: int = Field(default=50, ge=1)
    trust_threshold_elite: int = Field(default=200, ge=1)
    # Trust is earned by paying: a point per TRUST_SATS_PER_POINT sats paid for work, at most
    # TRUST_MAX_POINTS_PER_DAY a day; a rejected or failed job or request costs
    # TRUST_FAILURE_POINTS.
    trust_sats_per_point: int = Field(default=10, ge=1, le=100_000_000)
    trust_max_points_per_day: int = Field(default=20, ge=1, le=10_000)
    trust_failure_points: int = Field(default=10, ge=1, le=10_000)
    trust_decay_after_days: int = Field(default=30, ge=1, le=3650)
    trust_decay_pct: Decimal = Field(default=Decimal(10), ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not (
            self.trust_threshold_established
            < self.trust_threshold_trusted
            < self.trust_threshold_elite
        ):
            raise ValueError(
                "TRUST_THRESHOLD_ESTABLISHED < TRUST_THRESHOLD_TRUSTED < TRUST_THRESHOLD_ELITE"
            )
        return self

    @property
    def rules(self) -> TrustRules:
        return TrustRules(
            established=self.trust_threshold_established,
            trusted=self.trust_threshold_trusted,
            elite=self.trust_threshold_elite,
            decay_period_seconds=self.trust_decay_after_days * 86_400,
            decay_keep=(Decimal(100) - self.trust_decay_pct) / Decimal(100),
            sats_per_point=self.trust_sats_per_point,
            max_points_per_day=self.trust_max_points_per_day,
        )


def settings() -> IdentitySettings:
    return load(IdentitySettings)


def token_secret() -> bytes:
    """The nostr_token HMAC key, derived from SERVER_SECRET for this purpose only."""
    return derive_key(KeyLabel.NOSTR_TOKEN)
