"""AI-for-Hire escrow as a ledger on real PostgreSQL: money is conserved across every
transition, the ledgers are append-only, an escrow cannot go negative, and replayed accepts
and confirms (20 at once, each on its own connection) move money exactly once."""

from __future__ import annotations

import pytest
from concurrency import outcomes
from hire_ledger import balance, conserved_total, funded_account
from pg8000.exceptions import DatabaseError

from timmy.data import hire as data
from timmy.db.connection import db, transaction
from timmy.hire import service
from timmy.hire.errors import HireInsufficientBalance, InvalidState, PriceChanged

pytestmark = pytest.mark.usefixtures("clean_db")


def test_every_transition_conserves_money() -> None:
    buyer, _ = funded_account(1000)
    worker, _ = funded_account(100)
    other, _ = funded_account(100)
    total = conserved_total()
    steps = []
    task = service.create_task(buyer, title="t", description="d", budget_sats=500, base_url="")
    steps.append(conserved_total())
    q1 = service.create_quote(
        worker, task.id, price_sats=300, description="", delivery_hours=None, base_url=""
    )
    q2 = service.create_quote(
        other, task.id, price_sats=200, description="", delivery_hours=None, base_url=""
    )
    steps.append(conserved_total())
    service.update_quote(
        worker, task.id, q1.id, price_sats=250, description=None, delivery_hours=None
    )
    with pytest.raises(PriceChanged):
        service.accept(buyer, task.id, q1.id, expected_price_sats=300, base_url="")
    steps.append(conserved_total())
    service.accept(buyer, task.id, q1.id, expected_price_sats=250, base_url="")
    steps.append(conserved_total())
    with transaction() as tx:
        assert data.get_quote(tx, q2.id).status == "rejected"  # type: ignore[union-attr]
        assert data.escrow_of(tx, task.id).balance_sats == 250  # type: ignore[union-attr]
    service.deliver(worker, task.id, filename="f", content=b"x", notes="")
    steps.append(conserved_total())
    released = service.confirm(buyer, task.id)
    steps.append(conserved_total())
    assert released.released_sats == 250
    assert steps == [total] * len(steps)
    assert (balance(buyer.id), balance(worker.id), balance(other.id)) == (700, 340, 90)
    with transaction() as tx:
        assert data.escrow_of(tx, task.id).balance_sats == 0  # type: ignore[union-attr]


def test_a_buyer_short_of_the_price_changes_nothing() -> None:
    buyer, _ = funded_account(60)
    worker, _ = funded_account(10)
    task = service.create_task(
        buyer, title="t", description="d", budget_sats=50, base_url="https://x"
    )
    quote = service.create_quote(
        worker, task.id, price_sats=20, description="", delivery_hours=None, base_url=""
    )
    with pytest.raises(HireInsufficientBalance) as refused:
        service.accept(buyer, task.id, quote.id, expected_price_sats=None, base_url="https://x")
    assert refused.value.body_fields == {"topup_url": "https://x/api/v1/topup"}
    with transaction() as tx:
        assert data.get_task(tx, task.id).status == "open"  # type: ignore[union-attr]
        assert data.get_quote(tx, quote.id).status == "pending"  # type: ignore[union-attr]
        assert data.escrow_of(tx, task.id) is None
    assert balance(buyer.id) == 10
    with pytest.raises(HireInsufficientBalance):  # the worker has no 10 sats left to quote
        service.create_quote(
            worker, task.id, price_sats=5, description="", delivery_hours=None, base_url=""
        )


def test_the_escrow_ledger_is_append_only_and_an_escrow_never_negative() -> None:
    buyer, _ = funded_account(500)
    worker, _ = funded_account(10)
    task = service.create_task(buyer, title="t", description="d", budget_sats=50, base_url="")
    quote = service.create_quote(
        worker, task.id, price_sats=40, description="", delivery_hours=None, base_url=""
    )
    service.accept(buyer, task.id, quote.id, expected_price_sats=None, base_url="")
    with pytest.raises(DatabaseError, match="append-only"):
        db().execute("UPDATE hire_escrow_ledger SET amount_sats = 1")
    with pytest.raises(DatabaseError, match="append-only"):
        db().execute("DELETE FROM hire_escrow_ledger")
    with pytest.raises(DatabaseError, match="check"):
        db().execute("UPDATE hire_escrows SET balance_sats = -1")
    with transaction() as tx, pytest.raises(LookupError):
        data.pay_out_of_escrow(
            tx, quote.id, account_id=worker.id, amount_sats=41, reason=data.EscrowReason.RELEASE
        )


def test_twenty_replayed_accepts_and_confirms_move_money_once() -> None:
    buyer, _ = funded_account(1000)
    worker, _ = funded_account(10)
    task = service.create_task(buyer, title="t", description="d", budget_sats=500, base_url="")
    quote = service.create_quote(
        worker, task.id, price_sats=300, description="", delivery_hours=None, base_url=""
    )
    total = conserved_total()
    accepts = outcomes(
        [lambda: service.accept(buyer, task.id, quote.id, expected_price_sats=None, base_url="")]
        * 20
    )
    assert sum(not isinstance(r, BaseException) for r in accepts) == 1
    assert all(isinstance(r, InvalidState) for r in accepts if isinstance(r, BaseException))
    assert balance(buyer.id) == 1000 - 50 - 300
    service.deliver(worker, task.id, filename="f", content=b"x", notes="")
    confirms = outcomes([lambda: service.confirm(buyer, task.id)] * 20)
    assert sum(not isinstance(r, BaseException) for r in confirms) == 1
    assert all(isinstance(r, InvalidState) for r in confirms if isinstance(r, BaseException))
    assert balance(worker.id) == 300
    assert conserved_total() == total


def test_a_deadline_racing_the_buyers_cancel_refunds_once() -> None:
    buyer, _ = funded_account(1000)
    worker, _ = funded_account(10)
    task = service.create_task(buyer, title="t", description="d", budget_sats=500, base_url="")
    quote = service.create_quote(
        worker, task.id, price_sats=300, description="", delivery_hours=None, base_url=""
    )
    service.accept(buyer, task.id, quote.id, expected_price_sats=None, base_url="")
    db().execute(
        "UPDATE hire_quotes SET delivery_deadline = now() - interval '1 second' WHERE id = :q",
        q=quote.id,
    )
    total = conserved_total()
    results = outcomes(
        [lambda: service.cancel(buyer, task.id)] * 10
        + [lambda: service.deadline_reached(task.id)] * 10
    )
    assert not [
        r for r in results if isinstance(r, BaseException) and not isinstance(r, InvalidState)
    ]
    assert balance(buyer.id) == 1000 - 50
    assert conserved_total() == total
    with transaction() as tx:
        ledger = tx.all("SELECT reason FROM hire_escrow_ledger WHERE quote_id = :q", q=quote.id)
    assert sorted(r["reason"] for r in ledger) == ["hold", "refund"]


def test_the_reconciler_ends_escrows_whose_timer_never_fired(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from timmy.reconcile.runner import run
    from timmy.runtime import reset_caches

    monkeypatch.setenv("HIRE_STATE_MACHINE_ARN", "")  # no workflow at all
    reset_caches()
    buyer, _ = funded_account(1000)
    worker, _ = funded_account(20)
    tasks = []
    for _ in range(2):
        task = service.create_task(buyer, title="t", description="d", budget_sats=500, base_url="")
        quote = service.create_quote(
            worker, task.id, price_sats=100, description="", delivery_hours=None, base_url=""
        )
        service.accept(buyer, task.id, quote.id, expected_price_sats=None, base_url="")
        tasks.append(task.id)
    undelivered, delivered = tasks
    service.deliver(worker, delivered, filename="f", content=b"x", notes="")
    total = conserved_total()
    assert run().ended["hire"] == 0  # nothing overdue yet
    db().execute("UPDATE hire_quotes SET delivery_deadline = now() - interval '1 hour'")
    db().execute("UPDATE hire_tasks SET confirm_deadline = now() - interval '1 hour'")
    assert run().ended["hire"] == 2
    with transaction() as tx:
        assert data.get_task(tx, undelivered).status == "refunded"  # type: ignore[union-attr]
        assert data.get_task(tx, delivered).status == "completed"  # type: ignore[union-attr]
    assert balance(worker.id) == 20 - 20 + 100
    assert balance(buyer.id) == 1000 - 100 - 200 + 100
    assert conserved_total() == total
    assert run().ended["hire"] == 0
