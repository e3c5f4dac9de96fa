"""On-paid handlers for session invoices, run by ``timmy.payments.confirm_payment``.

They run inside the transaction that flips the invoice from pending to paid, which happens
once per invoice however many confirmations race (webhook, poll, stub payer): so a deposit or
a top-up is credited exactly once.
"""

from __future__ import annotations

import logging

from timmy.data import sessions as data
from timmy.data.invoices import Invoice
from timmy.db.connection import Db
from timmy.observability import log_ref
from timmy.sessions.settings import session_settings

logger = logging.getLogger(__name__)


def on_deposit_paid(tx: Db, invoice: Invoice) -> None:
    session_id = invoice.owner_id
    credited = data.credit_deposit(
        tx,
        session_id,
        amount_sats=invoice.amount_sats,
        lifetime_seconds=session_settings().session_lifetime_seconds,
    )
    if not credited:  # only possible if the row was tampered with: keep the payment visible
        logger.error(
            "deposit paid for a session that cannot take it",
            extra={"session_ref": log_ref(session_id)},
        )


def on_topup_paid(tx: Db, invoice: Invoice) -> None:
    session_id = invoice.owner_id
    credited = data.credit_topup(
        tx,
        session_id,
        payment_hash=invoice.payment_hash,
        amount_sats=invoice.amount_sats,
        idle_seconds=session_settings().session_idle_seconds,
    )
    if not credited:
        logger.error(
            "top-up paid for a session that cannot take it",
            extra={"session_ref": log_ref(session_id)},
        )
