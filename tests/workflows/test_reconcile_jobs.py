"""The scheduled reconciler ends jobs whose workflow was lost (a restart of the local stack, a
failed execution in AWS) or is stuck, once each, with the workflow's own money rules.

The fault is injected: a job whose execution never existed (what a restart of ``make dev``
leaves: the row keeps an ARN moto no longer knows), an execution under moto that failed before
its last step ended the job, an execution left waiting past every bound.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import identities
import pytest
from concurrency import together, wait_until

from local.stack import LocalStack
from timmy import freetier, orchestrator, reconcile
from timmy.data import jobs as job_rows
from timmy.data.invoices import InvoiceState
from timmy.data.jobs import Job, JobState
from timmy.db.connection import db, transaction
from timmy.jobs import service, workflow
from timmy.lightning.backends import backend
from timmy.lightning.bolt11 import encode_invoice
from timmy.lightning.dev_payer import pay_own_invoice
from timmy.lightning.stub import StubBackend
from timmy.reconcile.jobs import reconcile_jobs
from timmy.reconcile.settings import ReconcileSettings

REQUEST = "Summarise the history of the Lightning Network, please. " * 40
CUSTOMER_KEY = bytes.fromhex("22" * 32)


def later(seconds: int = 2 * 3600) -> datetime:
    """A run of the reconciler this far in the future: past the grace, the invoices' expiry
    (10 minutes) and the stuck bound (1 hour)."""
    return datetime.now(UTC) + timedelta(seconds=seconds)


def job(job_id: str) -> Job:
    with transaction() as tx:
        row = job_rows.get(tx, job_id)
    assert row is not None
    return row


def invoice_state(payment_hash: str) -> str:
    return str(db().scalar("SELECT state FROM invoices WHERE payment_hash = :h", h=payment_hash))


def pool() -> int:
    return int(db().scalar("SELECT balance_sats FROM generosity_pool"))


@pytest.fixture(autouse=True)
def _stack(stack: LocalStack, clean_db: None) -> None:
    freetier.seed_pool()


@pytest.fixture
def lost_workflows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Jobs get the ARN of an execution that never runs: the workflow is lost at once, as a
    restart of the local stack loses every execution (the row keeps an ARN nobody knows)."""
    monkeypatch.setattr(
        orchestrator,
        "start_execution",
        lambda machine_arn, name, payload: orchestrator.execution_arn_of(machine_arn, name),
    )


def new_job(request: str = REQUEST, token: str | None = None) -> str:
    """A job created as POST /api/jobs does (its workflow lost with ``lost_workflows``)."""
    return service.create_job(request, header_token=token, body_token=None).job_id


def pay(payment_hash: str) -> None:
    assert pay_own_invoice(payment_hash).paid


def evaluating(token: str | None = None) -> str:
    """A job whose eval fee is paid and whose workflow is gone."""
    job_id = new_job(token=token)
    pay(job(job_id).eval_payment_hash)
    assert job(job_id).state == JobState.EVALUATING
    return job_id


def executing() -> str:
    """A job whose eval fee and work are paid, its workflow gone before the work ran."""
    job_id = evaluating()
    assert workflow.evaluate(job_id)
    pricing = workflow.price_work(job_id)
    assert pricing.payment_hash is not None
    pay(pricing.payment_hash)
    row = job(job_id)
    assert row.state == JobState.EXECUTING
    assert row.work_paid_sats > 0
    return job_id


def run(now: datetime) -> reconcile.RunReport:
    report = reconcile.run(now)
    assert report.error_count == 0, report
    return report


def customer_invoice(amount_sats: int) -> str:
    return encode_invoice(
        payment_hash=hashlib.sha256(os.urandom(32)).digest(),
        amount_sats=amount_sats,
        description="refund",
        expiry=3600,
        signing_key=CUSTOMER_KEY,
    )


@pytest.fixture
def api(gateway_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway_url, timeout=30) as client:
        yield client


# ------------------------------------------------------------------------ lost workflows


def test_a_paid_job_whose_workflow_was_lost_fails_refundable_once_and_the_refund_pays(
    lost_workflows: None, api: httpx.Client
) -> None:
    # Given a job whose eval fee and work are paid and whose execution no longer exists
    job_id = executing()
    arn = job(job_id).execution_arn
    assert orchestrator.execution_status(arn) is None
    paid = job(job_id).eval_paid_sats + job(job_id).work_paid_sats

    # When the reconciler runs
    report = run(later())

    # Then the job failed, everything paid for it is refundable
    assert report.ended["jobs"] == 1
    row = job(job_id)
    assert (row.state, row.error_code) == (JobState.FAILED, "workflow_lost")
    assert row.refundable_sats == paid
    assert row.finished_at is not None
    # And a second run changes nothing
    assert run(later()).ended["jobs"] == 0
    assert job(job_id) == row
    # And the caller can claim the refund
    refunded = api.post(f"/api/jobs/{job_id}/refund", json={"invoice": customer_invoice(paid)})
    assert refunded.status_code == 200, refunded.text
    assert refunded.json()["refunded"] is True


def test_a_job_whose_eval_was_paid_but_never_evaluated_fails_with_the_fee_refundable(
    lost_workflows: None,
) -> None:
    pubkey = identities.make_identity("established")
    score = db().scalar("SELECT trust_score FROM nostr_identities WHERE pubkey = :pk", pk=pubkey)
    job_id = evaluating(identities.token_for(pubkey))
    assert run(later()).ended["jobs"] == 1
    row = job(job_id)
    assert (row.state, row.refundable_sats, row.eval_accepted) == (JobState.FAILED, 10, None)
    # The lost workflow was our failure: the caller's trust is untouched, and stays so even if
    # a stuck execution woke up and reached RecordFailure
    assert workflow.record_trust(job_id) is False
    after = db().scalar("SELECT trust_score FROM nostr_identities WHERE pubkey = :pk", pk=pubkey)
    assert after == score


def test_a_job_whose_work_was_done_but_never_settled_is_settled(lost_workflows: None) -> None:
    # Given a job whose result is stored, its workflow lost before Settle
    job_id = executing()
    workflow.execute(job_id)
    assert job(job_id).result is not None

    assert run(later()).ended["jobs"] == 1

    # Then it completes as Settle would have: the overpayment refundable, the pool credited
    row = job(job_id)
    assert row.state == JobState.COMPLETE
    assert row.refundable_sats == row.work_paid_sats - row.actual_cost_sats
    assert pool() == 10_000 + freetier.credit_amount(row.work_paid_sats)
    assert row.trust_recorded_at is not None


def test_an_unpaid_job_whose_workflow_was_lost_expires_only_once_its_invoice_has(
    lost_workflows: None,
) -> None:
    job_id = new_job()
    eval_hash = job(job_id).eval_payment_hash

    # While the invoice can still be paid, the job waits (a payment must find it)
    assert run(later(300)).ended["jobs"] == 0
    assert job(job_id).state == JobState.AWAITING_EVAL_PAYMENT

    # Once it expired, the invoice and the job expire, nothing refundable
    assert run(later()).ended["jobs"] == 1
    row = job(job_id)
    assert (row.state, row.refundable_sats) == (JobState.EXPIRED, 0)
    assert invoice_state(eval_hash) == InvoiceState.EXPIRED


def test_a_payment_whose_notice_was_lost_is_found_and_made_refundable(
    lost_workflows: None,
) -> None:
    # Given a job whose eval invoice the node says is paid, though nobody confirmed it
    job_id = new_job()
    eval_hash = job(job_id).eval_payment_hash
    stub = backend()
    assert isinstance(stub, StubBackend)
    stub.mark_paid(eval_hash)
    assert invoice_state(eval_hash) == InvoiceState.PENDING

    assert run(later()).ended["jobs"] == 1

    # Then the payment was booked and is owed back, not expired and lost
    row = job(job_id)
    assert (row.state, row.eval_paid_sats, row.refundable_sats) == (JobState.FAILED, 10, 10)
    assert invoice_state(eval_hash) == InvoiceState.PAID


def test_a_free_job_whose_workflow_was_lost_gives_its_reservation_back(
    lost_workflows: None,
) -> None:
    # Given a trusted caller's free job, the pool debited for it, its workflow lost
    job_id = evaluating(identities.token_for(identities.make_identity("trusted")))
    assert workflow.evaluate(job_id)
    assert workflow.price_work(job_id).serve == "free"
    reserved = job(job_id).pool_reserved_sats
    assert reserved > 0
    assert pool() == 10_000 - reserved

    assert run(later()).ended["jobs"] == 1

    row = job(job_id)
    assert (row.state, row.refundable_sats, row.pool_reserved_sats) == (JobState.FAILED, 10, 0)
    assert pool() == 10_000


def test_racing_reconcilers_end_each_job_once(lost_workflows: None) -> None:
    # Given free jobs (each holding a pool reservation) and paid ones, all with lost workflows
    token = identities.token_for(identities.make_identity("trusted"))
    free_jobs = [evaluating(token) for _ in range(3)]
    for job_id in free_jobs:
        assert workflow.evaluate(job_id)
        assert workflow.price_work(job_id).serve == "free"
    paid_jobs = [executing() for _ in range(3)]
    assert pool() < 10_000

    # When six reconcilers run at once, each on its own connection
    now = later()
    results: list[tuple[int, int]] = []
    errors = together(*[lambda: results.append(reconcile_jobs(now)) for _ in range(6)])

    # Then each job was ended by exactly one of them, and every reservation released once
    assert errors == []
    assert sum(ended for ended, _ in results) == 6
    assert sum(failed for _, failed in results) == 0
    for job_id in free_jobs + paid_jobs:
        row = job(job_id)
        assert row.state == JobState.FAILED
        assert row.refundable_sats == row.eval_paid_sats + row.work_paid_sats
    assert pool() == 10_000


# ------------------------------------------------------------------- executions under moto


def test_a_job_whose_execution_failed_before_ending_it_fails_refundable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    # Retry intervals are recorded, not slept
    monkeypatch.setattr(retrier_decl, "time", SimpleNamespace(sleep=lambda seconds: None))

    def database_down(*args: Any) -> Any:
        raise RuntimeError("injected: the database is unreachable")

    # Given a paid job whose work fails, and whose FailJob step cannot reach the database
    with monkeypatch.context() as patch:
        patch.setattr(workflow, "fail", database_down)
        job_id = new_job("Broken work [[fail-work:permanent]]")
        pay(job(job_id).eval_payment_hash)
        wait_until(lambda: job(job_id).state == JobState.AWAITING_WORK_PAYMENT)
        pay(job(job_id).work_payment_hash)
        # Then the execution fails with the job still executing (in AWS: the same)
        arn = job(job_id).execution_arn
        wait_until(lambda: orchestrator.execution_status(arn) == "FAILED")
    assert job(job_id).state == JobState.EXECUTING

    # When the reconciler runs, the job ends as the workflow meant it to
    assert run(later()).ended["jobs"] == 1

    row = job(job_id)
    assert row.state == JobState.FAILED
    assert row.refundable_sats == row.eval_paid_sats + row.work_paid_sats > 10
    assert run(later()).ended["jobs"] == 0


def test_a_live_execution_is_left_alone_until_it_is_stuck(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a job whose real execution waits on the eval invoice far longer than it lives
    monkeypatch.setenv("JOB_PAYMENT_WAIT_SECONDS", "86400")
    job_id = new_job()
    arn = job(job_id).execution_arn
    wait_until(
        lambda: db().scalar(
            "SELECT task_token IS NOT NULL FROM invoices WHERE payment_hash = :h",
            h=job(job_id).eval_payment_hash,
        )
    )
    assert orchestrator.execution_status(arn) == "RUNNING"

    # A run after the invoice expired, but within the stuck bound, leaves it to its workflow
    assert run(later(1800)).ended["jobs"] == 0
    assert job(job_id).state == JobState.AWAITING_EVAL_PAYMENT

    # Past the bound, it is stuck: the job expires (nothing was paid)
    assert run(later(3 * 3600)).ended["jobs"] == 1
    assert job(job_id).state == JobState.EXPIRED


def test_a_recently_changed_job_is_not_looked_at(lost_workflows: None) -> None:
    job_id = evaluating()
    # Within the grace period (the row just changed), even a gone execution is left alone
    assert run(datetime.now(UTC) + timedelta(seconds=30)).ended["jobs"] == 0
    assert job(job_id).state == JobState.EVALUATING


# ------------------------------------------------------------------------------ settings


def test_the_stuck_bound_must_exceed_the_grace_period() -> None:
    with pytest.raises(ValueError, match="RECONCILE_STUCK_AFTER_SECONDS"):
        ReconcileSettings.from_env(
            {"RECONCILE_GRACE_SECONDS": "900", "RECONCILE_STUCK_AFTER_SECONDS": "900"}
        )
    settings = ReconcileSettings.from_env({})
    assert (settings.reconcile_grace_seconds, settings.reconcile_stuck_after_seconds) == (
        120,
        3600,
    )


def test_a_job_another_reconciler_holds_is_left_to_it(lost_workflows: None) -> None:
    # Given a lost job that another run has claimed and is still ending
    job_id = evaluating()
    row = job(job_id)
    with transaction() as tx:
        assert (
            job_rows.claim_for_reconcile(
                tx, job_id, state=JobState.EVALUATING, updated_at=row.updated_at, lease_seconds=300
            )
            is not None
        )

    # Then this run leaves it alone, however late it runs
    assert run(later()).ended["jobs"] == 0
    assert job(job_id).state == JobState.EVALUATING

    # Once the claim is given back (its run left it unfinished), the next run ends it
    with transaction() as tx:
        job_rows.release_reconcile_claim(tx, job_id)
    assert run(later()).ended["jobs"] == 1
    assert job(job_id).state == JobState.FAILED
