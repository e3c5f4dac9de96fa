"""The free tier inside the job flow, step by step against real Postgres (no workflow): when the
pool is debited, what settlement records and refunds, and that every reservation is recorded or
released exactly once however often (and however concurrently) the steps run."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import identities
import pytest
from concurrency import together

from timmy import freetier, payments
from timmy.data import jobs as data
from timmy.data.invoices import PaymentPurpose
from timmy.data.jobs import Job, JobState
from timmy.db.connection import db, transaction
from timmy.jobs import workflow
from timmy.lightning.backends import backend
from timmy.lightning.stub import StubBackend

POOL = 10_000
# Stub AI at the local stack's fixed BTC price: estimated 8 sats, really costs 2.
REQUEST = "Summarise the history of the Lightning Network, please. " * 40
# Estimated 29 sats: large enough for a 10 % pool credit of at least 2 sats.
LARGE_REQUEST = "Summarise the history of the Lightning Network, please. " * 200


@pytest.fixture(autouse=True)
def _pool(clean_db: None) -> None:
    freetier.seed_pool()
    db().execute("UPDATE generosity_pool SET balance_sats = :b", b=POOL)


def caller(tier: str, *, absorbed_today: int = 0) -> str:
    """An identity whose trust score puts it in ``tier`` now, with ``absorbed_today`` of its
    daily free budget already used."""
    return identities.make_identity(tier, absorbed_today=absorbed_today)


def pool() -> int:
    return int(db().scalar("SELECT balance_sats FROM generosity_pool"))


def absorbed_today(pubkey: str) -> int:
    return int(
        db().scalar(
            "SELECT sats_absorbed_today FROM nostr_identities WHERE pubkey = :pk", pk=pubkey
        )
    )


def grants() -> list[dict[str, Any]]:
    return db().all(
        "SELECT pubkey, request_hash, sats_absorbed, pool_balance_after FROM free_tier_grants"
        " ORDER BY id"
    )


def row(job_id: str) -> Job:
    with transaction() as tx:
        found = data.get(tx, job_id)
    assert found is not None
    return found


def pay(payment_hash: str) -> None:
    ln = backend()
    assert isinstance(ln, StubBackend)
    ln.mark_paid(payment_hash)
    assert payments.confirm_payment(payment_hash).paid


def evaluated_job(request: str = REQUEST, pubkey: str | None = None) -> str:
    """A job whose eval fee is paid and whose request was accepted (no workflow attached)."""
    job_id = str(uuid.uuid4())
    created = payments.request_invoice(10, "test eval")
    with transaction() as tx:
        payments.record_invoice(tx, created, purpose=PaymentPurpose.JOB, owner_id=job_id)
        data.insert(
            tx,
            job_id=job_id,
            request=request,
            nostr_pubkey=pubkey,
            eval_fee_sats=10,
            eval_payment_hash=created.payment_hash,
        )
    pay(created.payment_hash)
    assert workflow.evaluate(job_id) is True
    return job_id


def job_invoices(job_id: str) -> int:
    return int(db().scalar("SELECT count(*) FROM invoices WHERE owner_id = :id", id=job_id))


# ----------------------------------------------------------------------------------- free


def test_a_trusted_callers_job_is_free_and_settles_at_the_actual_cost() -> None:
    # Given a trusted caller's accepted job
    pubkey = caller("trusted")
    job_id = evaluated_job(pubkey=pubkey)

    # When the work is priced: free, no work invoice, the pool debited for the estimate now
    priced = workflow.price_work(job_id)
    job = row(job_id)
    estimate = int(job.work_estimate_sats)
    assert (priced.serve, priced.payment_hash, priced.charge_sats) == ("free", None, 0)
    assert estimate > 0
    assert (job.state, job.free_tier_serve) == (JobState.EXECUTING, "free")
    assert (job.absorbed_sats, job.pool_reserved_sats) == (estimate, estimate)
    assert job.work_payment_hash is None
    assert pool() == POOL - estimate
    assert absorbed_today(pubkey) == estimate
    assert job_invoices(job_id) == 1  # the eval invoice only
    # A repeated pricing step decides nothing again
    assert workflow.price_work(job_id) == priced
    assert pool() == POOL - estimate

    # When the work runs and is settled (twice, as a retried step would)
    workflow.execute(job_id)
    settled = workflow.settle(job_id)
    assert workflow.settle(job_id) == settled

    # Then the pool paid exactly the actual cost: the over-reservation came back
    actual = settled.actual_cost_sats
    assert 0 < actual < estimate
    assert settled.refundable_sats == 0  # nothing was paid for the work
    assert pool() == POOL - actual
    assert absorbed_today(pubkey) == actual
    done = row(job_id)
    assert (done.state, done.absorbed_sats, done.pool_reserved_sats) == (
        "complete",
        actual,
        0,
    )
    assert (done.work_paid_sats, done.refundable_sats) == (0, 0)
    assert grants() == [
        {
            "pubkey": pubkey,
            "request_hash": hashlib.sha256(REQUEST.encode()).hexdigest(),
            "sats_absorbed": actual,
            "pool_balance_after": POOL - actual,
        }
    ]


def test_concurrent_pricing_runs_leave_exactly_one_reservation() -> None:
    # Given a trusted caller's accepted job priced by several runs of the step at once
    pubkey = caller("trusted")
    job_id = evaluated_job(pubkey=pubkey)
    runs = 6

    errors = together(*[lambda: workflow.price_work(job_id) for _ in range(runs)])

    # Then the losers' reservations went back: the pool holds one job's estimate
    assert errors == []
    job = row(job_id)
    estimate = int(job.work_estimate_sats)
    assert job.pool_reserved_sats == estimate
    assert pool() == POOL - estimate
    assert absorbed_today(pubkey) == estimate


def test_a_free_decision_that_cannot_be_stored_goes_back_to_the_pool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pubkey = caller("trusted")
    job_id = evaluated_job(pubkey=pubkey)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise ConnectionError("database went away")

    with monkeypatch.context() as patch:
        patch.setattr(data, "record_free_work", broken)
        with pytest.raises(ConnectionError):
            workflow.price_work(job_id)

    assert pool() == POOL
    assert absorbed_today(pubkey) == 0
    assert row(job_id).state == JobState.EVALUATING
    # The retried step decides again, and this time the job holds the reservation
    assert workflow.price_work(job_id).serve == "free"
    assert pool() == POOL - int(row(job_id).pool_reserved_sats)


# -------------------------------------------------------------------------------- partial


@pytest.mark.parametrize("budget_left", [1, 5])
def test_a_partial_grant_is_reserved_at_payment_and_refunds_by_the_partial_math(
    budget_left: int,
) -> None:
    # Given an established caller (50 a day) with budget_left sats of it left today
    pubkey = caller("established", absorbed_today=50 - budget_left)
    job_id = evaluated_job(pubkey=pubkey)

    # When the work is priced: a discounted invoice, and the pool is NOT debited yet
    priced = workflow.price_work(job_id)
    job = row(job_id)
    estimate = int(job.work_estimate_sats)
    assert priced.serve == "partial"
    assert priced.charge_sats == estimate - budget_left
    invoice = db().scalar(
        "SELECT amount_sats FROM invoices WHERE payment_hash = :h", h=priced.payment_hash
    )
    assert invoice == estimate - budget_left
    assert (job.absorbed_sats, job.pool_reserved_sats) == (budget_left, 0)
    assert pool() == POOL
    assert absorbed_today(pubkey) == 50 - budget_left

    # When the work invoice is paid: the grant is reserved, in the payment's transaction
    assert priced.payment_hash is not None
    pay(priced.payment_hash)
    paid = row(job_id)
    assert (paid.state, paid.pool_reserved_sats) == (JobState.EXECUTING, budget_left)
    assert pool() == POOL - budget_left
    assert absorbed_today(pubkey) == 50

    # When the work runs and is settled
    workflow.execute(job_id)
    settled = workflow.settle(job_id)

    # Then the pool absorbs at most the actual cost and the caller pays only the rest of it
    actual = settled.actual_cost_sats
    absorbed = min(actual, budget_left)
    work_paid = estimate - budget_left
    assert settled.refundable_sats == work_paid - max(0, actual - absorbed)
    done = row(job_id)
    assert (done.absorbed_sats, done.pool_reserved_sats) == (absorbed, 0)
    assert pool() == POOL - absorbed + work_paid * 10 // 100
    assert absorbed_today(pubkey) == 50 - budget_left + absorbed
    assert [g["sats_absorbed"] for g in grants()] == [absorbed]


def test_a_partial_job_whose_pool_drained_before_payment_still_runs_at_its_price() -> None:
    # Given a partial decision, and the pool emptied before the caller pays
    pubkey = caller("established", absorbed_today=45)
    job_id = evaluated_job(pubkey=pubkey)
    priced = workflow.price_work(job_id)
    assert priced.serve == "partial"
    assert priced.payment_hash is not None
    db().execute("UPDATE generosity_pool SET balance_sats = 0")

    # When it is paid, nothing can be reserved; the work still runs (it was paid for)
    pay(priced.payment_hash)
    assert (row(job_id).state, row(job_id).pool_reserved_sats) == (JobState.EXECUTING, 0)
    workflow.execute(job_id)
    settled = workflow.settle(job_id)

    # Then the caller owes the whole actual cost from what they paid; no grant is recorded
    assert settled.refundable_sats == max(0, priced.charge_sats - settled.actual_cost_sats)
    assert row(job_id).absorbed_sats == 0
    assert grants() == []
    assert absorbed_today(pubkey) == 45
    assert pool() == priced.charge_sats * 10 // 100


def test_an_unpaid_partial_invoice_expires_without_touching_the_pool() -> None:
    pubkey = caller("established", absorbed_today=45)
    job_id = evaluated_job(pubkey=pubkey)
    priced = workflow.price_work(job_id)
    assert priced.serve == "partial"
    assert priced.payment_hash is not None

    assert payments.expire_invoice(priced.payment_hash)
    assert workflow.expire(job_id) == "expired"
    assert workflow.expire(job_id) == "expired"

    job = row(job_id)
    assert (job.absorbed_sats, job.pool_reserved_sats, job.refundable_sats) == (0, 0, 0)
    assert pool() == POOL
    assert absorbed_today(pubkey) == 45


# ----------------------------------------------------------------------------------- gate


@pytest.mark.parametrize("tier", ["anonymous", "new"])
def test_gated_jobs_pay_in_full_and_credit_the_pool_on_completion(tier: str) -> None:
    pubkey = None if tier == "anonymous" else caller("new")
    job_id = evaluated_job(LARGE_REQUEST, pubkey=pubkey)

    priced = workflow.price_work(job_id)
    job = row(job_id)
    assert priced.serve == "gate"
    assert priced.charge_sats == job.work_estimate_sats
    assert job.absorbed_sats == 0
    assert priced.payment_hash is not None
    pay(priced.payment_hash)
    assert pool() == POOL  # credited on completion, not on payment
    workflow.execute(job_id)
    settled = workflow.settle(job_id)
    workflow.settle(job_id)

    paid = priced.charge_sats
    assert paid * 10 // 100 >= 2
    assert pool() == POOL + paid * 10 // 100  # 10 %, rounded down, once
    assert settled.refundable_sats == paid - settled.actual_cost_sats
    assert grants() == []


# ------------------------------------------------------------------------------- failures


def test_a_failed_free_job_releases_its_reservation_exactly_once() -> None:
    # Given a free job whose work is running
    pubkey = caller("trusted")
    job_id = evaluated_job(pubkey=pubkey)
    assert workflow.price_work(job_id).serve == "free"
    assert pool() < POOL

    # When the failure step runs many times at once (retries, duplicate deliveries)
    errors = together(*[lambda: workflow.fail(job_id, "PermanentAIError", None) for _ in range(8)])
    workflow.fail(job_id, "States.ALL", None)

    # Then the pool and the caller's day are back where they started, once
    assert errors == []
    assert pool() == POOL
    assert absorbed_today(pubkey) == 0
    job = row(job_id)
    assert (job.state, job.error_code) == (JobState.FAILED, "ai_failed")
    assert (job.absorbed_sats, job.pool_reserved_sats) == (0, 0)
    assert job.refundable_sats == 10  # the eval fee; the work cost the caller nothing
    assert grants() == []


def test_a_failed_partial_job_releases_what_was_reserved_at_payment() -> None:
    pubkey = caller("established", absorbed_today=47)
    job_id = evaluated_job(pubkey=pubkey)
    priced = workflow.price_work(job_id)
    assert priced.payment_hash is not None
    pay(priced.payment_hash)
    assert pool() == POOL - 3

    workflow.fail(job_id, "PermanentAIError", None)
    workflow.fail(job_id, "PermanentAIError", None)

    assert pool() == POOL
    assert absorbed_today(pubkey) == 47
    job = row(job_id)
    assert job.refundable_sats == 10 + priced.charge_sats  # everything paid
    assert (job.absorbed_sats, job.pool_reserved_sats) == (0, 0)


def test_settlement_racing_a_failure_either_records_or_releases_never_both() -> None:
    for _ in range(6):
        db().execute("UPDATE generosity_pool SET balance_sats = :b", b=POOL)
        pubkey = caller("trusted")
        job_id = evaluated_job(pubkey=pubkey)
        workflow.price_work(job_id)
        workflow.execute(job_id)

        errors = together(
            lambda j=job_id: workflow.settle(j),
            lambda j=job_id: workflow.fail(j, "States.Timeout", None),
        )

        ended = row(job_id)
        assert ended.pool_reserved_sats == 0
        if ended.state == JobState.COMPLETE:
            assert errors == []
            assert pool() == POOL - int(ended.actual_cost_sats)
            assert absorbed_today(pubkey) == ended.absorbed_sats > 0
        else:
            # The settle step found the job failed: its error is the workflow's, not money's
            assert ended.state == JobState.FAILED
            assert len(errors) == 1
            assert pool() == POOL
            assert absorbed_today(pubkey) == 0


def test_one_callers_jobs_deciding_settling_and_failing_at_once_never_deadlock() -> None:
    # Given a trusted caller with free jobs running and more jobs about to be priced
    pubkey = caller("trusted")
    running = []
    for _ in range(6):
        job_id = evaluated_job(pubkey=pubkey)
        assert workflow.price_work(job_id).serve == "free"
        workflow.execute(job_id)
        running.append(job_id)
    waiting = [evaluated_job(pubkey=pubkey) for _ in range(6)]
    start = pool()

    # When some are settled, some failed and the others priced, all at the same instant
    errors = together(
        *[lambda j=j: workflow.settle(j) for j in running[:3]],
        *[lambda j=j: workflow.fail(j, "States.Timeout", None) for j in running[3:]],
        *[lambda j=j: workflow.price_work(j) for j in waiting],
    )

    # Then every step went through, and the pool holds exactly what the jobs account for
    assert errors == []
    settled = [row(j) for j in running[:3]]
    priced = [row(j) for j in waiting]
    assert all(job.free_tier_serve == "free" for job in priced)
    reserved_before = sum(int(row(j).work_estimate_sats) for j in running)
    expected = (
        start
        + reserved_before
        - sum(int(job.absorbed_sats) for job in settled)
        - sum(int(job.pool_reserved_sats) for job in priced)
    )
    assert pool() == expected
    assert absorbed_today(pubkey) == POOL - pool()
