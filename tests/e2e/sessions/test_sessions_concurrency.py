"""Races on one session: concurrent requests never overspend, racing confirmations credit once."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from timmy.data.identities import TrustTier
from timmy.data.sessions import RequestState
from timmy.db.connection import db, reset_connection
from timmy.lightning.backends import backend
from timmy.lightning.dev_payer import pay_own_invoice
from timmy.lightning.webhook import parse_webhook_body
from timmy.payments import confirm_payment

if TYPE_CHECKING:
    from conftest import FreeTier, Sessions


def race(workers: list[Callable[[], Any]]) -> list[Any]:
    """Run every worker on its own thread, all released at once by a barrier."""
    barrier = threading.Barrier(len(workers))
    results: list[Any] = [None] * len(workers)
    errors: list[Exception] = []

    def run(index: int, work: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[index] = work()
        except Exception as error:  # noqa: BLE001 - reported below, on the test's thread
            errors.append(error)
        finally:
            reset_connection()  # a direct confirmation opened one for this thread

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results


@contextmanager
def connected_clients(base_url: str, count: int) -> Iterator[list[httpx.Client]]:
    """Clients whose keep-alive connection is already open, one by one.

    The local gateway (like any small server) has a short accept backlog; connecting twenty
    clients at the same instant would test that backlog, not the session. Opening each
    connection first makes the race happen where it matters: in the handlers and the database.
    """
    clients = [httpx.Client(base_url=base_url, timeout=60) for _ in range(count)]
    try:
        for client in clients:
            assert client.get("/api/healthz").status_code == 200
        yield clients
    finally:
        for client in clients:
            client.close()


def test_twenty_concurrent_requests_on_a_balance_for_five_serve_exactly_five(
    sessions: Sessions, flat_price: int
) -> None:
    # Given a session whose balance covers exactly five requests
    session_id, macaroon = sessions.open_paid(5 * flat_price)

    def one_request(client: httpx.Client) -> Callable[[], tuple[int, dict[str, Any]]]:
        def work() -> tuple[int, dict[str, Any]]:
            response = client.post(
                f"/api/sessions/{session_id}/request",
                json={"request": "Count to three."},
                headers={"Authorization": f"Bearer {macaroon}"},
            )
            return response.status_code, response.json()

        return work

    # When twenty requests arrive at once
    with connected_clients(str(sessions.api.base_url), 20) as clients:
        outcomes = race([one_request(client) for client in clients])

    # Then exactly five are served, the other fifteen refused for the balance, none overspent
    statuses = Counter(status for status, _ in outcomes)
    assert statuses == {200: 5, 402: 15}
    refusals = {body["error"]["code"] for status, body in outcomes if status == 402}
    assert refusals == {"insufficient_balance"}
    charged = sorted(body["charged_sats"] for status, body in outcomes if status == 200)
    assert charged == [flat_price] * 5
    # Each reports the balance as it settled (other requests may still hold their share).
    reported = [body["balance_sats"] for status, body in outcomes if status == 200]
    assert all(0 <= balance <= 4 * flat_price for balance in reported)
    assert sessions.balance(session_id) == 0
    rows = sessions.request_rows(session_id)
    assert [row["state"] for row in rows] == ["complete"] * 5
    assert sum(row["charged_sats"] for row in rows) == 5 * flat_price


def test_concurrent_requests_with_real_usage_settle_to_the_sum_of_their_charges(
    sessions: Sessions,
) -> None:
    # Given a generous balance and default pricing (each request is charged its real usage)
    session_id, macaroon = sessions.open_paid(10_000)

    def one_request(index: int, client: httpx.Client) -> Callable[[], dict[str, Any]]:
        def work() -> dict[str, Any]:
            response = client.post(
                f"/api/sessions/{session_id}/request",
                json={"request": f"Request number {index}: " + "words " * index},
                headers={"Authorization": f"Bearer {macaroon}"},
            )
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        return work

    # When twelve run at once
    with connected_clients(str(sessions.api.base_url), 12) as clients:
        results = race([one_request(i, client) for i, client in enumerate(clients)])

    # Then the balance is the deposit minus exactly what they report
    assert sessions.balance(session_id) == 10_000 - sum(r["charged_sats"] for r in results)
    rows = sessions.request_rows(session_id)
    assert len(rows) == 12
    assert all(row["state"] == RequestState.COMPLETE for row in rows)
    assert all(row["charged_sats"] <= row["reserved_sats"] for row in rows)


def test_racing_confirmations_of_a_top_up_credit_it_once(sessions: Sessions) -> None:
    # Given a top-up the node has settled, not yet confirmed by the API
    session_id, _ = sessions.open_paid(1_000)
    invoice = sessions.topup(session_id, 700).json()["invoice"]
    payment_hash = invoice["payment_hash"]
    assert backend().mark_paid(payment_hash)  # type: ignore[attr-defined]
    webhook_body = json.dumps(json.dumps({"payment_hash": payment_hash, "amount": 700_000}))

    def poll(client: httpx.Client) -> Callable[[], bool]:
        def work() -> bool:
            response = client.get(f"/api/sessions/{session_id}")
            assert response.status_code == 200, response.text
            return response.json()["pending_topup"] is None

        return work

    def webhook() -> bool:
        # What the webhook handler does with the body LNbits posts.
        hinted = parse_webhook_body(webhook_body)
        assert hinted == payment_hash
        return confirm_payment(hinted).paid

    def stub_payer() -> bool:
        return pay_own_invoice(payment_hash).paid

    # When polling clients (over HTTP), webhooks and the stub payer all confirm it at once.
    # (Only identical requests go through the gateway concurrently: the local stack runs
    # handlers on threads of one process, where Powertools keeps the current event on a
    # class attribute shared by every resolver. Lambda serves one request per container.)
    with connected_clients(str(sessions.api.base_url), 4) as clients:
        workers = [poll(client) for client in clients] + [webhook] * 4 + [stub_payer] * 4
        outcomes = race(workers)

    # Then every one of them saw it paid, and the balance was credited exactly once
    assert outcomes == [True] * 12
    assert sessions.balance(session_id) == 1_700
    session = sessions.get(session_id)
    assert session["balance_sats"] == 1_700
    assert session["pending_topup"] is None
    state = db().scalar("SELECT state FROM invoices WHERE payment_hash = :h", h=payment_hash)
    assert state == "paid"


def test_racing_top_up_requests_issue_one_invoice(sessions: Sessions) -> None:
    # Given a paid session with no top-up
    session_id, _ = sessions.open_paid(1_000)

    def topup(client: httpx.Client) -> Callable[[], tuple[int, dict[str, Any]]]:
        def work() -> tuple[int, dict[str, Any]]:
            response = client.post(f"/api/sessions/{session_id}/topup", json={"amount_sats": 500})
            return response.status_code, response.json()

        return work

    # When six top-ups are asked for at once
    with connected_clients(str(sessions.api.base_url), 6) as clients:
        outcomes = race([topup(client) for client in clients])

    # Then one invoice is issued and every other caller is shown that same invoice
    created = [body for status, body in outcomes if status == 201]
    conflicts = [body for status, body in outcomes if status == 409]
    assert len(created) == 1
    assert len(conflicts) == 5
    issued = created[0]["invoice"]["payment_hash"]
    assert {body["error"]["code"] for body in conflicts} == {"topup_pending"}
    assert {body["invoice"]["payment_hash"] for body in conflicts} == {issued}
    recorded = db().all(
        "SELECT payment_hash FROM invoices WHERE owner_id = :id AND purpose = 'session_topup'",
        id=session_id,
    )
    assert [row["payment_hash"] for row in recorded] == [issued]


def run_identical_requests(
    sessions: Sessions, session_id: str, macaroon: str, count: int
) -> list[tuple[int, dict[str, Any]]]:
    """``count`` identical requests on one session, released at once over HTTP."""

    def one_request(client: httpx.Client) -> Callable[[], tuple[int, dict[str, Any]]]:
        def work() -> tuple[int, dict[str, Any]]:
            response = client.post(
                f"/api/sessions/{session_id}/request",
                json={"request": "Count to three."},
                headers={"Authorization": f"Bearer {macaroon}"},
            )
            return response.status_code, response.json()

        return work

    with connected_clients(str(sessions.api.base_url), count) as clients:
        return race([one_request(client) for client in clients])


def assert_every_sat_accounted_for(
    free_tier: FreeTier,
    sessions: Sessions,
    session_id: str,
    pubkey: str,
    served: list[dict[str, Any]],
    *,
    deposit: int,
    pool_before: int,
    price: int,
) -> None:
    absorbed = sum(body["absorbed_sats"] for body in served)
    charged = sum(body["charged_sats"] for body in served)
    # Each request cost exactly its price, split between the pool and the balance
    assert all(body["cost_sats"] == price for body in served)
    assert all(body["absorbed_sats"] + body["charged_sats"] == price for body in served)
    # The balance lost exactly what was charged, the pool exactly what was absorbed, less the
    # 10 % (rounded down per request) of every charge it was credited
    assert sessions.balance(session_id) == deposit - charged >= 0
    credits = sum(body["charged_sats"] * 10 // 100 for body in served)
    assert free_tier.pool() == pool_before - absorbed + credits >= 0
    # The day's counter, the audit log and the session's rows all say the same
    assert free_tier.absorbed_today(pubkey) == absorbed
    assert sum(g["sats_absorbed"] for g in free_tier.grants()) == absorbed
    rows = free_tier.request_rows(session_id)
    assert [row["state"] for row in rows] == ["complete"] * len(served)
    assert sum(row["absorbed_sats"] for row in rows) == absorbed
    assert sum(row["charged_sats"] for row in rows) == charged
    assert sessions.get(session_id)["absorbed_sats"] == absorbed


@pytest.fixture
def price_30(monkeypatch: pytest.MonkeyPatch) -> int:
    """Every request is estimated at, and costs, exactly 30 sats (the minimum; a free model)."""
    from timmy.runtime import reset_caches

    monkeypatch.setenv("MODEL_PRICES_JSON", json.dumps({"stub": [0, 0]}))
    monkeypatch.setenv("PRICE_MARKUP_PCT", "0")
    monkeypatch.setenv("SESSION_MIN_REQUEST_SATS", "30")
    reset_caches()
    return 30


def test_one_trusted_identity_racing_itself_stays_within_its_daily_budget(
    sessions: Sessions, free_tier: FreeTier, price_30: int
) -> None:
    # Given a trusted identity (200 sats a day), a well-funded session and 30-sat requests
    pubkey, token = free_tier.identity(TrustTier.TRUSTED)
    session_id, macaroon = sessions.open_paid(10_000, nostr_token=token)

    # When 24 requests (720 sats of work) arrive at once
    outcomes = run_identical_requests(sessions, session_id, macaroon, 24)

    # Then all are served and the free tier paid exactly the day's budget: six wholly free,
    # the last 20 sats as partial grants, everything else paid from the balance
    assert [status for status, _ in outcomes] == [200] * 24
    served = [body for _, body in outcomes]
    assert sum(body["absorbed_sats"] for body in served) == 200
    assert sum(1 for body in served if body["absorbed_sats"] == price_30) == 6
    assert_every_sat_accounted_for(
        free_tier,
        sessions,
        session_id,
        pubkey,
        served,
        deposit=10_000,
        pool_before=10_000,
        price=price_30,
    )


def test_racing_requests_never_overdraw_a_small_pool_or_a_small_balance(
    sessions: Sessions, free_tier: FreeTier, price_30: int
) -> None:
    # Given a pool of 100 sats, below the identity's 200 a day, and a balance of 100
    free_tier.set_pool(100)
    pubkey, token = free_tier.identity(TrustTier.TRUSTED)
    session_id, macaroon = sessions.open_paid(100, nostr_token=token)

    # When 24 requests arrive at once
    outcomes = run_identical_requests(sessions, session_id, macaroon, 24)

    # Then some are served, the rest refused for the balance; nothing went below zero and
    # every sat is accounted for
    statuses = Counter(status for status, _ in outcomes)
    assert set(statuses) <= {200, 402}
    assert statuses[402] > 0
    refusals = {body["error"]["code"] for status, body in outcomes if status == 402}
    assert refusals <= {"insufficient_balance"}
    served = [body for status, body in outcomes if status == 200]
    # The pool can pay at most what it held plus what paid requests credited it
    assert sum(body["absorbed_sats"] for body in served) <= 100 + sum(
        body["charged_sats"] * 10 // 100 for body in served
    )
    assert_every_sat_accounted_for(
        free_tier,
        sessions,
        session_id,
        pubkey,
        served,
        deposit=100,
        pool_before=100,
        price=price_30,
    )
