"""Refunds over HTTP when the Lightning payment fails: definitely, or with an unknown outcome.

(The concurrency proofs are in tests/integration/test_jobs_races.py.)"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from timmy.db.connection import db
from timmy.lightning.bolt11 import decode_invoice, encode_invoice
from timmy.lightning.stub import StubBackend
from timmy.lightning.types import PaymentResult, PaymentState
from timmy.payouts import reconcile_pending_payouts

if TYPE_CHECKING:
    from tests.e2e.jobs.conftest import JobsClient

LONG_REQUEST = "Explain payment channels to a curious child, step by step. " * 40


def customer_invoice(amount_sats: int) -> str:
    return encode_invoice(
        payment_hash=hashlib.sha256(os.urandom(32)).digest(),
        amount_sats=amount_sats,
        description="refund",
        expiry=3600,
        signing_key=bytes.fromhex("22" * 32),
    )


def _completed_job_with_refund(jobs: JobsClient) -> dict[str, Any]:
    job = jobs.run_to_end(LONG_REQUEST)
    assert job["state"] == "complete"
    assert job["refundable_sats"] > 0
    return job


def _age_payouts() -> None:
    db().execute("UPDATE payouts SET created_at = now() - interval '1 hour'")


def test_a_definitely_failed_refund_payment_can_be_claimed_again(
    jobs: JobsClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = _completed_job_with_refund(jobs)
    url = f"/api/jobs/{job['job_id']}/refund"

    def no_route(self: StubBackend, bolt11: str) -> PaymentResult:
        return PaymentResult(decode_invoice(bolt11).payment_hash, PaymentState.FAILED)

    # When the payment definitely fails
    with monkeypatch.context() as patch:
        patch.setattr(StubBackend, "pay", no_route)
        failed = jobs.api.post(url, json={"invoice": customer_invoice(job["refundable_sats"])})
    assert failed.status_code == 502
    assert failed.json()["error"]["code"] == "payment_failed"
    # Then the refund is not live, and a new claim pays it
    assert jobs.get(job["job_id"])["refund"] is None
    retried = jobs.api.post(url, json={"invoice": customer_invoice(job["refundable_sats"])})
    assert retried.status_code == 200, retried.text
    assert int(db().scalar("SELECT count(*) FROM stub_lightning_payments")) == 1


def test_a_refund_never_sent_is_resolved_and_replaced_by_a_new_invoice(
    jobs: JobsClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 10, 3(a): the old code kept such a refund pending forever (409 refund_in_progress).
    job = _completed_job_with_refund(jobs)
    url = f"/api/jobs/{job['job_id']}/refund"
    amount = job["refundable_sats"]

    def lost_answer(self: StubBackend, bolt11: str) -> PaymentResult:
        # The call died before the node recorded anything, and we could not tell.
        return PaymentResult(decode_invoice(bolt11).payment_hash, PaymentState.PENDING)

    # When the node's answer is lost, the refund stays pending (it may have been paid)
    with monkeypatch.context() as patch:
        patch.setattr(StubBackend, "pay", lost_answer)
        unknown = jobs.api.post(url, json={"invoice": customer_invoice(amount)})
    assert unknown.status_code == 200, unknown.text
    assert unknown.json()["refunded"] is False
    assert unknown.json()["refund"]["state"] == "pending"
    # Then while it is recent, a new invoice is refused: the first call may still arrive
    other = jobs.api.post(url, json={"invoice": customer_invoice(amount)})
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "refund_in_progress"
    # And once the node, asked, still knows nothing of it, a new invoice replaces it
    _age_payouts()
    replaced = jobs.api.post(url, json={"invoice": customer_invoice(amount)})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["refunded"] is True
    states = db().all("SELECT state FROM payouts ORDER BY created_at")
    assert states == [{"state": "failed"}, {"state": "paid"}]
    assert int(db().scalar("SELECT count(*) FROM stub_lightning_payments")) == 1


def test_a_pending_refund_the_node_paid_is_settled_as_sent(
    jobs: JobsClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = _completed_job_with_refund(jobs)
    url = f"/api/jobs/{job['job_id']}/refund"
    real_pay = StubBackend.pay

    def paid_but_answer_lost(self: StubBackend, bolt11: str) -> PaymentResult:
        real_pay(self, bolt11)  # the node paid it ...
        return PaymentResult(decode_invoice(bolt11).payment_hash, PaymentState.PENDING)

    with monkeypatch.context() as patch:
        patch.setattr(StubBackend, "pay", paid_but_answer_lost)
        pending = jobs.api.post(url, json={"invoice": customer_invoice(job["refundable_sats"])})
    assert pending.json()["refund"]["state"] == "pending"

    # When the reconciler asks the node, the refund is sent; a new claim is already_refunded
    report = reconcile_pending_payouts(datetime.now(UTC))
    assert (report.checked, report.paid) == (0, 0)  # too recent to ask yet
    _age_payouts()
    report = reconcile_pending_payouts(datetime.now(UTC))
    assert (report.checked, report.paid, report.failed) == (1, 1, 0)
    assert jobs.get(job["job_id"])["refunded"] is True
    again = jobs.api.post(url, json={"invoice": customer_invoice(job["refundable_sats"])})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_refunded"
