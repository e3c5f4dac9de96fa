"""The free tier: a generosity pool that serves trusted callers partly or wholly for free.

Semantics follow the original FreeTierService (seeds: timmy-free-tier-service.ts and its
review log), in PostgreSQL:

- ``decide`` — ``free``: the pool is debited at decision time (work starts at once);
  ``partial``: advisory only, nothing is reserved until the discounted invoice is paid;
  ``gate``: nothing happens. ``decide_dry_run`` answers the same question and changes nothing.
- ``reserve_partial_grant`` — at work-payment confirmation, re-checks the daily budget and
  debits the pool for as much of the partial grant as the budget and the pool still allow.
- ``release_reservation`` — returns an unused reservation (rejected or failed work).
- ``credit`` — ``FREE_TIER_POOL_CREDIT_PCT`` % of every paid work invoice, rounded down.
- ``record_grant`` — after the work: the audit row for what was really absorbed, with any
  over-reservation (estimate above the actual cost) returned to the pool in the same
  transaction.

One deliberate difference: an identity's daily counter is charged when the pool is debited
(by ``decide`` or ``reserve_partial_grant``, with the new-day reset done in SQL), not when the
grant is recorded; ``record_grant`` and ``release_reservation`` give back what was not used.
Counting at reservation time closes a race of the original, where concurrent requests of one
identity could each pass the daily-budget check before any of them was recorded.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Literal

from pydantic import Field

from timmy.data import pool as data
from timmy.db.connection import Db, db, transaction
from timmy.settings import EnvSettings, load

logger = logging.getLogger(__name__)

Serve = Literal["free", "partial", "gate"]
TIER_NAMES = ("new", "established", "trusted", "elite")


class FreeTierSettings(EnvSettings):
    free_tier_budget_new: int = Field(default=0, ge=0)
    free_tier_budget_established: int = Field(default=50, ge=0)
    free_tier_budget_trusted: int = Field(default=200, ge=0)
    free_tier_budget_elite: int = Field(default=1_000, ge=0)
    free_tier_pool_initial_sats: int = Field(default=10_000, ge=0)
    free_tier_pool_credit_pct: Decimal = Field(default=Decimal(10), ge=0, le=100)

    def daily_budgets(self) -> dict[str, int]:
        return {
            "new": self.free_tier_budget_new,
            "established": self.free_tier_budget_established,
            "trusted": self.free_tier_budget_trusted,
            "elite": self.free_tier_budget_elite,
        }


def free_tier_settings() -> FreeTierSettings:
    return load(FreeTierSettings)


@dataclass(frozen=True)
class Decision:
    serve: Serve
    absorb_sats: int
    charge_sats: int

    @classmethod
    def gate(cls, estimated_sats: int) -> Decision:
        return cls("gate", 0, max(estimated_sats, 0))


@dataclass(frozen=True)
class PoolStatus:
    balance_sats: int
    daily_budgets: dict[str, int]


def request_hash(request: str) -> str:
    """What the audit log stores about a request: its sha256, never the text."""
    return hashlib.sha256(request.encode("utf-8", "surrogatepass")).hexdigest()


def daily_budget(tier: str) -> int:
    """The tier's daily free allowance in sats (anonymous and unknown tiers get nothing)."""
    return free_tier_settings().daily_budgets().get(tier, 0)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _tier(pubkey: str, now: datetime, tx: Db | None = None) -> str:
    from timmy.identity import profile, tier_of

    if tx is not None:  # inside the caller's transaction (e.g. a payment's on-paid handler)
        return profile(pubkey, now=now, tx=tx).tier
    return tier_of(pubkey, now=now)


def _ensure_pool(tx: Db) -> int:
    current = data.balance(tx)
    if current is not None:
        return current
    initial = free_tier_settings().free_tier_pool_initial_sats
    if data.seed(tx, initial):
        logger.info("generosity pool seeded", extra={"initial_sats": initial})
    return int(data.balance(tx) or 0)


def _advice(pubkey: str, estimated_sats: int, budget: int, tx: Db, now: datetime) -> Decision:
    """The decision from what the identity and the pool hold now, without changing them."""
    today = data.absorbed_today(tx, pubkey, now)
    if today is None:
        return Decision.gate(estimated_sats)
    remaining = max(0, budget - today)
    pool_balance = _ensure_pool(tx) if remaining else 0
    can_absorb = min(remaining, pool_balance, estimated_sats)
    if can_absorb <= 0:
        return Decision.gate(estimated_sats)
    if can_absorb >= estimated_sats:
        return Decision("free", estimated_sats, 0)
    return Decision("partial", can_absorb, estimated_sats - can_absorb)


def decide_dry_run(
    pubkey: str | None, estimated_sats: int, *, now: datetime | None = None
) -> Decision:
    """What ``decide`` would answer now; reads only (nothing is debited or counted)."""
    if not pubkey or estimated_sats <= 0:
        return Decision.gate(estimated_sats)
    at = now or _utcnow()
    budget = daily_budget(_tier(pubkey, at))
    if budget == 0:
        return Decision.gate(estimated_sats)
    with transaction() as tx:
        today = data.absorbed_today(tx, pubkey, at)
        balance = data.balance(tx)
    if today is None:
        return Decision.gate(estimated_sats)
    if balance is None:  # not seeded yet: report what the first boot will hold
        balance = free_tier_settings().free_tier_pool_initial_sats
    can_absorb = min(max(0, budget - today), balance, estimated_sats)
    if can_absorb <= 0:
        return Decision.gate(estimated_sats)
    if can_absorb >= estimated_sats:
        return Decision("free", estimated_sats, 0)
    return Decision("partial", can_absorb, estimated_sats - can_absorb)


def decide(pubkey: str | None, estimated_sats: int, *, now: datetime | None = None) -> Decision:
    """Free (pool debited now), partial (advisory) or gate (nothing happens)."""
    if not pubkey or estimated_sats <= 0:
        return Decision.gate(estimated_sats)
    at = now or _utcnow()
    budget = daily_budget(_tier(pubkey, at))
    if budget == 0:
        return Decision.gate(estimated_sats)
    # One autocommit statement: the hot pool row is locked only while it runs.
    autocommit = db()
    reserved = data.reserve(
        autocommit, pubkey=pubkey, requested=estimated_sats, daily_budget=budget, whole=True, now=at
    )
    if reserved is None:  # the pool has not been seeded yet (first boot)
        seed_pool()
        reserved = data.reserve(
            autocommit,
            pubkey=pubkey,
            requested=estimated_sats,
            daily_budget=budget,
            whole=True,
            now=at,
        )
    if reserved is not None and reserved.debited == estimated_sats:
        return Decision("free", estimated_sats, 0)
    # Not wholly free: partial or gate, from what is left. Nothing was debited.
    with transaction() as tx:
        return _advice(pubkey, estimated_sats, budget, tx, at)


def reserve_partial_grant(
    requested_absorb_sats: int, pubkey: str, *, now: datetime | None = None, tx: Db | None = None
) -> int:
    """Debit the pool for a partial grant at payment time; returns the sats really debited
    (less than requested, or 0, when the day's budget or the pool shrank since ``decide``)."""
    if requested_absorb_sats <= 0:
        return 0
    at = now or _utcnow()
    budget = daily_budget(_tier(pubkey, at, tx))
    if budget == 0:
        return 0
    if tx is not None:
        return _reserve_partial(tx, requested_absorb_sats, pubkey, budget, at)
    with transaction() as own:
        return _reserve_partial(own, requested_absorb_sats, pubkey, budget, at)


def _reserve_partial(tx: Db, requested: int, pubkey: str, budget: int, now: datetime) -> int:
    reserved = data.reserve(
        tx, pubkey=pubkey, requested=requested, daily_budget=budget, whole=False, now=now
    )
    if reserved is None:
        _ensure_pool(tx)
        reserved = data.reserve(
            tx, pubkey=pubkey, requested=requested, daily_budget=budget, whole=False, now=now
        )
    debited = 0 if reserved is None else reserved.debited
    logger.info(
        "partial grant reserved at payment time",
        extra={"requested_sats": requested, "debited_sats": debited},
    )
    return debited


def release_reservation(
    absorb_sats: int,
    pubkey: str | None,
    reason: str,
    *,
    now: datetime | None = None,
    tx: Db | None = None,
) -> None:
    """Return a reservation to the pool (the request was rejected, failed, or not run)."""
    if absorb_sats <= 0:
        return
    at = now or _utcnow()
    if tx is not None:
        data.release(tx, pubkey=pubkey, sats=absorb_sats, now=at)
    else:
        with transaction() as own:
            data.release(own, pubkey=pubkey, sats=absorb_sats, now=at)
    logger.info("reservation released", extra={"sats": absorb_sats, "reason": reason})


def credit_amount(paid_sats: int) -> int:
    """POOL_CREDIT_PCT of a paid amount, rounded down (credits never round up)."""
    if paid_sats <= 0:
        return 0
    pct = free_tier_settings().free_tier_pool_credit_pct
    return int((Decimal(paid_sats) * pct / 100).to_integral_value(rounding=ROUND_FLOOR))


def credit(paid_sats: int, *, now: datetime | None = None, tx: Db | None = None) -> int:
    """Credit the pool from a paid work invoice; returns the sats credited."""
    amount = credit_amount(paid_sats)
    if amount <= 0:
        return 0
    at = now or _utcnow()
    initial = free_tier_settings().free_tier_pool_initial_sats
    if tx is not None:
        data.credit(tx, sats=amount, initial_sats=initial, now=at)
    else:
        with transaction() as own:
            data.credit(own, sats=amount, initial_sats=initial, now=at)
    return amount


def record_grant(
    pubkey: str,
    request_hash_hex: str,
    actual_absorbed: int,
    reserved_absorbed: int,
    *,
    now: datetime | None = None,
    tx: Db | None = None,
) -> int:
    """Write the audit row for what was really absorbed and return any over-reservation to
    the pool, in one transaction. Returns the sats recorded."""
    to_record = max(0, min(actual_absorbed, reserved_absorbed))
    over_reserved = max(0, reserved_absorbed - to_record)
    if to_record <= 0 and over_reserved <= 0:
        return 0
    at = now or _utcnow()
    if tx is not None:
        _record(tx, pubkey, request_hash_hex, to_record, over_reserved, at)
    else:
        with transaction() as own:
            _record(own, pubkey, request_hash_hex, to_record, over_reserved, at)
    return to_record


def _record(
    tx: Db, pubkey: str, request_hash_hex: str, to_record: int, over: int, now: datetime
) -> None:
    if over > 0:
        data.release(tx, pubkey=pubkey, sats=over, now=now)
    if to_record > 0:
        data.insert_grant(
            tx,
            pubkey=pubkey,
            request_hash=request_hash_hex,
            sats_absorbed=to_record,
            pool_balance_after=int(data.balance(tx) or 0),
        )


def seed_pool() -> int:
    """Seed the pool on first boot (run after migrations); returns its balance."""
    with transaction() as tx:
        return _ensure_pool(tx)


def pool_status() -> PoolStatus:
    """A snapshot for estimates and monitoring; reads only (an unseeded pool reports the
    balance its first boot will give it)."""
    with transaction() as tx:
        balance = data.balance(tx)
    settings = free_tier_settings()
    return PoolStatus(
        balance_sats=settings.free_tier_pool_initial_sats if balance is None else balance,
        daily_budgets=settings.daily_budgets(),
    )
