"""Test helper: a session whose deposit was paid through the real confirmation path."""

from __future__ import annotations

import uuid

from timmy import payments
from timmy.data import sessions as data
from timmy.db.connection import transaction
from timmy.lightning.backends import backend
from timmy.payments import confirm_payment
from timmy.sessions.service import PURPOSE_DEPOSIT


def paid_session(balance: int, pubkey: str | None = None) -> str:
    """A session of ``pubkey`` (anonymous when None) with ``balance`` sats deposited and paid."""
    session_id = str(uuid.uuid4())
    created = payments.request_invoice(balance, "test deposit")
    with transaction() as tx:
        payments.record_invoice(tx, created, purpose=PURPOSE_DEPOSIT, owner_id=session_id)
        data.insert(
            tx,
            session_id=session_id,
            deposit_sats=balance,
            deposit_payment_hash=created.payment_hash,
            nostr_pubkey=pubkey,
        )
    backend().mark_paid(created.payment_hash)  # type: ignore[attr-defined]
    assert confirm_payment(created.payment_hash).paid
    return session_id
