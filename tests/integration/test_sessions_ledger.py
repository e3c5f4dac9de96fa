"""The session ledger in PostgreSQL: the database itself forbids an overspend, and each
reservation, settlement and payment moves the balance exactly once."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from paid_sessions import paid_session
from pg8000.exceptions import DatabaseError

from timmy import payments
from timmy.data import sessions as data
from timmy.data.pool import Serve
from timmy.db.connection import db, reset_connection, transaction
from timmy.lightning.backends import backend
from timmy.payments import Confirmation, confirm_payment
from timmy.sessions.service import PURPOSE_DEPOSIT, PURPOSE_TOPUP

IDLE = 86_400


def race(work: Callable[[], Any], threads: int) -> list[Any]:
    """Run ``work`` on ``threads`` threads (each with its own connection) released at once."""
    barrier = threading.Barrier(threads)
    results: list[Any] = []
    errors: list[Exception] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            barrier.wait()
            result = work()
            with lock:
                results.append(result)
        except Exception as error:  # noqa: BLE001 - reported on the test's thread
            with lock:
                errors.append(error)
        finally:
            reset_connection()

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=60)
    assert not errors, errors
    assert len(results) == threads
    return results


def balance(session_id: str) -> int:
    with transaction() as tx:
        return data.balance(tx, session_id)


def test_the_database_refuses_a_negative_balance(clean_db: None) -> None:
    session_id = paid_session(100)
    with pytest.raises(DatabaseError, match="balance_sats_check"), transaction() as tx:
        tx.execute(
            "UPDATE sessions SET balance_sats = balance_sats - 101 WHERE id = :id", id=session_id
        )
    assert balance(session_id) == 100


def test_a_charge_above_the_reservation_is_refused_by_the_database(clean_db: None) -> None:
    session_id = paid_session(100)
    request_id = str(uuid.uuid4())
    with transaction() as tx:
        assert data.reserve(tx, session_id, amount_sats=10, idle_seconds=IDLE) == 90
        data.insert_request(
            tx,
            request_id=request_id,
            session_id=session_id,
            model="stub",
            btc_price_usd=Decimal(100_000),
            estimated_input_tokens=1,
            estimated_output_tokens=1,
            estimate_sats=10,
            reserved_sats=10,
        )
    with pytest.raises(DatabaseError), transaction() as tx:
        data.complete_request(
            tx,
            request_id,
            input_tokens=1,
            output_tokens=1,
            cost_sats=11,
            charged_sats=11,
            absorbed_sats=0,
        )


def reserved_request(session_id: str, *, held: int, pool_reserved: int) -> str:
    request_id = str(uuid.uuid4())
    with transaction() as tx:
        assert data.reserve(tx, session_id, amount_sats=held, idle_seconds=IDLE) is not None
        data.insert_request(
            tx,
            request_id=request_id,
            session_id=session_id,
            model="stub",
            btc_price_usd=Decimal(100_000),
            estimated_input_tokens=1,
            estimated_output_tokens=1,
            estimate_sats=held + pool_reserved,
            reserved_sats=held,
            free_tier=(
                Serve.PARTIAL
                if held and pool_reserved
                else Serve.FREE
                if pool_reserved
                else Serve.GATE
            ),
            pool_reserved_sats=pool_reserved,
        )
    return request_id


@pytest.mark.parametrize(
    ("cost", "charged", "absorbed"),
    [
        (20, 10, 11),  # the free tier absorbing more than it reserved
        (20, 9, 10),  # a cost that is not exactly charged + absorbed
        (20, 11, 10),
    ],
)
def test_the_database_refuses_a_split_that_does_not_add_up(
    clean_db: None, cost: int, charged: int, absorbed: int
) -> None:
    # Given a request holding 10 sats of the balance and 10 of the pool
    session_id = paid_session(100)
    request_id = reserved_request(session_id, held=10, pool_reserved=10)
    # When it is settled with an inconsistent split, Then the database refuses it
    with pytest.raises(DatabaseError, match="session_requests"), transaction() as tx:
        data.complete_request(
            tx,
            request_id,
            input_tokens=1,
            output_tokens=1,
            cost_sats=cost,
            charged_sats=charged,
            absorbed_sats=absorbed,
        )
    # And a consistent one is accepted
    with transaction() as tx:
        assert data.complete_request(
            tx,
            request_id,
            input_tokens=1,
            output_tokens=1,
            cost_sats=20,
            charged_sats=10,
            absorbed_sats=10,
        )


def test_a_failed_request_absorbs_nothing_and_a_gate_reserves_nothing_from_the_pool(
    clean_db: None,
) -> None:
    session_id = paid_session(100)
    request_id = reserved_request(session_id, held=10, pool_reserved=10)
    with pytest.raises(DatabaseError, match="only_complete_requests_absorb"), transaction() as tx:
        tx.execute(
            "UPDATE session_requests SET state = 'failed', error_code = 'x', finished_at = now(),"
            " absorbed_sats = 1 WHERE id = :id",
            id=request_id,
        )
    with pytest.raises(DatabaseError, match="free_tier_matches"), transaction() as tx:
        tx.execute("UPDATE session_requests SET free_tier = 'gate' WHERE id = :id", id=request_id)


def test_a_reservation_is_refused_when_the_balance_does_not_cover_it(clean_db: None) -> None:
    session_id = paid_session(100)
    with transaction() as tx:
        assert data.reserve(tx, session_id, amount_sats=101, idle_seconds=IDLE) is None
        assert data.reserve(tx, session_id, amount_sats=100, idle_seconds=IDLE) == 0
        assert data.reserve(tx, session_id, amount_sats=1, idle_seconds=IDLE) is None
    assert balance(session_id) == 0


def test_an_unpaid_session_cannot_reserve(clean_db: None) -> None:
    session_id = str(uuid.uuid4())
    created = payments.request_invoice(100, "ledger test")
    with transaction() as tx:
        payments.record_invoice(tx, created, purpose=PURPOSE_DEPOSIT, owner_id=session_id)
        data.insert(
            tx,
            session_id=session_id,
            deposit_sats=100,
            deposit_payment_hash=created.payment_hash,
            nostr_pubkey=None,
        )
        assert data.reserve(tx, session_id, amount_sats=0, idle_seconds=IDLE) is None


def test_concurrent_reservations_never_overdraw(clean_db: None) -> None:
    # Given 500 sats and 24 threads each reserving 30 (enough for 16 of them)
    session_id = paid_session(500)

    def reserve() -> bool:
        with transaction() as tx:
            return data.reserve(tx, session_id, amount_sats=30, idle_seconds=IDLE) is not None

    taken = race(reserve, 24)

    # Then exactly 16 succeed and 20 sats remain
    assert taken.count(True) == 16
    assert balance(session_id) == 500 - 16 * 30


def test_racing_confirmations_of_a_deposit_credit_it_once(clean_db: None) -> None:
    # Given an unpaid deposit settled at the node
    session_id = str(uuid.uuid4())
    created = payments.request_invoice(500, "ledger test")
    with transaction() as tx:
        payments.record_invoice(tx, created, purpose=PURPOSE_DEPOSIT, owner_id=session_id)
        data.insert(
            tx,
            session_id=session_id,
            deposit_sats=500,
            deposit_payment_hash=created.payment_hash,
            nostr_pubkey=None,
        )
    backend().mark_paid(created.payment_hash)  # type: ignore[attr-defined]

    # When sixteen confirmations race
    outcomes = race(lambda: confirm_payment(created.payment_hash).outcome, 16)

    # Then exactly one flipped it, and the deposit is credited once
    assert sorted(outcomes).count(Confirmation.PAID_NOW) == 1
    assert set(outcomes) == {Confirmation.PAID_NOW, Confirmation.ALREADY_PAID}
    assert balance(session_id) == 500


def test_a_late_top_up_on_an_expired_session_is_credited_but_does_not_revive_it(
    clean_db: None,
) -> None:
    session_id = paid_session(100)
    created = payments.request_invoice(200, "ledger test")
    with transaction() as tx:
        payments.record_invoice(tx, created, purpose=PURPOSE_TOPUP, owner_id=session_id)
        data.set_pending_topup(tx, session_id, created.payment_hash)
    db().execute(
        "UPDATE sessions SET last_activity_at = now() - interval '2 days' WHERE id = :id",
        id=session_id,
    )
    backend().mark_paid(created.payment_hash)  # type: ignore[attr-defined]
    assert confirm_payment(created.payment_hash).paid
    with transaction() as tx:
        row = data.get(tx, session_id, idle_seconds=IDLE)
    assert row is not None
    assert row.balance_sats == 300
    assert row.pending_topup_hash is None
    assert row.expired is True
