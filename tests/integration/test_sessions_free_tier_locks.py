"""A session request's settlement and the free tier's reservation take their locks in one order.

The free tier's reservation statement locks the identity, then the pool. A settlement that
held the pool while waiting for an identity that a racing reservation holds while it waits
for the pool would deadlock (PostgreSQL breaks that by failing one of them). The session's
transactions lock the identity before anything touches the pool, so the reservation simply
waits its turn.

The race is staged deterministically: the AI call of the request waits until another
connection holds the identity's lock (as a reservation statement does when it starts), the
settlement then queues behind it, and only then does that connection ask for the pool.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import identities
import pytest
from paid_sessions import paid_session

from timmy import freetier
from timmy.ai import agent
from timmy.ai.base import AIResult
from timmy.data.identities import TrustTier
from timmy.db.connection import Db, db, open_connection, reset_connection, transaction
from timmy.runtime import reset_caches
from timmy.sessions import auth
from timmy.sessions.requests import run_request
from timmy.sessions.views import SessionRequestResult

WAIT_SECONDS = 30


def trusted_identity() -> str:
    return identities.make_identity(TrustTier.TRUSTED)


def waiting_for_a_lock(observer: Db, pid: int) -> bool:
    # From a connection of its own: inside a transaction the activity view is a snapshot.
    return bool(
        observer.scalar(
            "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :pid", pid=pid
        )
    )


def test_a_settlement_waits_for_the_identity_before_it_touches_the_pool(
    clean_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a trusted identity's session and a request estimated at 128 sats, wholly free
    monkeypatch.setenv("MODEL_PRICES_JSON", '{"stub": [0, 500]}')
    monkeypatch.setenv("PRICE_MARKUP_PCT", "0")
    reset_caches()
    freetier.seed_pool()
    pool_before = int(db().scalar("SELECT balance_sats FROM generosity_pool"))
    pubkey = trusted_identity()
    session_id = paid_session(1_000, pubkey)
    macaroon = auth.mint(session_id, int(datetime(2100, 1, 1, tzinfo=UTC).timestamp()))

    working = threading.Event()
    identity_locked = threading.Event()
    request_pid: list[int] = []
    real_work = agent.work

    def work_once_the_identity_is_locked(provider: Any, text: str, max_tokens: int) -> AIResult:
        request_pid.append(int(db().scalar("SELECT pg_backend_pid()")))
        working.set()
        assert identity_locked.wait(WAIT_SECONDS)
        return real_work(provider, text, max_tokens=max_tokens)

    monkeypatch.setattr(agent, "work", work_once_the_identity_is_locked)
    outcome: list[SessionRequestResult | BaseException] = []

    def request() -> None:
        try:
            outcome.append(run_request(session_id, f"Bearer {macaroon}", "Say hello."))
        except BaseException as error:  # noqa: BLE001 - asserted on the test's thread
            outcome.append(error)
        finally:
            reset_connection()

    worker = threading.Thread(target=request)
    worker.start()
    assert working.wait(WAIT_SECONDS)  # decided and held: the AI is "working"

    # When another transaction holds the identity (as a reservation statement does first)...
    observer = open_connection()
    try:
        with transaction() as tx:
            tx.scalar(
                "SELECT pubkey FROM nostr_identities WHERE pubkey = :pk FOR UPDATE", pk=pubkey
            )
            identity_locked.set()
            # ...the settlement queues behind it...
            for _ in range(WAIT_SECONDS * 100):
                if waiting_for_a_lock(Db(observer), request_pid[0]):
                    break
                threading.Event().wait(0.01)
            else:
                pytest.fail("the settlement never waited for the identity")
            # ...and then it asks for the pool: free, since the settlement has not touched it
            balance_now = tx.scalar("SELECT balance_sats FROM generosity_pool FOR UPDATE")
    finally:
        observer.close()
    worker.join(WAIT_SECONDS)

    # Then both went through: no deadlock, and the request settled to the sat
    assert not worker.is_alive()
    (result,) = outcome
    assert isinstance(result, SessionRequestResult), result
    assert int(balance_now) == pool_before - 128  # the free reservation, not yet settled
    assert result.charged_sats == 0
    assert result.absorbed_sats == result.cost_sats > 0
    assert int(db().scalar("SELECT balance_sats FROM generosity_pool")) == (
        pool_before - result.cost_sats
    )
