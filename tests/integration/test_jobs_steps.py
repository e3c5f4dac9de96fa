"""The job workflow's steps against real Postgres, without a workflow: each step applies its
change once however often it runs (Step Functions retries), and money never goes astray."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field

import pytest
from concurrency import together
from nostr_keys import NostrKey

from timmy import identity, payments
from timmy.ai import providers
from timmy.ai.agent import EVALUATE_SYSTEM_PROMPT
from timmy.ai.base import AIResult
from timmy.ai.stub import StubProvider
from timmy.data import jobs as data
from timmy.data.invoices import InvoiceState, PaymentPurpose
from timmy.data.jobs import Job, JobState
from timmy.db.connection import db, transaction
from timmy.jobs import workflow
from timmy.jobs.errors import JobNotFound, JobStateError
from timmy.lightning.backends import backend
from timmy.lightning.stub import StubBackend


@dataclass
class CountingProvider:
    calls: Counter[str] = field(default_factory=Counter)
    inner: StubProvider = field(default_factory=StubProvider)
    mode: str = "stub"
    model: str = "stub"

    def complete(self, system: str, prompt: str, max_tokens: int) -> AIResult:
        self.calls["evaluate" if system == EVALUATE_SYSTEM_PROMPT else "work"] += 1
        return self.inner.complete(system, prompt, max_tokens)


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch, clean_db: None) -> CountingProvider:
    counting = CountingProvider()
    monkeypatch.setattr(providers, "provider", lambda: counting)
    return counting


def new_job(request: str = "Write a limerick.", pubkey: str | None = None) -> str:
    """A job row and its eval invoice, with no workflow attached."""
    job_id = str(uuid.uuid4())
    created = payments.request_invoice(10, "test eval")
    with transaction() as tx:
        if pubkey is not None:
            identity.ensure_identity(tx, pubkey)
        payments.record_invoice(tx, created, purpose=PaymentPurpose.JOB, owner_id=job_id)
        data.insert(
            tx,
            job_id=job_id,
            request=request,
            nostr_pubkey=pubkey,
            eval_fee_sats=10,
            eval_payment_hash=created.payment_hash,
        )
    return job_id


def pay(payment_hash: str) -> None:
    ln = backend()
    assert isinstance(ln, StubBackend)
    ln.mark_paid(payment_hash)
    assert payments.confirm_payment(payment_hash).paid


def row(job_id: str) -> Job:
    with transaction() as tx:
        found = data.get(tx, job_id)
    assert found is not None
    return found


def job_to_executing(request: str = "Write a limerick.", pubkey: str | None = None) -> str:
    job_id = new_job(request, pubkey)
    pay(row(job_id).eval_payment_hash)
    assert workflow.evaluate(job_id) is True
    pay(workflow.price_work(job_id).payment_hash)
    assert row(job_id).state == JobState.EXECUTING
    return job_id


def test_paying_the_eval_invoice_books_it_and_moves_the_job_on(provider: CountingProvider) -> None:
    job_id = new_job()
    assert row(job_id).eval_paid_sats == 0

    pay(row(job_id).eval_payment_hash)
    # A second confirmation of the same payment books nothing more
    payments.confirm_payment(row(job_id).eval_payment_hash)

    assert (row(job_id).state, row(job_id).eval_paid_sats) == (JobState.EVALUATING, 10)


def test_every_step_run_twice_applies_once(provider: CountingProvider) -> None:
    job_id = new_job()
    pay(row(job_id).eval_payment_hash)

    assert workflow.evaluate(job_id) is True
    assert workflow.evaluate(job_id) is True
    first = workflow.price_work(job_id)
    assert workflow.price_work(job_id) == first
    pay(first.payment_hash)
    workflow.execute(job_id)
    result = row(job_id).result
    workflow.execute(job_id)
    settled = workflow.settle(job_id)
    assert workflow.settle(job_id) == settled

    assert provider.calls == {"evaluate": 1, "work": 1}
    done = row(job_id)
    assert done.state == JobState.COMPLETE
    assert done.result == result
    invoices = db().scalar(
        "SELECT count(*) FROM invoices WHERE owner_id = :id AND purpose = :p",
        id=job_id,
        p=PaymentPurpose.JOB,
    )
    assert invoices == 2  # one eval, one work: a repeated pricing step issued no second one
    assert settled.refundable_sats == done.work_paid_sats - settled.actual_cost_sats


def test_a_step_that_finds_the_job_in_the_wrong_state_refuses(
    provider: CountingProvider,
) -> None:
    job_id = new_job()  # eval not paid yet
    for step in (workflow.evaluate, workflow.price_work, workflow.execute, workflow.settle):
        with pytest.raises(JobStateError):
            step(job_id)
    assert provider.calls == {}
    with pytest.raises(JobNotFound):
        workflow.evaluate(str(uuid.uuid4()))


def test_failing_refunds_everything_paid_and_never_touches_an_ended_job(
    provider: CountingProvider,
) -> None:
    job_id = job_to_executing()
    paid = row(job_id).eval_paid_sats + row(job_id).work_paid_sats

    failed = workflow.fail(job_id, "PermanentAIError", "boom")
    again = workflow.fail(job_id, "RetryableAIError", "later")

    assert (failed.state, failed.refundable_sats, failed.error_code) == (
        "failed",
        paid,
        "ai_failed",
    )
    assert again.error_code == "ai_failed"  # the first failure stands
    # A completed job is never failed afterwards
    done_id = job_to_executing()
    workflow.execute(done_id)
    workflow.settle(done_id)
    assert workflow.fail(done_id, "States.ALL", None).state == JobState.COMPLETE


def test_failing_a_job_expires_its_unpaid_invoice(provider: CountingProvider) -> None:
    job_id = new_job()
    payment_hash = row(job_id).eval_payment_hash

    workflow.fail(job_id, "Lambda.Unknown", None)

    state = db().scalar("SELECT state FROM invoices WHERE payment_hash = :h", h=payment_hash)
    assert state == "expired"
    ln = backend()
    assert isinstance(ln, StubBackend)
    ln.mark_paid(payment_hash)
    assert not payments.confirm_payment(payment_hash).paid
    assert row(job_id).refundable_sats == 0


def test_a_payment_racing_a_failure_is_either_refunded_or_refused(
    provider: CountingProvider,
) -> None:
    """Whichever commits first, the money paid and the money owed back always agree."""
    for _ in range(8):
        job_id = new_job()
        pay(row(job_id).eval_payment_hash)
        workflow.evaluate(job_id)
        work_hash = workflow.price_work(job_id).payment_hash
        ln = backend()
        assert isinstance(ln, StubBackend)
        ln.mark_paid(work_hash)
        errors = together(
            lambda h=work_hash: payments.confirm_payment(h),
            lambda j=job_id: workflow.fail(j, "PermanentAIError", None),
        )

        assert errors == []
        ended = row(job_id)
        invoice_state = db().scalar(
            "SELECT state FROM invoices WHERE payment_hash = :h", h=work_hash
        )
        assert ended.state == JobState.FAILED
        if invoice_state == InvoiceState.PAID:
            assert ended.work_paid_sats == ended.work_charge_sats
        else:
            assert (invoice_state, ended.work_paid_sats) == (InvoiceState.EXPIRED, 0)
        assert ended.refundable_sats == ended.eval_paid_sats + ended.work_paid_sats


def test_trust_is_recorded_once_per_finished_job(provider: CountingProvider) -> None:
    pubkey = NostrKey().pubkey_hex
    done = job_to_executing(pubkey=pubkey)
    workflow.execute(done)
    workflow.settle(done)
    rejected = new_job("No [[reject]]", pubkey)
    pay(row(rejected).eval_payment_hash)
    assert workflow.evaluate(rejected) is False
    waiting = new_job("Not finished", pubkey)

    results = [workflow.record_trust(job) for job in (done, done, rejected, rejected, waiting)]

    assert results == [True, False, True, False, False]
    counts = db().one(
        "SELECT success_count, failure_count FROM nostr_identities WHERE pubkey = :p", p=pubkey
    )
    assert counts == {"success_count": 1, "failure_count": 1}


def test_a_complete_job_earns_trust_by_what_its_caller_paid(provider: CountingProvider) -> None:
    pubkey = NostrKey().pubkey_hex
    job_id = job_to_executing(pubkey=pubkey)
    workflow.execute(job_id)
    workflow.settle(job_id)
    done = row(job_id)
    paid = done.eval_paid_sats + done.work_paid_sats - done.refundable_sats
    assert paid > 0

    assert workflow.record_trust(job_id) is True

    # Defaults: a point per 10 sats paid, at most 20 a day
    score = db().scalar("SELECT trust_score FROM nostr_identities WHERE pubkey = :p", p=pubkey)
    assert score == min(20, paid // 10)


def test_concurrent_trust_recording_counts_once(provider: CountingProvider) -> None:
    pubkey = NostrKey().pubkey_hex
    job_id = job_to_executing(pubkey=pubkey)
    workflow.execute(job_id)
    workflow.settle(job_id)
    barrier = threading.Barrier(8)
    recorded: list[bool] = []

    def record() -> None:
        barrier.wait()
        recorded.append(workflow.record_trust(job_id))

    threads = [threading.Thread(target=record) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(recorded) == [False] * 7 + [True]
    assert (
        db().scalar("SELECT success_count FROM nostr_identities WHERE pubkey = :p", p=pubkey) == 1
    )


def test_a_failed_trust_update_is_released_for_the_retry(
    provider: CountingProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    pubkey = NostrKey().pubkey_hex
    job_id = job_to_executing(pubkey=pubkey)
    workflow.execute(job_id)
    workflow.settle(job_id)

    def unavailable(_pubkey: str | None, **_: object) -> None:
        raise ConnectionError("database went away")

    with monkeypatch.context() as patch:
        patch.setattr(identity, "record_success", unavailable)
        with pytest.raises(ConnectionError):
            workflow.record_trust(job_id)

    assert workflow.record_trust(job_id) is True
    assert (
        db().scalar("SELECT success_count FROM nostr_identities WHERE pubkey = :p", p=pubkey) == 1
    )


def test_the_stub_never_uses_more_than_was_priced_so_nothing_is_owed_by_the_caller(
    provider: CountingProvider,
) -> None:
    for request in ("hi", "word " * 3000, "漢字" * 500, "emoji 🎉" * 200):
        job_id = job_to_executing(request)
        workflow.execute(job_id)
        settled = workflow.settle(job_id)
        done = row(job_id)
        assert done.input_tokens <= done.estimate_input_tokens
        assert done.output_tokens <= done.estimate_output_tokens
        assert settled.actual_cost_sats <= done.work_estimate_sats
        assert settled.refundable_sats == done.work_paid_sats - settled.actual_cost_sats
