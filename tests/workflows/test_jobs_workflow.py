"""The job state machine (shared/statemachines/job.asl.json as the template wires it), executed
by moto's ASL interpreter with its Lambda tasks running the real step handlers: every path."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import identities
import pytest
from concurrency import wait_until

from local.stack import LocalStack
from timmy.ai import providers
from timmy.ai.agent import EVALUATE_SYSTEM_PROMPT
from timmy.ai.base import AIResult
from timmy.ai.errors import RetryableAIError
from timmy.ai.stub import StubProvider
from timmy.data import jobs as job_rows
from timmy.data.jobs import Job, JobState
from timmy.db.connection import db, transaction
from timmy.jobs import service
from timmy.lightning.dev_payer import pay_own_invoice

SUCCESS_PATH = [
    "AwaitEvalPayment",
    "Evaluate",
    "IsAccepted",
    "PriceWork",
    "IsWorkFree",
    "AwaitWorkPayment",
    "Execute",
    "Settle",
    "RecordCompletion",
    "Complete",
]


@dataclass
class CountingProvider:
    """The stub provider, counting calls, optionally failing the first evaluations."""

    fail_first_evaluations: int = 0
    calls: Counter[str] = field(default_factory=Counter)
    inner: StubProvider = field(default_factory=StubProvider)
    mode: str = "stub"
    model: str = "stub"

    def complete(self, system: str, prompt: str, max_tokens: int) -> AIResult:
        kind = "evaluate" if system == EVALUATE_SYSTEM_PROMPT else "work"
        self.calls[kind] += 1
        if kind == "evaluate" and self.calls[kind] <= self.fail_first_evaluations:
            raise RetryableAIError("flaky provider (test)")
        return self.inner.complete(system, prompt, max_tokens)


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> CountingProvider:
    counting = CountingProvider()
    monkeypatch.setattr(providers, "provider", lambda: counting)
    return counting


@pytest.fixture
def payment_wait(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    from timmy.runtime import reset_caches

    def set_wait(seconds: int) -> None:
        monkeypatch.setenv("JOB_PAYMENT_WAIT_SECONDS", str(seconds))
        reset_caches()

    return set_wait


def sfn() -> Any:
    return boto3.client("stepfunctions", region_name="us-east-1")


def job(job_id: str) -> Job:
    with transaction() as tx:
        row = job_rows.get(tx, job_id)
    assert row is not None
    return row


def finished(job_id: str) -> dict[str, Any]:
    """The execution's description once it has ended."""
    arn = job(job_id).execution_arn

    def done() -> dict[str, Any] | None:
        described: dict[str, Any] = sfn().describe_execution(executionArn=arn)
        return None if described["status"] == "RUNNING" else described

    result: dict[str, Any] = wait_until(done)
    return result


def entered_states(job_id: str) -> list[str]:
    history = sfn().get_execution_history(executionArn=job(job_id).execution_arn)
    return [
        event["stateEnteredEventDetails"]["name"]
        for event in history["events"]
        if "stateEnteredEventDetails" in event
    ]


def start(request: str, token: str | None = None) -> str:
    created = service.create_job(request, header_token=token, body_token=None)
    return created.job_id


def caller_token(tier: str, *, absorbed_today: int = 0) -> str:
    """A token for an identity whose trust score puts it in ``tier``, with ``absorbed_today``
    sats of its daily free budget used."""
    return identities.token_for(identities.make_identity(tier, absorbed_today=absorbed_today))


def pool() -> int:
    return int(db().scalar("SELECT balance_sats FROM generosity_pool"))


def pay_when_awaited(job_id: str, state: JobState) -> None:
    wait_until(lambda: job(job_id).state == state)
    payment_hash = job(job_id).awaited_payment_hash
    assert payment_hash is not None
    assert pay_own_invoice(payment_hash).paid


@pytest.fixture(autouse=True)
def _stack(stack: LocalStack, clean_db: None) -> None:
    """Every test runs on the local stack's JobStateMachine with an empty database (and the
    generosity pool at its first-boot balance)."""
    from timmy import freetier

    freetier.seed_pool()


def test_the_job_state_machine_is_the_one_the_template_defines(stack: LocalStack) -> None:
    arn = stack.state_machine_arns["JobStateMachine"]
    definition = json.loads(sfn().describe_state_machine(stateMachineArn=arn)["definition"])
    assert definition["StartAt"] == "AwaitEvalPayment"
    tasks = [s for s in definition["States"].values() if s["Type"] == "Task"]
    # Every Lambda the machine calls is a function of the template (no placeholder left)
    assert all("${" not in json.dumps(t["Parameters"]) for t in tasks)


def test_paid_job_runs_every_step_once_and_completes(provider: CountingProvider) -> None:
    job_id = start("A poem about sats")
    pay_when_awaited(job_id, JobState.AWAITING_EVAL_PAYMENT)
    pay_when_awaited(job_id, JobState.AWAITING_WORK_PAYMENT)

    described = finished(job_id)

    assert described["status"] == "SUCCEEDED"
    assert entered_states(job_id) == SUCCESS_PATH
    assert provider.calls == {"evaluate": 1, "work": 1}
    row = job(job_id)
    assert row.state == JobState.COMPLETE
    assert row.refundable_sats == row.work_paid_sats - row.actual_cost_sats
    assert row.trust_recorded_at is not None


def test_rejection_ends_the_workflow_after_evaluating(provider: CountingProvider) -> None:
    job_id = start("No [[reject]]")
    pay_when_awaited(job_id, JobState.AWAITING_EVAL_PAYMENT)

    described = finished(job_id)

    assert described["status"] == "SUCCEEDED"
    assert entered_states(job_id) == [
        "AwaitEvalPayment",
        "Evaluate",
        "IsAccepted",
        "RecordRejection",
        "Rejected",
    ]
    assert job(job_id).state == JobState.REJECTED
    assert provider.calls == {"evaluate": 1}


def test_unpaid_eval_invoice_times_out_and_expires(payment_wait: Callable[[int], None]) -> None:
    payment_wait(1)
    job_id = start("Never paid")

    described = finished(job_id)

    assert described["status"] == "SUCCEEDED"
    assert entered_states(job_id) == [
        "AwaitEvalPayment",
        "ExpireEvalInvoice",
        "IsEvalInvoiceExpired",
        "ExpireJob",
        "Expired",
    ]
    assert job(job_id).state == JobState.EXPIRED


def test_unpaid_work_invoice_times_out_and_expires(payment_wait: Callable[[int], None]) -> None:
    payment_wait(2)
    job_id = start("Evaluated only")
    pay_when_awaited(job_id, JobState.AWAITING_EVAL_PAYMENT)

    described = finished(job_id)

    assert described["status"] == "SUCCEEDED"
    assert entered_states(job_id)[-4:] == [
        "ExpireWorkInvoice",
        "IsWorkInvoiceExpired",
        "ExpireJob",
        "Expired",
    ]
    row = job(job_id)
    assert (row.state, row.eval_paid_sats, row.refundable_sats) == (JobState.EXPIRED, 10, 0)


def test_a_payment_confirmed_after_the_wait_timed_out_continues_as_paid(
    payment_wait: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given confirmations that cannot resume the workflow (as if the resumption were lost)
    from timmy import payments

    payment_wait(2)
    with monkeypatch.context() as patch:
        patch.setattr(payments, "resume_waiting_workflow", lambda payment_hash: False)
        job_id = start("Paid at the last moment")
        pay_when_awaited(job_id, JobState.AWAITING_EVAL_PAYMENT)
        # When the wait times out, the expiry step finds the invoice paid after all
        wait_until(lambda: job(job_id).state == JobState.AWAITING_WORK_PAYMENT)
    pay_when_awaited(job_id, JobState.AWAITING_WORK_PAYMENT)

    described = finished(job_id)

    # Then the job went on as paid
    assert described["status"] == "SUCCEEDED"
    states = entered_states(job_id)
    assert states[:4] == [
        "AwaitEvalPayment",
        "ExpireEvalInvoice",
        "IsEvalInvoiceExpired",
        "Evaluate",
    ]
    assert states[-1] == "Complete"
    assert job(job_id).state == JobState.COMPLETE


def test_a_retryable_ai_error_is_retried_with_backoff(provider: CountingProvider) -> None:
    provider.fail_first_evaluations = 1
    job_id = start("Flaky provider")
    pay_when_awaited(job_id, JobState.AWAITING_EVAL_PAYMENT)
    pay_when_awaited(job_id, JobState.AWAITING_WORK_PAYMENT)

    assert finished(job_id)["status"] == "SUCCEEDED"
    assert provider.calls == {"evaluate": 2, "work": 1}
    assert job(job_id).state == JobState.COMPLETE


def test_retryable_errors_outlasting_the_retries_fail_the_job(
    provider: CountingProvider,
) -> None:
    job_id = start("Provider down [[fail:retryable]]")
    pay_when_awaited(job_id, JobState.AWAITING_EVAL_PAYMENT)

    described = finished(job_id)

    assert described["status"] == "FAILED"
    assert described.get("error") == "JobFailed"
    assert provider.calls == {"evaluate": 3}  # the first try and two retries
    assert entered_states(job_id)[-3:] == ["FailJob", "RecordFailure", "Failed"]
    row = job(job_id)
    assert (row.state, row.error_code, row.refundable_sats) == (
        "failed",
        "ai_unavailable",
        10,
    )


def test_a_permanent_work_error_is_not_retried_and_refunds_everything(
    provider: CountingProvider,
) -> None:
    job_id = start("Broken work [[fail-work:permanent]]")
    pay_when_awaited(job_id, JobState.AWAITING_EVAL_PAYMENT)
    pay_when_awaited(job_id, JobState.AWAITING_WORK_PAYMENT)

    assert finished(job_id)["status"] == "FAILED"
    assert provider.calls == {"evaluate": 1, "work": 1}
    row = job(job_id)
    assert row.state == JobState.FAILED
    assert row.error_code == "ai_failed"
    assert row.refundable_sats == row.eval_paid_sats + row.work_paid_sats
    assert row.work_paid_sats > 0


def test_an_unexpected_step_error_fails_the_job_without_leaking_details(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from timmy import quote

    def broken_estimate(request: str) -> Any:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(quote, "estimate", broken_estimate)
    job_id = start("Pricing breaks")
    pay_when_awaited(job_id, JobState.AWAITING_EVAL_PAYMENT)

    assert finished(job_id)["status"] == "FAILED"
    row = job(job_id)
    assert row.state == JobState.FAILED
    assert row.error_code == "internal_error"
    assert "secret" not in row.error_message
    assert row.refundable_sats == 10
    # The eval invoice was paid; no work invoice was issued
    assert db().scalar("SELECT count(*) FROM invoices WHERE owner_id = :id", id=job_id) == 1


# ------------------------------------------------------------------------------ free tier

FREE_PATH = [
    "AwaitEvalPayment",
    "Evaluate",
    "IsAccepted",
    "PriceWork",
    "IsWorkFree",
    "Execute",
    "Settle",
    "RecordCompletion",
    "Complete",
]
REQUEST = "Summarise the history of the Lightning Network, please. " * 40


def test_a_free_job_goes_from_pricing_straight_to_execute(provider: CountingProvider) -> None:
    # Given a trusted caller's job
    job_id = start(REQUEST, caller_token("trusted"))

    # When only the eval fee is paid
    pay_when_awaited(job_id, JobState.AWAITING_EVAL_PAYMENT)

    # Then the machine skips the work payment and completes
    assert finished(job_id)["status"] == "SUCCEEDED"
    assert entered_states(job_id) == FREE_PATH
    assert provider.calls == {"evaluate": 1, "work": 1}
    row = job(job_id)
    assert (row.state, row.free_tier_serve, row.work_payment_hash) == (
        "complete",
        "free",
        None,
    )
    assert row.absorbed_sats == row.actual_cost_sats > 0
    assert pool() == 10_000 - row.actual_cost_sats


def test_a_partial_job_waits_for_its_discounted_work_invoice(provider: CountingProvider) -> None:
    # Given an established caller with 3 sats of today's free budget left
    job_id = start(REQUEST, caller_token("established", absorbed_today=47))
    pay_when_awaited(job_id, JobState.AWAITING_EVAL_PAYMENT)

    # When the discounted work invoice is issued, then paid
    wait_until(lambda: job(job_id).state == JobState.AWAITING_WORK_PAYMENT)
    priced = job(job_id)
    assert priced.free_tier_serve == "partial"
    assert priced.work_charge_sats == priced.work_estimate_sats - 3
    assert pool() == 10_000
    pay_when_awaited(job_id, JobState.AWAITING_WORK_PAYMENT)

    # Then it runs the paid path and completes with the pool's part absorbed
    assert finished(job_id)["status"] == "SUCCEEDED"
    assert entered_states(job_id) == SUCCESS_PATH
    row = job(job_id)
    assert row.state == JobState.COMPLETE
    assert row.absorbed_sats == min(3, row.actual_cost_sats)
    assert row.refundable_sats == row.work_paid_sats - max(
        0, row.actual_cost_sats - row.absorbed_sats
    )


def test_a_free_job_whose_work_fails_ends_failed_with_its_reservation_released(
    provider: CountingProvider,
) -> None:
    job_id = start("Broken work [[fail-work:permanent]]", caller_token("trusted"))
    pay_when_awaited(job_id, JobState.AWAITING_EVAL_PAYMENT)

    assert finished(job_id)["status"] == "FAILED"
    assert entered_states(job_id) == [
        *FREE_PATH[:6],
        "FailJob",
        "RecordFailure",
        "Failed",
    ]
    row = job(job_id)
    assert (row.state, row.error_code, row.refundable_sats) == (JobState.FAILED, "ai_failed", 10)
    assert (row.absorbed_sats, row.pool_reserved_sats) == (0, 0)
    assert pool() == 10_000
