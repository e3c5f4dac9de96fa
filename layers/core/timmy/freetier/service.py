"""The free tier's operations: decide, reserve, release, credit and record grants (see
:mod:`timmy.freetier`)."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal

from timmy.data import pool as data
from timmy.data.identities import TrustRules, TrustTier
from timmy.data.pool import Serve
from timmy.db.connection import Db, db, transaction
from timmy.freetier.settings import free_tier_settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    serve: Serve
    absorb_sats: int
    charge_sats: int

    @classmethod
    def gate(cls, estimated_sats: int) -> Decision:
        return cls(Serve.GATE, 0, max(estimated_sats, 0))


@dataclass(frozen=True)
class PoolStatus:
    balance_sats: int
    daily_budgets: dict[TrustTier, int]


def request_hash(request: str) -> str:
    """What the audit log stores about a request: its sha256, never the text."""
    return hashlib.sha256(request.encode("utf-8", "surrogatepass")).hexdigest()


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _rules() -> TrustRules:
    from timmy.identity.settings import settings as identity_settings

    return identity_settings().rules


def _answer(estimated_sats: int, seen: data.Reservation | None) -> Decision:
    """Free, partial or gate from what a reservation (or a snapshot) saw of the identity and
    the pool. A whole reservation debits exactly when the budget and the pool cover the
    estimate, so ``free`` here always means "already debited" for ``decide``."""
    if seen is None or seen.pool_before < 0:
        return Decision.gate(estimated_sats)
    remaining = max(0, seen.daily_budget - seen.absorbed_today)
    can_absorb = min(remaining, seen.pool_before, estimated_sats)
    if can_absorb <= 0:
        return Decision.gate(estimated_sats)
    if can_absorb >= estimated_sats:
        return Decision(Serve.FREE, estimated_sats, 0)
    return Decision(Serve.PARTIAL, can_absorb, estimated_sats - can_absorb)


def decide_dry_run(
    pubkey: str | None, estimated_sats: int, *, now: datetime | None = None
) -> Decision:
    """What ``decide`` would answer now; reads only (nothing is debited, counted or seeded)."""
    if not pubkey or estimated_sats <= 0:
        return Decision.gate(estimated_sats)
    settings = free_tier_settings()
    seen = data.snapshot(
        db(),
        pubkey=pubkey,
        budgets=settings.daily_budgets(),
        rules=_rules(),
        now=now or _utcnow(),
    )
    if seen is not None and seen.pool_before < 0:  # unseeded: what the first boot will hold
        seen = replace(seen, pool_before=settings.free_tier_pool_initial_sats)
    return _answer(estimated_sats, seen)


def decide(
    pubkey: str | None,
    estimated_sats: int,
    *,
    now: datetime | None = None,
    tx: Db | None = None,
) -> Decision:
    """Free (pool debited now), partial (advisory) or gate (nothing happens).

    One statement decides and, for ``free``, reserves: it reads the caller's tier (with any
    pending trust decay) and day, and debits the pool only if both cover the whole estimate.
    Without ``tx`` that statement is its own transaction, so the hot pool row is locked only
    while it runs; with ``tx`` the debit commits (or rolls back) with the caller's work.
    """
    if not pubkey or estimated_sats <= 0:
        return Decision.gate(estimated_sats)
    at = now or _utcnow()
    seen = _reserve(tx or db(), pubkey, estimated_sats, whole=True, now=at)
    return _answer(estimated_sats, seen)


def reserve_partial_grant(
    requested_absorb_sats: int, pubkey: str, *, now: datetime | None = None, tx: Db | None = None
) -> int:
    """Debit the pool for a partial grant at payment time; returns the sats really debited
    (less than requested, or 0, when the day's budget or the pool shrank since ``decide``)."""
    if requested_absorb_sats <= 0:
        return 0
    at = now or _utcnow()
    if tx is not None:
        return _reserve_partial(tx, requested_absorb_sats, pubkey, at)
    with transaction() as own:
        return _reserve_partial(own, requested_absorb_sats, pubkey, at)


def _reserve(
    tx: Db, pubkey: str, requested: int, *, whole: bool, now: datetime
) -> data.Reservation | None:
    """One reservation statement; on the very first boot it seeds the pool and tries again."""
    budgets = free_tier_settings().daily_budgets()

    def attempt() -> data.Reservation | None:
        return data.reserve(
            tx,
            pubkey=pubkey,
            requested=requested,
            budgets=budgets,
            rules=_rules(),
            whole=whole,
            now=now,
        )

    seen = attempt()
    if seen is None and data.balance(tx) is None:
        _ensure_pool(tx)
        seen = attempt()
    return seen


def _reserve_partial(tx: Db, requested: int, pubkey: str, now: datetime) -> int:
    seen = _reserve(tx, pubkey, requested, whole=False, now=now)
    debited = 0 if seen is None else seen.debited
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
    # The release returns the balance after it: no second read while the pool row is locked.
    after = data.release(tx, pubkey=pubkey, sats=over, now=now) if over > 0 else None
    if to_record > 0:
        data.insert_grant(
            tx,
            pubkey=pubkey,
            request_hash=request_hash_hex,
            sats_absorbed=to_record,
            pool_balance_after=int(data.balance(tx) or 0) if after is None else after,
        )


def _ensure_pool(tx: Db) -> int:
    current = data.balance(tx)
    if current is not None:
        return current
    initial = free_tier_settings().free_tier_pool_initial_sats
    if data.seed(tx, initial):
        logger.info("generosity pool seeded", extra={"initial_sats": initial})
    return int(data.balance(tx) or 0)


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
