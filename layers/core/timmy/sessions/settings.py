"""Session settings: deposit bounds, the minimum request cost, lifetimes and the macaroon key."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from timmy.settings import EnvSettings, load

# The Timeout of SessionRequestFunction in template.yaml (API Gateway's 30 s integration limit
# caps it); a test keeps the two equal.
REQUEST_FUNCTION_TIMEOUT_SECONDS = 29
# Over four request timeouts: margin for clock skew and a slow final commit.
MIN_HOLD_TIMEOUT_SECONDS = 120


class SessionSettings(EnvSettings):
    # Bounds of a deposit and of each top-up (integer sats).
    session_min_deposit_sats: int = Field(default=100, ge=1)
    session_max_deposit_sats: int = Field(default=100_000, ge=1, le=21_000_000 * 100_000_000)
    # The least a request costs: the floor of every reservation and charge. A session whose
    # balance is below it is "paused" (no request can run) until it is topped up.
    session_min_request_sats: int = Field(default=1, ge=1)
    # Counted from the deposit's payment; the macaroon expires with it.
    session_lifetime_seconds: int = Field(default=7 * 86_400, ge=60, le=366 * 86_400)
    # A paid session expires after this long without a request or a paid top-up.
    session_idle_seconds: int = Field(default=86_400, ge=60, le=366 * 86_400)
    # A request still holding its estimate after this long died with its Lambda: the reconciler
    # gives the hold back. It must exceed the request function's timeout, or the reconciler would
    # release the hold of a request still running (which would then charge a balance that was
    # already given back).
    session_hold_timeout_seconds: int = Field(default=900, ge=1, le=86_400)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.session_min_deposit_sats > self.session_max_deposit_sats:
            raise ValueError("SESSION_MIN_DEPOSIT_SATS must not exceed SESSION_MAX_DEPOSIT_SATS")
        if self.session_hold_timeout_seconds < MIN_HOLD_TIMEOUT_SECONDS:
            raise ValueError(
                f"SESSION_HOLD_TIMEOUT_SECONDS must be at least {MIN_HOLD_TIMEOUT_SECONDS}: it"
                f" must exceed the request Lambda's timeout ({REQUEST_FUNCTION_TIMEOUT_SECONDS} s)"
                " with a margin"
            )
        return self


def session_settings() -> SessionSettings:
    return load(SessionSettings)
