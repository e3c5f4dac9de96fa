"""The health report: each dependency's state, and whether the service can take payments.

``degraded`` (HTTP 503) when the database or the Lightning backend is unreachable: without
either no invoice can be issued or confirmed. The AI provider and the price feed are reported
but do not degrade: the provider's configuration is checked at start-up, and pricing falls back
to the last (or the configured fallback) price.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pydantic import Field

from timmy import __version__
from timmy.ai.settings import ai_settings
from timmy.db.connection import ping
from timmy.deadline import DeadlineExceeded, call_within
from timmy.lightning.backends import backend
from timmy.provisioning.settings import provisioner_mode
from timmy.quote import oracle
from timmy.settings import EnvSettings, core, load


class HealthSettings(EnvSettings):
    # The Lightning check's hard bound: the health answer never waits longer on the node.
    health_lightning_timeout_seconds: float = Field(default=2.0, gt=0, le=10)


class Status(enum.StrEnum):
    OK = "ok"
    DEGRADED = "degraded"


class PriceFeed(enum.StrEnum):
    FIXED = "fixed"  # BTC_PRICE_FIXED_USD: no feed is called
    LIVE = "live"  # a feed answered (see the age)
    FALLBACK = "fallback"  # no feed has answered this process: BTC_PRICE_FALLBACK_USD


@dataclass(frozen=True)
class Report:
    status: Status
    database: str
    lightning: str
    lightning_mode: str
    ai_mode: str
    ai_configured: bool
    price_feed: PriceFeed
    price_feed_age_seconds: float | None
    provisioner_mode: str
    version: str


def lightning_reachable(timeout_seconds: float) -> bool:
    """The backend's own probe, cut off at ``timeout_seconds`` whatever the node does."""
    try:
        return call_within(
            lambda: backend().reachable(timeout_seconds), timeout_seconds, name="lightning-health"
        )
    except DeadlineExceeded:
        return False


def _price_feed() -> tuple[PriceFeed, float | None]:
    prices = oracle()
    if prices.fixed:
        return PriceFeed.FIXED, None
    prices.price_usd()  # bounded and cached: at most one feed round trip per cache period
    age = prices.age_seconds()
    return (PriceFeed.FALLBACK, None) if age is None else (PriceFeed.LIVE, round(age, 1))


def report() -> Report:
    database = "up" if ping() else "down"
    timeout = load(HealthSettings).health_lightning_timeout_seconds
    lightning = "up" if lightning_reachable(timeout) else "down"
    ai = ai_settings()
    price_feed, age = _price_feed()
    healthy = database == "up" and lightning == "up"
    return Report(
        status=Status.OK if healthy else Status.DEGRADED,
        database=database,
        lightning=lightning,
        lightning_mode=core().lightning_mode,
        ai_mode=ai.ai_provider,
        ai_configured=ai.configured,
        price_feed=price_feed,
        price_feed_age_seconds=age,
        provisioner_mode=provisioner_mode(),
        version=__version__,
    )
