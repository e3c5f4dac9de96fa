"""Holds of session requests whose Lambda died are given back, once, by the scheduled reconciler's
session-holds pass."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal
from typing import Any

import identities
from paid_sessions import paid_session

from timmy import freetier
from timmy.data import sessions as data
from timmy.data.identities import TrustTier
from timmy.data.pool import Serve
from timmy.data.sessions import RequestState
from timmy.db.connection import db, transaction
from timmy.sessions.requests import release_abandoned_holds


def dead_request(session_id: str, *, hold: int, pool: int = 0, age_seconds: int) -> str:
    """A request that took its holds and whose Lambda never came back."""
    request_id = str(uuid.uuid4())
    with transaction() as tx:
        assert data.reserve(tx, session_id, amount_sats=hold, idle_seconds=86_400) is not None
        data.insert_request(
            tx,
            request_id=request_id,
            session_id=session_id,
            model="stub",
            btc_price_usd=Decimal(100_000),
            estimated_input_tokens=10,
            estimated_output_tokens=10,
            estimate_sats=hold + pool,
            reserved_sats=hold,
            free_tier=Serve.PARTIAL if pool else Serve.GATE,
            pool_reserved_sats=pool,
        )
        tx.execute(
            "UPDATE session_requests SET created_at = now() - CAST(:age AS integer)"
            " * interval '1 second' WHERE id = :id",
            age=age_seconds,
            id=request_id,
        )
    return request_id


def state(table: str, key: str, value: str, column: str) -> Any:
    return db().scalar(f"SELECT {column} FROM {table} WHERE {key} = :v", v=value)


def test_an_abandoned_hold_is_given_back_once(clean_db: None) -> None:
    # Given a session of 100 sats whose request died 20 minutes ago holding 30
    session_id = paid_session(100)
    request_id = dead_request(session_id, hold=30, age_seconds=1200)
    assert state("sessions", "id", session_id, "balance_sats") == 70
    # When the reconciler runs (twice)
    assert release_abandoned_holds() == 1
    assert release_abandoned_holds() == 0
    # Then the balance is whole again and the request is recorded as abandoned
    assert state("sessions", "id", session_id, "balance_sats") == 100
    assert state("session_requests", "id", request_id, "state") == RequestState.FAILED
    assert state("session_requests", "id", request_id, "error_code") == "abandoned"


def test_a_recent_hold_is_left_alone(clean_db: None) -> None:
    session_id = paid_session(100)
    request_id = dead_request(session_id, hold=30, age_seconds=5)
    assert release_abandoned_holds() == 0
    assert state("session_requests", "id", request_id, "state") == RequestState.RESERVED
    assert state("sessions", "id", session_id, "balance_sats") == 70


def test_the_pool_part_of_an_abandoned_hold_goes_back_to_the_pool(clean_db: None) -> None:
    freetier.seed_pool()
    pubkey = identities.make_identity(TrustTier.ESTABLISHED)
    session_id = paid_session(100, pubkey)
    assert freetier.reserve_partial_grant(20, pubkey) == 20
    dead_request(session_id, hold=10, pool=20, age_seconds=1200)
    assert release_abandoned_holds() == 1
    assert freetier.pool_status().balance_sats == 10_000
    assert state("nostr_identities", "pubkey", pubkey, "sats_absorbed_today") == 0


def test_racing_reconcilers_release_each_hold_once(clean_db: None) -> None:
    session_id = paid_session(100)
    for _ in range(5):
        dead_request(session_id, hold=10, age_seconds=1200)
    released: list[int] = []
    barrier = threading.Barrier(6)

    def reap() -> None:
        barrier.wait()
        released.append(release_abandoned_holds())

    threads = [threading.Thread(target=reap) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(released) == 5
    assert state("sessions", "id", session_id, "balance_sats") == 100


def test_the_scheduled_reconciler_reports_what_it_released(clean_db: None, stack: Any) -> None:
    session_id = paid_session(50)
    dead_request(session_id, hold=5, age_seconds=1200)
    report = stack.functions.invoke("ReconcilerFunction", {})
    assert report["ended"]["session_holds"] == 1
    assert sum(report["errors"].values()) == 0
    assert state("sessions", "id", session_id, "balance_sats") == 50
