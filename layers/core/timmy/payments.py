"""Issuing invoices and confirming payments, exactly once.

Whoever learns of a payment first (the Lightning webhook, a client polling its resource, or
the development stub payer) calls :func:`confirm_payment`. It asks the backend (never trusting
the caller), flips the invoice pending → paid once, runs the purpose's on-paid handler in the
same transaction, and resumes the workflow waiting on the invoice, if any, exactly once. An
invoice whose purpose no code handles raises ``UnknownPaymentPurpose`` when it is read, so it
is never flipped to paid for nothing.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import assert_never

from timmy import orchestrator
from timmy.data import invoices
from timmy.data.invoices import Invoice, InvoiceState, PaymentPurpose
from timmy.db.connection import Db, transaction
from timmy.lightning.backends import backend
from timmy.lightning.types import CreatedInvoice
from timmy.settings import core, public_base_url

logger = logging.getLogger(__name__)

# Run inside the flip transaction, so the invoice and what it paid for change together.
OnPaid = Callable[[Db, Invoice], None]


class Confirmation(enum.StrEnum):
    UNKNOWN = "unknown"  # no such invoice of ours: nothing changes
    NOT_PAID = "not_paid"  # the backend says it is not paid: nothing changes
    EXPIRED = "expired"  # the invoice expired before payment was confirmed
    ALREADY_PAID = "already_paid"
    PAID_NOW = "paid_now"  # this call flipped it


@dataclass(frozen=True, slots=True)
class ConfirmResult:
    outcome: Confirmation
    invoice: Invoice | None = None  # the invoice this call flipped (PAID_NOW only)

    @property
    def paid(self) -> bool:
        return self.outcome in (Confirmation.ALREADY_PAID, Confirmation.PAID_NOW)


def request_invoice(
    amount_sats: int,
    memo: str,
    *,
    webhook_url: str | None = None,
    expiry_seconds: int | None = None,
) -> CreatedInvoice:
    """Ask the Lightning backend for an invoice (network; call outside transactions).

    It expires after INVOICE_EXPIRY_SECONDS, or sooner when ``expiry_seconds`` says so.
    """
    expiry = core().invoice_expiry_seconds
    if expiry_seconds is not None:
        expiry = max(1, min(expiry, expiry_seconds))
    return backend().create_invoice(amount_sats, memo, expiry, webhook_url or default_webhook_url())


def default_webhook_url() -> str | None:
    """Our webhook's URL, when PUBLIC_BASE_URL says where we are (no request to go by here)."""
    base = public_base_url()
    return f"{base}/api/webhooks/lightning" if base else None


def record_invoice(
    tx: Db, created: CreatedInvoice, *, purpose: PaymentPurpose, owner_id: str
) -> Invoice:
    return invoices.insert(
        tx,
        payment_hash=created.payment_hash,
        purpose=purpose,
        owner_id=owner_id,
        amount_sats=created.amount_sats,
        payment_request=created.payment_request,
        expires_at=created.expires_at,
    )


def on_paid_handler(purpose: PaymentPurpose) -> OnPaid:
    """The purpose's on-paid handler; mypy proves every purpose has one (``assert_never``).

    Imported here, on first payment, so that importing payments stays cheap for every handler.
    """
    match purpose:
        case PaymentPurpose.JOB:
            from timmy.jobs.workflow import on_invoice_paid as job_paid

            return job_paid
        case PaymentPurpose.BOOTSTRAP:
            from timmy.bootstrap.service import on_invoice_paid as bootstrap_paid

            return bootstrap_paid
        case PaymentPurpose.SESSION_DEPOSIT:
            from timmy.sessions.payments import on_deposit_paid

            return on_deposit_paid
        case PaymentPurpose.SESSION_TOPUP:
            from timmy.sessions.payments import on_topup_paid

            return on_topup_paid
        case PaymentPurpose.ACCOUNT_TOPUP:
            from timmy.accounts.service import on_topup_paid as account_topup_paid

            return account_topup_paid
        case PaymentPurpose.L402:
            from timmy.l402.service import on_invoice_paid as l402_paid

            return l402_paid
        case _:
            assert_never(purpose)


def confirm_payment(payment_hash: str) -> ConfirmResult:
    with transaction() as tx:
        invoice = invoices.get(tx, payment_hash)
    if invoice is None:
        return ConfirmResult(Confirmation.UNKNOWN)
    if invoice.state == InvoiceState.EXPIRED:
        return ConfirmResult(Confirmation.EXPIRED)
    if invoice.state == InvoiceState.PAID:
        resume_waiting_workflow(payment_hash)
        return ConfirmResult(Confirmation.ALREADY_PAID)

    status = backend().check(payment_hash)
    if not status.paid:
        return ConfirmResult(Confirmation.NOT_PAID)

    with transaction() as tx:
        flipped = invoices.mark_paid(tx, payment_hash, status.preimage)
        if flipped is not None:
            on_paid_handler(flipped.purpose)(tx, flipped)
        else:
            current = invoices.get(tx, payment_hash)
    if flipped is None:
        # Someone else flipped it (or it expired) between our read and our update.
        assert current is not None
        if current.state == InvoiceState.PAID:
            resume_waiting_workflow(payment_hash)
            return ConfirmResult(Confirmation.ALREADY_PAID)
        return ConfirmResult(Confirmation.EXPIRED)
    logger.info(
        "invoice paid", extra={"payment_hash": payment_hash, "purpose": str(flipped.purpose)}
    )
    resume_waiting_workflow(payment_hash)
    return ConfirmResult(Confirmation.PAID_NOW, flipped)


def attach_task_token(payment_hash: str, task_token: str) -> bool:
    """Record the workflow waiting on an invoice; resumes at once if it is already paid.

    Returns False when the invoice is unknown or expired (the workflow then times out).
    """
    with transaction() as tx:
        attached = invoices.attach_task_token(tx, payment_hash, task_token)
    if attached:
        resume_waiting_workflow(payment_hash)
    return attached


def resume_waiting_workflow(payment_hash: str) -> bool:
    """Send the task success for a paid invoice's waiting workflow, at most once overall."""
    with transaction() as tx:
        token = invoices.claim_resumption(tx, payment_hash)
        invoice = invoices.get(tx, payment_hash) if token else None
    if token is None or invoice is None:
        return False
    output = {
        "payment_hash": payment_hash,
        "paid": True,
        "amount_sats": invoice.amount_sats,
    }
    try:
        orchestrator.send_task_success(token, output)
    except orchestrator.TaskGone:
        # The wait timed out or the execution ended: a late confirmation must not crash.
        logger.warning("waiting task is gone", extra={"payment_hash": payment_hash})
        return False
    except Exception:
        with transaction() as tx:
            invoices.release_resumption(tx, payment_hash)
        raise
    return True


def expire_invoice(payment_hash: str) -> bool:
    """Mark a still-pending invoice expired (its wait timed out). True if this call did it."""
    with transaction() as tx:
        return invoices.mark_expired(tx, payment_hash)
