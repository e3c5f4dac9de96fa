"""confirm_payment: the one path by which any invoice becomes paid."""

from __future__ import annotations

import threading

import pytest

from timmy import payments
from timmy.data.invoices import Invoice, InvoiceState, PaymentPurpose, UnknownPaymentPurpose
from timmy.db.connection import Db, db, transaction
from timmy.lightning.backends import backend
from timmy.lightning.bolt11 import decode_invoice
from timmy.payments import Confirmation, confirm_payment


def issue(
    purpose: PaymentPurpose = PaymentPurpose.JOB, owner: str = "owner-1", amount: int = 21
) -> Invoice:
    created = payments.request_invoice(amount, "test invoice")
    with transaction() as tx:
        return payments.record_invoice(tx, created, purpose=purpose, owner_id=owner)


def state_of(payment_hash: str) -> str:
    return str(db().scalar("SELECT state FROM invoices WHERE payment_hash = :h", h=payment_hash))


@pytest.fixture
def paid_calls(clean_db: None, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Replaces every purpose's on-paid handler with one that records each call."""
    calls: list[str] = []

    def on_paid(tx: Db, invoice: Invoice) -> None:
        calls.append(invoice.payment_hash)

    monkeypatch.setattr(payments, "on_paid_handler", lambda purpose: on_paid)
    return calls


def test_every_purpose_has_an_on_paid_handler() -> None:
    # mypy proves the match exhaustive; this proves each branch imports a real function.
    for purpose in PaymentPurpose:
        assert callable(payments.on_paid_handler(purpose)), purpose


def test_an_unknown_purpose_is_refused_before_anything_is_paid(clean_db: None) -> None:
    # Given an invoice whose purpose no code handles (written behind the code's back), paid
    invoice = issue()
    db().execute(
        "UPDATE invoices SET purpose = 'mystery' WHERE payment_hash = :h", h=invoice.payment_hash
    )
    backend().mark_paid(invoice.payment_hash)  # type: ignore[attr-defined]
    # When a payment confirmation arrives, then it is refused, and the invoice stays pending
    with pytest.raises(UnknownPaymentPurpose):
        confirm_payment(invoice.payment_hash)
    assert state_of(invoice.payment_hash) == InvoiceState.PENDING


def test_stub_invoices_are_real_bolt11_with_a_real_payment_hash(clean_db: None) -> None:
    invoice = issue(amount=1234)
    decoded = decode_invoice(invoice.payment_request)
    assert decoded.payment_hash == invoice.payment_hash
    assert decoded.amount_sats == 1234
    preimage = db().scalar(
        "SELECT preimage FROM stub_lightning_invoices WHERE payment_hash = :h",
        h=invoice.payment_hash,
    )
    import hashlib

    assert hashlib.sha256(bytes.fromhex(preimage)).hexdigest() == invoice.payment_hash


def test_unknown_hash_changes_nothing(paid_calls: list[str]) -> None:
    result = confirm_payment("ab" * 32)
    assert result.outcome is Confirmation.UNKNOWN
    assert db().scalar("SELECT count(*) FROM invoices") == 0
    assert paid_calls == []


def test_unpaid_invoice_stays_pending(paid_calls: list[str]) -> None:
    invoice = issue()
    result = confirm_payment(invoice.payment_hash)
    assert result.outcome is Confirmation.NOT_PAID
    assert state_of(invoice.payment_hash) == InvoiceState.PENDING
    assert paid_calls == []


def test_paid_invoice_flips_once_and_runs_its_handler_once(paid_calls: list[str]) -> None:
    invoice = issue()
    backend().mark_paid(invoice.payment_hash)  # type: ignore[attr-defined]
    first = confirm_payment(invoice.payment_hash)
    second = confirm_payment(invoice.payment_hash)
    assert first.outcome is Confirmation.PAID_NOW
    assert second.outcome is Confirmation.ALREADY_PAID
    assert state_of(invoice.payment_hash) == InvoiceState.PAID
    assert paid_calls == [invoice.payment_hash]


def test_racing_confirmations_flip_exactly_once(paid_calls: list[str]) -> None:
    # Given a paid invoice, when 16 confirmers (webhooks, pollers) race from separate connections
    invoice = issue()
    backend().mark_paid(invoice.payment_hash)  # type: ignore[attr-defined]
    outcomes: list[Confirmation] = []
    barrier = threading.Barrier(16)

    def confirm() -> None:
        barrier.wait()
        outcomes.append(confirm_payment(invoice.payment_hash).outcome)

    threads = [threading.Thread(target=confirm) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then exactly one flipped it, and the handler ran once
    assert outcomes.count(Confirmation.PAID_NOW) == 1
    assert outcomes.count(Confirmation.ALREADY_PAID) == 15
    assert paid_calls == [invoice.payment_hash]


def test_expired_invoice_is_never_paid(paid_calls: list[str]) -> None:
    invoice = issue()
    assert payments.expire_invoice(invoice.payment_hash) is True
    backend().mark_paid(invoice.payment_hash)  # type: ignore[attr-defined]
    assert confirm_payment(invoice.payment_hash).outcome is Confirmation.EXPIRED
    assert state_of(invoice.payment_hash) == InvoiceState.EXPIRED
    assert paid_calls == []
