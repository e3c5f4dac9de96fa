"""L402 settings: the smallest invoice, and how long a credential stays valid."""

from __future__ import annotations

from pydantic import Field

from timmy.settings import EnvSettings, load


class L402Settings(EnvSettings):
    # The least an L402 invoice asks (a request's maximum cost below it is rounded up to it).
    l402_min_sats: int = Field(default=1, ge=1, le=1_000_000)
    # The server's timmy_valid_until caveat: this long after minting. A remainder left on an
    # expired credential can still be redeemed into an account (POST /api/v1/l402/redeem).
    l402_valid_seconds: int = Field(default=30 * 86_400, ge=60, le=366 * 86_400)


def l402_settings() -> L402Settings:
    return load(L402Settings)
