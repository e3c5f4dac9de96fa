"""Refunds over HTTP when the Lightning payment fails: definitely, or with an unknown outcome.

(The concurrency proofs are in tests/integration/test_jobs_races.py.)"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import pytest
from conftest import JobsClient

from timmy.db.connection import db
from timmy.lightning.bolt11 import encode_invoice
from timmy.lightning.stub import StubBackend
from timmy.lightning.types import LightningUnavailable, PaymentFailed

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


def test_a_definitely_failed_refund_payment_can_be_claimed_again(
    jobs: JobsClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = _completed_job_with_refund(jobs)
    url = f"/api/jobs/{job['job_id']}/refund"

    def no_route(self: StubBackend, bolt11: str) -> Any:
        raise PaymentFailed("no route to the payee")

    # When the payment definitely fails
    with monkeypatch.context() as patch:
        patch.setattr(StubBackend, "pay", no_route)
        failed = jobs.api.post(url, json={"invoice": customer_invoice(job["refundable_sats"])})
    assert failed.status_code == 502
    assert failed.json()["error"]["code"] == "payment_failed"
    # Then the refund is not marked, and a new claim pays it
    assert jobs.get(job["job_id"])["refund"] is None
    retried = jobs.api.post(url, json={"invoice": customer_invoice(job["refundable_sats"])})
    assert retried.status_code == 200, retried.text
    assert int(db().scalar("SELECT count(*) FROM stub_lightning_payments")) == 1


def test_a_refund_with_an_unknown_outcome_stays_pending_and_only_its_invoice_is_retried(
    jobs: JobsClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = _completed_job_with_refund(jobs)
    url = f"/api/jobs/{job['job_id']}/refund"
    invoice = customer_invoice(job["refundable_sats"])

    def lost_answer(self: StubBackend, bolt11: str) -> Any:
        raise LightningUnavailable("the node did not answer")

    # When the node's answer is lost, the refund stays pending (it may have been paid)
    with monkeypatch.context() as patch:
        patch.setattr(StubBackend, "pay", lost_answer)
        unknown = jobs.api.post(url, json={"invoice": invoice})
    assert unknown.status_code == 503
    pending = jobs.get(job["job_id"])
    assert pending["refund"]["state"] == "pending"
    assert pending["refunded"] is False
    # Then another invoice is refused, and so is the same one while the attempt is recent
    other = jobs.api.post(url, json={"invoice": customer_invoice(job["refundable_sats"])})
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "refund_in_progress"
    assert jobs.api.post(url, json={"invoice": invoice}).status_code == 409
    # And once the attempt is old enough, the same invoice is paid (a node never pays one
    # payment hash twice, so retrying it is safe)
    db().execute(
        "UPDATE jobs SET refund_attempted_at = now() - interval '1 hour' WHERE id = :id",
        id=job["job_id"],
    )
    retried = jobs.api.post(url, json={"invoice": invoice})
    assert retried.status_code == 200, retried.text
    assert jobs.get(job["job_id"])["refunded"] is True
