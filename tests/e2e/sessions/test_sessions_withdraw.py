"""Withdrawing a session's balance over HTTP, and top-ups that expire with their session."""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from timmy.data.sessions import SessionState
from timmy.db.connection import db
from timmy.lightning.bolt11 import encode_invoice
from timmy.runtime import reset_caches
from timmy.sessions import auth

if TYPE_CHECKING:
    from tests.e2e.sessions.conftest import Sessions


def customer_invoice(amount_sats: int) -> str:
    return encode_invoice(
        payment_hash=hashlib.sha256(os.urandom(32)).digest(),
        amount_sats=amount_sats,
        description="withdrawal",
        expiry=3600,
        signing_key=bytes.fromhex("22" * 32),
    )


def withdraw(
    sessions: Sessions, session_id: str, macaroon: str | None, body: dict[str, Any]
) -> httpx.Response:
    headers = {} if macaroon is None else {"Authorization": f"Bearer {macaroon}"}
    return sessions.api.post(f"/api/sessions/{session_id}/withdraw", json=body, headers=headers)


def code(response: httpx.Response) -> str:
    value: str = response.json()["error"]["code"]
    return value


def expire(session_id: str) -> None:
    db().execute(
        "UPDATE sessions SET lifetime_ends_at = now() - interval '1 second' WHERE id = :id",
        id=session_id,
    )


def test_the_whole_withdrawable_balance_is_paid_out(sessions: Sessions) -> None:
    session_id, macaroon = sessions.open_paid(1_000)
    withdrawable = sessions.get(session_id)["withdrawable_sats"]
    assert withdrawable == 990  # 1,000 less the 1 % reserve of 990 (10 sats)

    paid = withdraw(
        sessions,
        session_id,
        macaroon,
        {"invoice": customer_invoice(withdrawable), "amount_sats": withdrawable},
    )

    assert paid.status_code == 200, paid.text
    body = paid.json()
    assert body == {
        "status": "paid",
        "payment_hash": body["payment_hash"],
        "amount_sats": 990,
        "fee_sats": 0,
        "balance_sats": 10,
    }
    assert sessions.get(session_id)["balance_sats"] == 10
    assert int(db().scalar("SELECT sum(amount_sats) FROM stub_lightning_payments")) == 990


def test_an_expired_session_still_withdraws_with_its_macaroon(sessions: Sessions) -> None:
    session_id, macaroon = sessions.open_paid(1_000)
    expire(session_id)  # the macaroon's own expiry caveat has passed too
    assert sessions.get(session_id)["state"] == SessionState.EXPIRED
    assert sessions.request(session_id, macaroon).status_code in (401, 409)

    paid = withdraw(sessions, session_id, macaroon, {"invoice": customer_invoice(500)})

    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "paid"
    assert sessions.balance(session_id) == 500


def test_withdrawal_refusals_change_nothing(sessions: Sessions) -> None:
    session_id, macaroon = sessions.open_paid(1_000)
    other_id, other_macaroon = sessions.open_paid(1_000)
    unpaid = sessions.open(1_000)
    invoice = customer_invoice(100)

    cases = [
        (None, {"invoice": invoice}, 401, "missing_macaroon"),
        ("forged", {"invoice": invoice}, 401, "invalid_macaroon"),
        (other_macaroon, {"invoice": invoice}, 403, "macaroon_wrong_session"),
        (macaroon, {"invoice": invoice, "amount_sats": 99}, 400, "amount_mismatch"),
        (macaroon, {"invoice": customer_invoice(999)}, 402, "insufficient_balance"),
        (macaroon, {}, 400, "invalid_request"),
    ]
    for credential, body, status, expected in cases:
        response = withdraw(sessions, session_id, credential, body)
        assert response.status_code == status, (expected, response.text)
        assert code(response) == expected
    # (an unpaid session's macaroon is never delivered; minted here to reach the check)
    unpaid_macaroon = auth.mint(unpaid["session_id"], 4_102_444_800)
    not_paid = withdraw(sessions, unpaid["session_id"], unpaid_macaroon, {"invoice": invoice})
    assert not_paid.status_code == 402
    assert code(not_paid) == "session_not_paid"
    assert sessions.balance(session_id) == 1_000
    assert sessions.balance(other_id) == 1_000
    assert sessions.count("payouts") == 0

    # And an invoice pays out once: a second withdrawal to it is 409
    assert withdraw(sessions, session_id, macaroon, {"invoice": invoice}).status_code == 200
    again = withdraw(sessions, other_id, other_macaroon, {"invoice": invoice})
    assert again.status_code == 409
    assert code(again) == "invoice_already_used"
    assert sessions.balance(other_id) == 1_000


@pytest.fixture
def short_idle(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Sessions expire after 60 idle seconds, well before a 600-second invoice would."""
    monkeypatch.setenv("SESSION_IDLE_SECONDS", "60")
    monkeypatch.setenv("INVOICE_EXPIRY_SECONDS", "600")
    reset_caches()
    yield
    monkeypatch.undo()
    reset_caches()


def test_a_top_up_invoice_expires_with_its_session(sessions: Sessions, short_idle: None) -> None:
    # Issue 10, 3(b): the old code issued a 600-second top-up to a session with 60 left.
    session_id, _ = sessions.open_paid(1_000)
    session = sessions.get(session_id)

    topup = sessions.topup(session_id, 500)

    assert topup.status_code == 201, topup.text
    # Compared as instants: the two strings need not carry the same number of decimals.
    invoice_expiry = datetime.fromisoformat(topup.json()["invoice"]["expires_at"])
    assert invoice_expiry <= datetime.fromisoformat(session["expires_at"])


def test_a_top_up_paid_as_its_session_expired_is_credited_and_withdrawable(
    sessions: Sessions,
) -> None:
    session_id, macaroon = sessions.open_paid(1_000)
    invoice = sessions.topup(session_id, 500).json()["invoice"]
    expire(session_id)

    # When the payment that raced the expiry is confirmed
    sessions.pay(invoice["payment_hash"])

    # Then the money received is on the (dead) balance, and it can be withdrawn
    session = sessions.get(session_id)
    assert (session["state"], session["balance_sats"]) == (SessionState.EXPIRED, 1_500)
    assert session["withdrawable_sats"] == 1_485
    paid = withdraw(sessions, session_id, macaroon, {"invoice": customer_invoice(1_485)})
    assert paid.json()["status"] == "paid", paid.text
    assert sessions.balance(session_id) == 15
