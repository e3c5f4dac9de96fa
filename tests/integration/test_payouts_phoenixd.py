"""The one payout path over the phoenixd backend (a fake phoenixd behind httpx.MockTransport in
its real shapes) on real PostgreSQL: a refund paid with its fee, failures credited back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fake_phoenixd import FakePhoenixd, pay_payouts_through
from paid_sessions import paid_session

from timmy import payments
from timmy.data.invoices import PaymentPurpose
from timmy.db.connection import db, transaction
from timmy.errors import TimmyError
from timmy.jobs import service as jobs
from timmy.payouts import reconcile_pending_payouts
from timmy.payouts.service import pay_out
from timmy.sessions.withdrawals import SESSION_WITHDRAWAL


@pytest.fixture(autouse=True)
def _db(clean_db: None) -> None:
    """Every test starts from empty tables."""


@pytest.fixture
def node(monkeypatch: pytest.MonkeyPatch) -> FakePhoenixd:
    return pay_payouts_through(monkeypatch)


def ended_job(refundable_sats: int) -> str:
    """A failed job whose caller is owed ``refundable_sats`` (its eval fee, paid)."""
    job_id = str(uuid.uuid4())
    created = payments.request_invoice(refundable_sats, "eval fee")
    with transaction() as tx:
        payments.record_invoice(tx, created, purpose=PaymentPurpose.JOB, owner_id=job_id)
        tx.execute(
            "INSERT INTO jobs (id, request, eval_fee_sats, eval_payment_hash, eval_paid_sats,"
            " state, refundable_sats, error_code, error_message)"
            " VALUES (:id, 'x', :fee, :h, :fee, 'failed', :fee, 'ai_failed', 'it failed')",
            id=job_id,
            fee=refundable_sats,
            h=created.payment_hash,
        )
    return job_id


def balance(session_id: str) -> int:
    return int(db().scalar("SELECT balance_sats FROM sessions WHERE id = :id", id=session_id))


def payout_row(payment_hash: str) -> dict[str, object]:
    row = db().one(
        "SELECT state, fee_sats, preimage FROM payouts WHERE payment_hash = :h", h=payment_hash
    )
    assert row is not None
    return dict(row)


def test_a_refund_is_paid_over_phoenixd(node: FakePhoenixd) -> None:
    job_id = ended_job(10)
    invoice = node.customer_invoice(10)

    assert jobs.refund_job(job_id, invoice).refunded is True

    paid = [r for r in node.requests if r.url.path == "/payinvoice"]
    assert len(paid) == 1
    (payment_hash,) = node.outgoing
    row = payout_row(payment_hash)
    assert (row["state"], row["fee_sats"]) == ("paid", 2)  # 1,500 msat rounded up
    assert row["preimage"] == node.customer_preimages[payment_hash]


def test_a_withdrawal_charges_phoenixd_real_fee(node: FakePhoenixd) -> None:
    session_id = paid_session(1_000)

    answer = pay_out(SESSION_WITHDRAWAL, session_id, node.customer_invoice(100)).answer

    assert (answer.status, answer.fee_sats, answer.balance_sats) == ("paid", 2, 898)


def test_http_200_with_a_reason_is_credited_back_not_reported_paid(node: FakePhoenixd) -> None:
    # The peer's bug: this answer was reported as a paid payout.
    session_id, job_id = paid_session(1_000), ended_job(10)
    node.pay_outcome = "failed"

    answer = pay_out(SESSION_WITHDRAWAL, session_id, node.customer_invoice(100)).answer
    with pytest.raises(TimmyError) as caught:
        jobs.refund_job(job_id, node.customer_invoice(10))

    assert (answer.status, answer.fee_sats, answer.balance_sats) == ("failed", 0, 1_000)
    assert (caught.value.status, caught.value.code) == (502, "payment_failed")
    node.pay_outcome = "paid"
    assert jobs.refund_job(job_id, node.customer_invoice(10)).refunded is True


def test_connection_refused_is_credited_back(node: FakePhoenixd) -> None:
    session_id = paid_session(1_000)
    node.pay_outcome = "refused"

    answer = pay_out(SESSION_WITHDRAWAL, session_id, node.customer_invoice(100)).answer

    assert (answer.status, answer.balance_sats) == ("failed", 1_000)


def test_a_timeout_stays_pending_then_the_reconciler_settles_it_paid(node: FakePhoenixd) -> None:
    session_id = paid_session(1_000)
    node.pay_outcome = "timeout"

    answer = pay_out(SESSION_WITHDRAWAL, session_id, node.customer_invoice(100)).answer

    assert (answer.status, answer.balance_sats) == ("pending", 898)
    report = reconcile_pending_payouts(datetime.now(UTC) + timedelta(hours=1))
    assert (report.paid, report.failed) == (1, 0)
    assert balance(session_id) == 898


def test_a_5xx_stays_pending_then_reconciles_as_never_sent(node: FakePhoenixd) -> None:
    session_id = paid_session(1_000)
    node.pay_outcome = "500"

    answer = pay_out(SESSION_WITHDRAWAL, session_id, node.customer_invoice(100)).answer

    assert (answer.status, answer.balance_sats) == ("pending", 898)
    report = reconcile_pending_payouts(datetime.now(UTC) + timedelta(hours=1))
    assert (report.paid, report.failed) == (0, 1)
    assert balance(session_id) == 1_000
