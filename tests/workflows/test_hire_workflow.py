"""The AI-for-Hire timers (shared/statemachines/hire.asl.json as the template wires it) and
Timmy's contractor (hire_timmy.asl.json), executed by moto's ASL interpreter with the real
step handlers, short waits: the deadline, silence-release, dispute and cancel paths."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from concurrency import wait_until
from hire_ledger import balance, conserved_total, funded_account

from local.stack import LocalStack
from timmy.data import hire as data
from timmy.data.accounts import Account
from timmy.data.hire import TaskStatus
from timmy.db.connection import transaction
from timmy.hire import contractor, service
from timmy.hire.errors import InvalidState
from timmy.runtime import reset_caches


@pytest.fixture(autouse=True)
def _stack(stack: LocalStack, clean_db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIRE_DELIVERY_WAIT_SECONDS", "2")
    monkeypatch.setenv("HIRE_CONFIRM_WINDOW_SECONDS", "1")
    reset_caches()


def sfn() -> Any:
    return boto3.client("stepfunctions", region_name="us-east-1")


def task(task_id: str) -> data.Task:
    with transaction() as tx:
        row = data.get_task(tx, task_id)
    assert row is not None
    return row


def finished(task_id: str) -> dict[str, Any]:
    arn = wait_until(lambda: task(task_id).execution_arn)

    def done() -> dict[str, Any] | None:
        described: dict[str, Any] = sfn().describe_execution(executionArn=arn)
        return None if described["status"] == "RUNNING" else described

    result: dict[str, Any] = wait_until(done)
    return result


def entered(task_id: str) -> list[str]:
    history = sfn().get_execution_history(executionArn=task(task_id).execution_arn)
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in history["events"]
        if "stateEnteredEventDetails" in e
    ]


def accepted_task(price: int = 300) -> tuple[Account, Account, str]:
    buyer, _ = funded_account(1000)
    worker, _ = funded_account(100)
    posted = service.create_task(
        buyer, title="Translate", description="Say hello in French", budget_sats=500, base_url=""
    )
    quote = service.create_quote(
        worker, posted.id, price_sats=price, description="", delivery_hours=1, base_url=""
    )
    service.accept(buyer, posted.id, quote.id, expected_price_sats=price, base_url="")
    return buyer, worker, posted.id


def deliver(worker: Account, task_id: str) -> None:
    service.deliver(worker, task_id, filename="r.txt", content=b"bonjour", notes="")


def test_an_undelivered_escrow_returns_to_the_buyer_at_the_deadline() -> None:
    buyer, worker, task_id = accepted_task()
    total = conserved_total()
    assert balance(buyer.id) == 1000 - 50 - 300
    assert finished(task_id)["status"] == "SUCCEEDED"
    assert task(task_id).status == TaskStatus.REFUNDED
    assert balance(buyer.id) == 1000 - 50
    assert balance(worker.id) == 100 - 10
    assert conserved_total() == total
    assert entered(task_id)[-3:] == ["DeliveryDeadline", "AfterDeadline", "Done"]
    with pytest.raises(InvalidState):  # too late to deliver
        deliver(worker, task_id)


def far_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """A deadline far beyond the test: only the delivery itself can wake the workflow."""
    monkeypatch.setenv("HIRE_DELIVERY_WAIT_SECONDS", "600")
    reset_caches()


def test_silence_after_a_delivery_releases_the_escrow_to_the_contractor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    far_deadline(monkeypatch)
    buyer, worker, task_id = accepted_task()
    wait_until(lambda: "AwaitDelivery" in entered(task_id) if task(task_id).execution_arn else None)
    total = conserved_total()
    deliver(worker, task_id)
    assert conserved_total() == total
    assert finished(task_id)["status"] == "SUCCEEDED"
    assert task(task_id).status == TaskStatus.COMPLETED
    assert balance(worker.id) == 100 - 10 + 300
    assert balance(buyer.id) == 1000 - 50 - 300
    assert conserved_total() == total
    # Woken by the delivery (the deadline is ten minutes away), then the window's wait.
    assert entered(task_id)[:3] == ["IsTimmyTheContractor", "AwaitDelivery", "DeliveryDeadline"]
    assert "WaitForConfirmWindow" in entered(task_id)
    with pytest.raises(InvalidState):  # the buyer's late confirm moves nothing again
        service.confirm(buyer, task_id)


def test_a_dispute_freezes_the_escrow_until_an_operator_splits_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    far_deadline(monkeypatch)
    buyer, worker, task_id = accepted_task()
    total = conserved_total()
    deliver(worker, task_id)
    service.dispute(buyer, task_id)
    assert finished(task_id)["status"] == "SUCCEEDED"
    assert task(task_id).status == TaskStatus.DISPUTED
    assert balance(worker.id) == 100 - 10  # frozen: nothing released
    assert conserved_total() == total
    with pytest.raises(InvalidState):
        service.confirm(buyer, task_id)
    split = service.split(task_id, contractor_sats=200)
    assert (split.contractor_sats, split.buyer_sats, split.status) == (200, 100, "completed")
    assert balance(worker.id) == 100 - 10 + 200
    assert balance(buyer.id) == 1000 - 50 - 300 + 100
    assert conserved_total() == total
    with pytest.raises(InvalidState):  # split once
        service.split(task_id, contractor_sats=0)


def test_a_delivery_before_the_workflow_parks_is_still_seen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    far_deadline(monkeypatch)
    _buyer, worker, task_id = accepted_task()
    deliver(worker, task_id)  # most likely before AwaitDelivery has stored its token
    assert finished(task_id)["status"] == "SUCCEEDED"
    assert task(task_id).status == TaskStatus.COMPLETED
    assert balance(worker.id) == 100 - 10 + 300


def test_the_buyer_confirming_first_ends_the_timers_without_a_second_move() -> None:
    buyer, worker, task_id = accepted_task()
    total = conserved_total()
    deliver(worker, task_id)
    service.confirm(buyer, task_id)
    assert finished(task_id)["status"] == "SUCCEEDED"
    assert balance(worker.id) == 100 - 10 + 300
    assert conserved_total() == total


def test_cancel_an_open_task_and_an_escrow_past_its_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    buyer, _ = funded_account(1000)
    worker, _ = funded_account(100)
    open_task = service.create_task(buyer, title="a", description="b", budget_sats=10, base_url="")
    quote = service.create_quote(
        worker, open_task.id, price_sats=10, description="", delivery_hours=None, base_url=""
    )
    assert service.cancel(buyer, open_task.id).status == TaskStatus.CANCELLED
    with transaction() as tx:
        assert data.get_quote(tx, quote.id).status == "rejected"  # type: ignore[union-attr]

    # No timers (a lost workflow): the buyer's own cancel after the deadline refunds.
    monkeypatch.setenv("HIRE_STATE_MACHINE_ARN", "")
    reset_caches()
    _, _, task_id = accepted_task()
    total = conserved_total()
    buyer_id = task(task_id).buyer_account_id
    buyer_account = Account(buyer_id, 0, None, task(task_id).created_at, task(task_id).created_at)
    with pytest.raises(InvalidState):  # before the deadline
        service.cancel(buyer_account, task_id)
    wait_until(lambda: _past_deadline(task_id), timeout=10)
    assert service.cancel(buyer_account, task_id).status == TaskStatus.REFUNDED
    assert balance(buyer_id) == 1000 - 50
    assert conserved_total() == total


def _past_deadline(task_id: str) -> bool:
    quote_id = task(task_id).accepted_quote_id
    with transaction() as tx:
        quote = data.get_quote(tx, quote_id or "")
    assert quote is not None
    assert quote.delivery_deadline is not None
    return quote.delivery_deadline <= datetime.now(UTC)


def test_timmy_quotes_a_new_task_does_the_work_and_is_paid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HIRE_TIMMY_CONTRACTOR", "true")
    monkeypatch.setenv("HIRE_DELIVERY_WAIT_SECONDS", "30")
    monkeypatch.setenv("HIRE_CONFIRM_WINDOW_SECONDS", "30")
    reset_caches()
    buyer, _ = funded_account(5000)
    posted = service.create_task(
        buyer,
        title="Haiku",
        description="Write a haiku about Lightning.",
        budget_sats=4000,
        base_url="",
    )

    def timmys_quote() -> data.Quote | None:
        with transaction() as tx:
            quotes = data.quotes_of(tx, posted.id)
        return next((q for q in quotes if contractor.is_timmy(q.contractor_account_id)), None)

    quote = wait_until(timmys_quote)
    assert 0 < quote.price_sats <= 4000
    total = conserved_total()
    service.accept(buyer, posted.id, quote.id, expected_price_sats=quote.price_sats, base_url="")
    wait_until(lambda: task(posted.id).status == TaskStatus.DELIVERED)
    with transaction() as tx:
        (delivery,) = data.deliveries_of(tx, posted.id)
    assert delivery.content
    assert delivery.contractor_account_id == contractor.TIMMY_ACCOUNT_ID
    confirmed = service.confirm(buyer, posted.id)
    assert confirmed.released_sats == quote.price_sats
    assert balance(contractor.TIMMY_ACCOUNT_ID) == quote.price_sats
    assert conserved_total() == total
    assert finished(posted.id)["status"] == "SUCCEEDED"
