"""Account settings: the bounds of one top-up."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from timmy.settings import EnvSettings, load


class AccountSettings(EnvSettings):
    account_topup_min_sats: int = Field(default=1, ge=1)
    account_topup_max_sats: int = Field(default=1_000_000, ge=1, le=21_000_000 * 100_000_000)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.account_topup_min_sats > self.account_topup_max_sats:
            raise ValueError("ACCOUNT_TOPUP_MIN_SATS must not exceed ACCOUNT_TOPUP_MAX_SATS")
        return self


def account_settings() -> AccountSettings:
    return load(AccountSettings)
