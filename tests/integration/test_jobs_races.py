"""Concurrency proofs for jobs, with the real job workflow running on the local stack.

Each thread calls what an endpoint's handler calls (``timmy.payments.confirm_payment`` for the
Lightning webhook, ``timmy.jobs.service.get_job`` for a poll, ``refund_job`` for a refund
claim) on its own database connection, all released together by a barrier. (Threads call the
layer rather than the in-process HTTP handlers: Powertools keeps the current event in state
shared by every resolver of a process, which is safe in Lambda, one event per process at a
time, but not for parallel requests inside one local process.)
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from typing import Any

import pytest
from concurrency import outcomes, wait_until

from local.stack import LocalStack
from timmy import orchestrator, payments
from timmy.data import jobs as job_rows
from timmy.data.jobs import Job, JobState
from timmy.db.connection import db, transaction
from timmy.errors import TimmyError
from timmy.jobs import service
from timmy.lightning.backends import backend
from timmy.lightning.bolt11 import encode_invoice
from timmy.lightning.dev_payer import pay_own_invoice
from timmy.lightning.stub import StubBackend

THREADS = 12
LONG_REQUEST = "Explain payment channels to a curious child, step by step. " * 40


@pytest.fixture(autouse=True)
def _stack(stack: LocalStack, clean_db: None) -> None:
    """The job workflow runs on the local stack's JobStateMachine; the database starts empty."""


def job(job_id: str) -> Job:
    with transaction() as tx:
        row = job_rows.get(tx, job_id)
    assert row is not None
    return row


def test_webhook_and_polling_racing_on_one_payment_resume_the_workflow_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a job whose workflow is parked on its eval invoice
    created = service.create_job("Race me", header_token=None, body_token=None)
    payment_hash = created.eval_invoice.payment_hash
    wait_until(
        lambda: db().scalar(
            "SELECT task_token IS NOT NULL FROM invoices WHERE payment_hash = :h", h=payment_hash
        )
    )
    resumed: Counter[str] = Counter()
    real_send = orchestrator.send_task_success

    def counting_send(task_token: str, output: dict[str, Any]) -> None:
        resumed[str(output["payment_hash"])] += 1
        real_send(task_token, output)

    monkeypatch.setattr(orchestrator, "send_task_success", counting_send)
    # And the node has been paid, but nobody has told Timmy yet
    ln = backend()
    assert isinstance(ln, StubBackend)
    assert ln.mark_paid(payment_hash)

    # When webhooks and polls all confirm it at once
    def webhook() -> bool:
        return payments.confirm_payment(payment_hash).paid

    def poll() -> str:
        return service.get_job(created.job_id).state

    results = outcomes([webhook, poll] * (THREADS // 2))

    # Then nothing failed, the workflow was resumed exactly once, and it moved on
    assert not [r for r in results if isinstance(r, Exception)], results
    assert all(r is True for r in results[0::2])
    wait_until(lambda: job(created.job_id).state == JobState.AWAITING_WORK_PAYMENT)
    assert resumed[payment_hash] == 1
    assert job(created.job_id).eval_paid_sats == 10


def customer_invoice(amount_sats: int) -> str:
    return encode_invoice(
        payment_hash=hashlib.sha256(os.urandom(32)).digest(),
        amount_sats=amount_sats,
        description="refund",
        expiry=3600,
        signing_key=bytes.fromhex("22" * 32),
    )


def completed_job() -> Job:
    created = service.create_job(LONG_REQUEST, header_token=None, body_token=None)
    job_id = created.job_id
    wait_until(lambda: pay_own_invoice(created.eval_invoice.payment_hash).paid)
    wait_until(lambda: job(job_id).state == JobState.AWAITING_WORK_PAYMENT)
    assert pay_own_invoice(job(job_id).work_payment_hash).paid
    done: Job = wait_until(lambda: job(job_id).state == JobState.COMPLETE and job(job_id))
    assert done.refundable_sats > 0
    return done


def test_concurrent_refund_claims_pay_at_most_once() -> None:
    # Given a completed job with an overpayment, and one invoice per claimant
    done = completed_job()
    amount = int(done.refundable_sats)
    invoices = [customer_invoice(amount) for _ in range(THREADS)]

    # When they all claim the refund at once
    results = outcomes([lambda i=invoice: service.refund_job(done.id, i) for invoice in invoices])

    # Then exactly one is paid, and every other claim is a conflict
    paid = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(paid) == 1
    assert paid[0].refunded is True
    assert all(isinstance(r, TimmyError) and r.status == 409 for r in refused), refused
    payments_made = db().all("SELECT bolt11, amount_sats FROM stub_lightning_payments")
    assert len(payments_made) == 1
    assert payments_made[0]["amount_sats"] == amount
    assert payments_made[0]["bolt11"] in invoices
    payouts = db().all("SELECT state FROM payouts WHERE source_id = :id", id=done.id)
    assert payouts == [{"state": "paid"}]
