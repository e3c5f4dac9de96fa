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

from timmy.data.pool import Serve
from timmy.freetier.service import (
    Decision,
    PoolStatus,
    credit,
    credit_amount,
    decide,
    decide_dry_run,
    pool_status,
    record_grant,
    release_reservation,
    request_hash,
    reserve_partial_grant,
    seed_pool,
)

__all__ = [
    "Decision",
    "PoolStatus",
    "Serve",
    "credit",
    "credit_amount",
    "decide",
    "decide_dry_run",
    "pool_status",
    "record_grant",
    "release_reservation",
    "request_hash",
    "reserve_partial_grant",
    "seed_pool",
]
