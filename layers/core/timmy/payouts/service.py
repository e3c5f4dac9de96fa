"""The one payout path: every sat that leaves Timmy goes through :func:`pay_out`.

1. **Check the invoice** before anything is stored: a valid BOLT11 with an amount in whole
   sats (``amount_required``), equal to the amount asked for when one is given
   (``amount_mismatch``), for our node's network (``wrong_network``), not one of our own
   (``own_invoice``) and unexpired (``invoice_expired``). An invoice is never paid twice,
   not even after a failed payout: a node refuses to retry a failed payment hash, so the
   caller sends a new invoice.
2. **One transaction**: the payment hash must be new to every payout of every source
   (``invoice_already_used``; the UNIQUE payment_hash makes it impossible, not unlikely), the
   source is debited (the amount, plus the routing-fee reserve when the source bears the fee)
   and the payout row is written, pending.
3. **Pay** through the backend, outside any transaction.
4. **Settle**, in one transaction with the source's credit: paid → the real fee is charged (at
   most the reserve) and the unused reserve returns; definitely failed → everything returns;
   unknown outcome → it stays pending until :func:`reconcile_pending_payouts` (run on a
   schedule) or the source's next payout asks the backend and settles it.
"""

from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from timmy.data import invoices
from timmy.data import payouts as data
from timmy.data.payouts import Payout, PayoutState
from timmy.db.connection import transaction
from timmy.errors import UpstreamBadGateway, UpstreamUnavailable
from timmy.lightning.backends import backend
from timmy.lightning.bolt11 import DecodedInvoice, decode_invoice
from timmy.lightning.errors import InvalidInvoice
from timmy.lightning.types import PaymentResult, PaymentState
from timmy.observability import log_ref
from timmy.payouts.errors import (
    AmountMismatch,
    AmountRequired,
    InvoiceAlreadyUsed,
    InvoiceExpired,
    OwnInvoice,
    WrongNetwork,
)
from timmy.payouts.settings import payout_settings
from timmy.payouts.sources import CreditReason, PayoutSource, source_of
from timmy.payouts.views import PayoutAnswer, fee_charged

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PayoutOutcome:
    payout: Payout
    balance_sats: int  # the source's balance after the payout (and any credit back)

    @property
    def answer(self) -> PayoutAnswer:
        payout = self.payout
        return PayoutAnswer(
            status=payout.state,
            payment_hash=payout.payment_hash,
            amount_sats=payout.amount_sats,
            fee_sats=fee_charged(payout),
            balance_sats=self.balance_sats,
        )


# --------------------------------------------------------------------------------- fees


def fee_reserve(amount_sats: int) -> int:
    """The routing-fee reserve of a payout: max(minimum, amount x percent), rounded up."""
    settings = payout_settings()
    share = math.ceil(amount_sats * settings.payout_fee_reserve_pct / 100)
    return max(settings.payout_fee_reserve_min_sats, share)


def max_payout(balance_sats: int) -> int:
    """The largest amount a balance can pay out when it also holds that amount's reserve."""
    low, high = 0, max(0, balance_sats)
    while low < high:  # the reserve only grows with the amount: bisect
        middle = (low + high + 1) // 2
        if middle + fee_reserve(middle) <= balance_sats:
            low = middle
        else:
            high = middle - 1
    return low


# --------------------------------------------------------------------------------- pay


def check_invoice(bolt11: str, amount_sats: int | None = None) -> DecodedInvoice:
    """The decoded invoice if a payout may pay it; the 400 refusal otherwise."""
    invoice = decode_invoice(bolt11)
    if invoice.amount_sats is None:
        raise AmountRequired("The invoice must ask for an amount, in whole sats.")
    if amount_sats is not None and invoice.amount_sats != amount_sats:
        raise AmountMismatch(
            f"The invoice asks for {invoice.amount_sats} sats, not the {amount_sats} sats given."
        )
    network = backend().network
    if invoice.network != network:
        raise WrongNetwork(
            f"The invoice is for the '{invoice.network}' network; Timmy pays on '{network}'."
        )
    with transaction() as tx:
        ours = invoices.get(tx, invoice.payment_hash)
    if ours is not None:
        raise OwnInvoice("That invoice was issued by Timmy; send an invoice of your own.")
    if invoice.is_expired():
        raise InvoiceExpired("The invoice has expired.")
    return invoice


def pay_out(
    source: PayoutSource, source_id: str, bolt11: str, *, amount_sats: int | None = None
) -> PayoutOutcome:
    """Pay ``bolt11`` out of ``source_id`` (see the module's docstring for the steps)."""
    invoice = check_invoice(bolt11, amount_sats)
    amount = invoice.amount_sats
    assert amount is not None  # check_invoice refuses amountless invoices
    reserve = fee_reserve(amount)
    debit = amount + reserve if source.bears_fee else amount

    with transaction() as tx:
        if data.hash_used(tx, invoice.payment_hash):
            raise InvoiceAlreadyUsed("That invoice has been used for a payout already.")
        source.debit(
            tx,
            source_id,
            amount_sats=amount,
            debit_sats=debit,
            payment_hash=invoice.payment_hash,
        )
        payout = data.insert(
            tx,
            payout_id=str(uuid.uuid4()),
            payment_hash=invoice.payment_hash,
            bolt11=invoice.bolt11,
            source_kind=source.kind,
            source_id=source_id,
            amount_sats=amount,
            fee_reserve_sats=reserve,
            source_debit_sats=debit,
        )
        if payout is None:  # a concurrent payout took the hash: roll the debit back
            raise InvoiceAlreadyUsed("That invoice has been used for a payout already.")

    result = _send(payout)
    settled = _settle(payout.payment_hash, result)
    with transaction() as tx:
        balance = source.balance(tx, source_id)
    logger.info(
        "payout %s",
        settled.state.value,
        extra={"source": source.kind, "source_ref": log_ref(source_id), "amount_sats": amount},
    )
    return PayoutOutcome(payout=settled, balance_sats=balance)


def _send(payout: Payout) -> PaymentResult:
    try:
        return backend().pay(payout.bolt11)
    except InvalidInvoice:
        # The backend's own local checks refused it: nothing was sent.
        return PaymentResult(payment_hash=payout.payment_hash, state=PaymentState.FAILED)
    except Exception:
        # Whatever happened, the payment may have gone out: the reconciler will ask.
        logger.exception("paying a payout failed unexpectedly; it stays pending")
        return PaymentResult(payment_hash=payout.payment_hash, state=PaymentState.PENDING)


def _settle(payment_hash: str, result: PaymentResult) -> Payout:
    """Apply a definite outcome (paid or failed) once; the payout as it now stands."""
    return _settle_once(payment_hash, result)[0]


def _settle_once(payment_hash: str, result: PaymentResult) -> tuple[Payout, bool]:
    """The payout as it now stands, and whether this call settled it."""
    with transaction() as tx:
        current = data.get(tx, payment_hash)
        assert current is not None
        if current.state != PayoutState.PENDING:
            return current, False
        source = source_of(current.source_kind)
        if result.state == PaymentState.PAID:
            fee = result.fee_sats or 0
            charged = min(fee, current.fee_reserve_sats) if source.bears_fee else 0
            if fee > charged and source.bears_fee:
                logger.warning(
                    "routing fee above the reserve; Timmy bears the rest",
                    extra={"payment_hash": payment_hash, "fee_sats": fee},
                )
            flipped = data.mark_paid(
                tx, payment_hash, fee_sats=fee, fee_charged_sats=charged, preimage=result.preimage
            )
        elif result.state == PaymentState.FAILED:
            flipped = data.mark_failed(tx, payment_hash)
        else:
            return current, False
        if flipped is None:  # settled by someone else meanwhile
            settled = data.get(tx, payment_hash)
            assert settled is not None
            return settled, False
        back = flipped.refund_to_source_sats
        if back > 0:
            reason = (
                CreditReason.FEE_RETURN
                if flipped.state == PayoutState.PAID
                else CreditReason.FAILED
            )
            source.credit(tx, flipped.source_id, back, reason=reason, payment_hash=payment_hash)
        return flipped, True


# --------------------------------------------------------------------------------- resolve


def resolve(payout: Payout, *, now: datetime | None = None) -> Payout:
    """Ask the backend about a pending payout and settle it if the answer is definite.

    A payment the node has no record of was never sent, but only once the payout is older
    than PAYOUT_UNKNOWN_AFTER_SECONDS: a younger one's pay call may still be on its way.
    Raises :class:`LightningUnavailable` when the backend cannot answer (nothing changes).
    """
    return _resolve(payout, now or datetime.now(UTC))[0]


def _resolve(payout: Payout, now: datetime) -> tuple[Payout, bool]:
    if payout.state != PayoutState.PENDING:
        return payout, False
    status = backend().check_payment(payout.payment_hash)
    if status.state == PaymentState.UNKNOWN:
        bound = timedelta(seconds=payout_settings().payout_unknown_after_seconds)
        if payout.created_at > now - bound:
            return payout, False
        status = PaymentResult(payment_hash=payout.payment_hash, state=PaymentState.FAILED)
    return _settle_once(payout.payment_hash, status)


@dataclass
class ReconcileReport:
    checked: int = 0
    paid: int = 0  # settled as paid by this run
    failed: int = 0  # settled as failed (credited back) by this run
    pending: int = 0  # still in flight
    errors: list[str] = field(default_factory=list)  # payment hashes the backend could not answer


def reconcile_pending_payouts(now: datetime) -> ReconcileReport:
    """Settle the payouts left pending by an unknown outcome (for the scheduled reconciler).

    Asks the backend about every payout still pending PAYOUT_UNKNOWN_AFTER_SECONDS after it
    was written (up to PAYOUT_RECONCILE_BATCH per run, oldest first): paid → finalized, the
    unused fee reserve returned; failed or never sent → credited back in full; still in
    flight → left for the next run. A backend that cannot answer leaves the payout as it was.
    """
    settings = payout_settings()
    cutoff = now - timedelta(seconds=settings.payout_unknown_after_seconds)
    with transaction() as tx:
        stale = data.pending_before(tx, cutoff, limit=settings.payout_reconcile_batch)
    report = ReconcileReport()
    for payout in stale:
        report.checked += 1
        try:
            settled, by_this_run = _resolve(payout, now)
        except (UpstreamUnavailable, UpstreamBadGateway):
            logger.warning("payout status unavailable", extra={"payment_hash": payout.payment_hash})
            report.errors.append(payout.payment_hash)
            continue
        except Exception:
            # One bad row must not stop the run from settling the others; it stays pending.
            logger.exception(
                "settling a payout failed", extra={"payment_hash": payout.payment_hash}
            )
            report.errors.append(payout.payment_hash)
            continue
        if settled.state == PayoutState.PENDING:
            report.pending += 1
        elif by_this_run and settled.state == PayoutState.PAID:
            report.paid += 1
        elif by_this_run:
            report.failed += 1
    return report
