"""How much the work invoice of an accepted job asks for: the free tier's seam.

Today every job pays the full estimate. The free tier (a later capability) replaces
:func:`work_charge`'s body with its decision for the job's caller: ``charge_sats`` lower than
the estimate (partial: the pool absorbs the rest) or zero (free: no work invoice at all; the
state machine then needs a branch straight to Execute, and settlement computes the refund as
``paid - max(0, actual - absorbed)``). Nothing else in the job flow decides a price.
"""

from __future__ import annotations

from dataclasses import dataclass

from timmy.db.connection import Row
from timmy.quote import Quote

# A Lightning invoice asks for at least 1 sat: a model priced at zero still gets a payable
# invoice (and the sat comes back as a refund when the real cost is zero).
MIN_WORK_CHARGE_SATS = 1


@dataclass(frozen=True, slots=True)
class WorkCharge:
    estimate_sats: int  # the full estimated cost of the work
    charge_sats: int  # what the caller is asked to pay for it


def work_charge(job: Row, quote: Quote) -> WorkCharge:
    """The charge for ``job``'s work, given its quote. ``job`` names the caller (nostr_pubkey)."""
    del job  # the free tier will decide from the caller's trust; today everyone pays in full
    return WorkCharge(estimate_sats=quote.sats, charge_sats=max(MIN_WORK_CHARGE_SATS, quote.sats))
