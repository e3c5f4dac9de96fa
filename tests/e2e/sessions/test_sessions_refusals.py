"""Every bad input or impossible state gets its own 4xx code and changes nothing."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import pytest

from timmy.data.sessions import RequestState, SessionState
from timmy.db.connection import db
from timmy.sessions import auth

if TYPE_CHECKING:
    from conftest import Sessions


def error_code(response: Any) -> str:
    return str(response.json()["error"]["code"])


def snapshot(sessions: Sessions) -> tuple[int, int, int]:
    return (
        sessions.count("sessions"),
        sessions.count("invoices"),
        sessions.count("session_requests"),
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"amount_sats": 99}, "amount_out_of_range"),
        ({"amount_sats": 100_001}, "amount_out_of_range"),
        ({"amount_sats": 0}, "amount_out_of_range"),
        ({"amount_sats": -5}, "amount_out_of_range"),
        ({"amount_sats": "500"}, "invalid_request"),
        ({"amount_sats": 500.5}, "invalid_request"),
        ({"amount_sats": 500.0}, "invalid_request"),
        ({"amount_sats": True}, "invalid_request"),
        ({"amount_sats": None}, "invalid_request"),
        ({}, "invalid_request"),
    ],
)
def test_a_deposit_out_of_bounds_or_not_an_integer_is_refused(
    sessions: Sessions, body: dict[str, Any], code: str
) -> None:
    response = sessions.api.post("/api/sessions", json=body)
    assert response.status_code == 400
    assert error_code(response) == code
    assert snapshot(sessions) == (0, 0, 0)


def test_deposit_bounds_come_from_configuration(
    sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    from timmy.runtime import reset_caches

    monkeypatch.setenv("SESSION_MIN_DEPOSIT_SATS", "1000")
    monkeypatch.setenv("SESSION_MAX_DEPOSIT_SATS", "2000")
    reset_caches()
    assert sessions.create(999).status_code == 400
    assert sessions.create(2001).status_code == 400
    assert sessions.create(1000).status_code == 201
    assert sessions.create(2000).status_code == 201


@pytest.mark.parametrize("body", [b"{amount_sats: 500", b"[500]", b"500", b""])
def test_a_body_that_is_not_a_json_object_is_refused(sessions: Sessions, body: bytes) -> None:
    response = sessions.api.post(
        "/api/sessions", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert snapshot(sessions) == (0, 0, 0)


@pytest.mark.parametrize(
    "session_id",
    [str(uuid.uuid4()), "not-a-uuid", "12345", "0" * 36, str(uuid.uuid4()) + "0"],
)
def test_an_unknown_or_malformed_session_id_is_not_found_everywhere(
    sessions: Sessions, session_id: str
) -> None:
    known, macaroon = sessions.open_paid(1_000)
    before = snapshot(sessions)
    responses = [
        sessions.api.get(f"/api/sessions/{session_id}"),
        sessions.request(session_id, macaroon),
        sessions.topup(session_id, 500),
    ]
    for response in responses:
        assert response.status_code == 404, response.text
        assert error_code(response) == "session_not_found"
    assert snapshot(sessions) == before
    assert sessions.balance(known) == 1_000


def test_session_ids_are_accepted_in_upper_case(sessions: Sessions) -> None:
    session_id, _ = sessions.open_paid(1_000)
    assert sessions.get(session_id.upper())["session_id"] == session_id


def test_a_request_on_an_unpaid_session_needs_payment(sessions: Sessions) -> None:
    # Given an unpaid session and a genuine macaroon for it (minted as the server would)
    created = sessions.open(1_000)
    session_id = created["session_id"]
    macaroon = auth.mint(session_id, 4_102_444_800)

    # When a request is made, Then 402 session_not_paid and nothing is held or recorded
    response = sessions.request(session_id, macaroon)
    assert response.status_code == 402
    assert error_code(response) == "session_not_paid"
    assert sessions.balance(session_id) == 0
    assert sessions.request_rows(session_id) == []


def test_a_top_up_before_the_deposit_is_paid_conflicts(sessions: Sessions) -> None:
    created = sessions.open(1_000)
    response = sessions.topup(created["session_id"], 500)
    assert response.status_code == 409
    assert error_code(response) == "deposit_pending"
    assert sessions.count("invoices") == 1


@pytest.mark.parametrize("amount", [99, 100_001, "500", 1.5, None])
def test_a_top_up_out_of_bounds_or_not_an_integer_is_refused(
    sessions: Sessions, amount: Any
) -> None:
    session_id, _ = sessions.open_paid(1_000)
    response = sessions.topup(session_id, amount)
    assert response.status_code == 400
    assert sessions.count("invoices") == 1
    assert sessions.get(session_id)["pending_topup"] is None


def test_one_top_up_at_a_time_returns_the_pending_invoice(sessions: Sessions) -> None:
    # Given a pending top-up
    session_id, _ = sessions.open_paid(1_000)
    first = sessions.topup(session_id, 500)
    assert first.status_code == 201
    pending = first.json()["invoice"]

    # When another is asked for
    second = sessions.topup(session_id, 800)

    # Then 409 topup_pending carries the existing invoice, and no new one was issued
    assert second.status_code == 409
    body = second.json()
    assert body["error"]["code"] == "topup_pending"
    assert body["error"]["message"]
    assert body["invoice"] == pending
    assert sessions.count("invoices") == 2

    # And once it is paid, a new top-up may be issued
    sessions.pay(pending["payment_hash"])
    third = sessions.topup(session_id, 800)
    assert third.status_code == 201
    assert third.json()["invoice"]["amount_sats"] == 800
    assert sessions.balance(session_id) == 1_500


def test_a_top_up_whose_invoice_expired_unpaid_can_be_replaced(sessions: Sessions) -> None:
    session_id, _ = sessions.open_paid(1_000)
    stale = sessions.topup(session_id, 500).json()["invoice"]
    db().execute(
        "UPDATE invoices SET expires_at = now() - interval '1 second' WHERE payment_hash = :h",
        h=stale["payment_hash"],
    )
    assert sessions.get(session_id)["pending_topup"] is None
    fresh = sessions.topup(session_id, 600)
    assert fresh.status_code == 201
    assert fresh.json()["invoice"]["payment_hash"] != stale["payment_hash"]


def expire_lifetime(session_id: str) -> None:
    db().execute(
        "UPDATE sessions SET lifetime_ends_at = now() - interval '1 second' WHERE id = :id",
        id=session_id,
    )


def expire_idle(session_id: str) -> None:
    # Default idle time is a day: last activity two days ago means idle-expired.
    db().execute(
        "UPDATE sessions SET last_activity_at = now() - interval '2 days' WHERE id = :id",
        id=session_id,
    )


@pytest.mark.parametrize("expire", [expire_lifetime, expire_idle])
def test_an_expired_session_refuses_requests_and_top_ups(sessions: Sessions, expire: Any) -> None:
    # Given a paid session that then expires (end of lifetime, or idle too long)
    session_id, macaroon = sessions.open_paid(1_000)
    expire(session_id)

    # Then it reads as expired without a macaroon
    session = sessions.get(session_id)
    assert session["state"] == SessionState.EXPIRED
    assert session["macaroon"] is None
    assert session["balance_sats"] == 1_000

    # And requests and top-ups are refused, changing nothing
    request = sessions.request(session_id, macaroon)
    assert request.status_code == 409
    assert error_code(request) == "session_expired"
    topup = sessions.topup(session_id, 500)
    assert topup.status_code == 409
    assert error_code(topup) == "session_expired"
    assert sessions.balance(session_id) == 1_000
    assert sessions.request_rows(session_id) == []
    assert sessions.count("invoices") == 1


def test_a_session_whose_deposit_invoice_expired_unpaid_is_expired(sessions: Sessions) -> None:
    created = sessions.open(1_000)
    db().execute(
        "UPDATE invoices SET expires_at = now() - interval '1 second' WHERE payment_hash = :h",
        h=created["invoice"]["payment_hash"],
    )
    session = sessions.get(created["session_id"])
    assert session["state"] == SessionState.EXPIRED
    assert session["invoice"] is None
    assert session["macaroon"] is None


def test_requests_keep_an_idle_session_alive(sessions: Sessions) -> None:
    session_id, macaroon = sessions.open_paid(1_000)
    db().execute(
        "UPDATE sessions SET last_activity_at = now() - interval '23 hours' WHERE id = :id",
        id=session_id,
    )
    assert sessions.request(session_id, macaroon).status_code == 200
    last = db().scalar(
        "SELECT now() - last_activity_at < interval '1 minute' FROM sessions WHERE id = :id",
        id=session_id,
    )
    assert last is True


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_an_empty_request_is_refused_without_a_debit(sessions: Sessions, text: str) -> None:
    session_id, macaroon = sessions.open_paid(1_000)
    response = sessions.request(session_id, macaroon, text)
    assert response.status_code == 400
    assert error_code(response) == "empty_request"
    assert sessions.balance(session_id) == 1_000
    assert sessions.request_rows(session_id) == []


def test_a_request_without_its_text_field_is_refused(sessions: Sessions) -> None:
    session_id, macaroon = sessions.open_paid(1_000)
    response = sessions.api.post(
        f"/api/sessions/{session_id}/request",
        json={"prompt": "hi"},
        headers={"Authorization": f"Bearer {macaroon}"},
    )
    assert response.status_code == 400
    assert error_code(response) == "invalid_request"
    assert sessions.balance(session_id) == 1_000


@pytest.mark.parametrize(
    ("marker", "status", "code"),
    [
        ("[[fail-work:retryable]]", 503, "ai_unavailable"),
        ("[[fail-work:permanent]]", 502, "ai_failed"),
    ],
)
def test_a_failed_ai_call_debits_nothing(
    sessions: Sessions, marker: str, status: int, code: str
) -> None:
    # Given a paid session
    session_id, macaroon = sessions.open_paid(1_000)

    # When the AI fails
    response = sessions.request(session_id, macaroon, f"Do the thing {marker}")

    # Then the caller is told, the whole reservation is back, and the failure is recorded
    assert response.status_code == status
    assert error_code(response) == code
    assert sessions.balance(session_id) == 1_000
    rows = sessions.request_rows(session_id)
    assert len(rows) == 1
    assert rows[0]["state"] == RequestState.FAILED
    assert rows[0]["error_code"] == code
    assert rows[0]["charged_sats"] is None

    # And the session still works
    assert sessions.request(session_id, macaroon).status_code == 200


def test_an_estimate_above_the_balance_is_refused_without_a_debit(
    sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    from timmy.runtime import reset_caches

    # Given a model ten times the stub's price, a small balance and a long request
    monkeypatch.setenv("MODEL_PRICES_JSON", '{"stub": [10, 50]}')
    reset_caches()
    session_id, macaroon = sessions.open_paid(100)
    text = "Write an essay about this. " * 700

    # When it is asked for, Then 402 insufficient_balance and nothing changed
    response = sessions.request(session_id, macaroon, text)
    assert response.status_code == 402
    assert error_code(response) == "insufficient_balance"
    assert sessions.balance(session_id) == 100
    assert sessions.request_rows(session_id) == []
    # A short request still fits
    assert sessions.request(session_id, macaroon, "Hi").status_code == 200
