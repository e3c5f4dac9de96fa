"""What the work of an accepted job costs its caller: the free tier's decision and its
settlement. Nothing else in the job flow decides a price.

:func:`work_charge` asks the free tier (``timmy.freetier.decide``) about the job's caller:

* ``free`` — the pool covers the whole estimate and has ALREADY been debited for it: no work
  invoice; the caller of :func:`work_charge` must store the reservation on the job or release
  it;
* ``partial`` — a discounted invoice for ``charge_sats``; ``absorb_sats`` is advisory until
  the invoice is paid (the pool is debited then, by the on-paid hook);
* ``gate`` — the full estimate (anonymous and ``new`` callers, a spent budget, an empty pool).

:func:`settle_work` splits the actual cost between the pool and the caller once the work ran.
"""

from __future__ import annotations

from dataclasses import dataclass

from timmy import freetier, pricing
from timmy.freetier import Serve
from timmy.quote import Quote

# A Lightning invoice asks for at least 1 sat: a model priced at zero still gets a payable
# invoice (and the sat comes back as a refund when the real cost is zero).
MIN_WORK_CHARGE_SATS = 1


@dataclass(frozen=True, slots=True)
class WorkCharge:
    estimate_sats: int  # the full estimated cost of the work
    charge_sats: int  # what the caller is asked to pay for it (0: free, no invoice)
    serve: Serve
    absorb_sats: int  # free: debited from the pool already; partial: advisory; gate: 0


def work_charge(pubkey: str | None, quote: Quote) -> WorkCharge:
    """The charge for the work of a job of the caller ``pubkey`` (None: anonymous).

    Side effect on ``free``: the pool is debited for ``absorb_sats`` before this returns.
    """
    estimate = quote.sats
    decision = freetier.decide(pubkey, estimate)
    if decision.serve == Serve.FREE:
        return WorkCharge(estimate, 0, Serve.FREE, decision.absorb_sats)
    if decision.serve == Serve.PARTIAL:
        return WorkCharge(estimate, decision.charge_sats, Serve.PARTIAL, decision.absorb_sats)
    return WorkCharge(estimate, max(MIN_WORK_CHARGE_SATS, estimate), Serve.GATE, 0)


@dataclass(frozen=True, slots=True)
class WorkSettlement:
    absorbed_sats: int  # what the pool really covered: min(actual, reserved)
    refundable_sats: int  # what the caller gets back of the work payment


def settle_work(paid_sats: int, actual_sats: int, reserved_sats: int) -> WorkSettlement:
    """Split the actual cost: the pool's reservation pays first (never more than the cost),
    the caller owes the rest, and whatever the caller paid beyond that is refundable.

    refundable = paid - max(0, actual - absorbed), never negative, never more than paid (the
    seeds' "partial refund math"; with nothing reserved it is the plain paid - actual).
    """
    absorbed = min(actual_sats, reserved_sats)
    owed_by_caller = max(0, actual_sats - absorbed)
    return WorkSettlement(absorbed, pricing.refundable(paid_sats, owed_by_caller))
