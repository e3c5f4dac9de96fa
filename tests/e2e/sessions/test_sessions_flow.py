"""A session over HTTP: deposit, pay, spend, run dry, top up, spend again."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from timmy import pricing
from timmy.catalog.loader import load as load_catalog
from timmy.data.identities import TrustTier
from timmy.data.sessions import SessionState
from timmy.lightning.backends import backend

CATALOG_PRICES = load_catalog().price_table  # the bundled catalog's prices

if TYPE_CHECKING:  # the fixture's class; pytest, not an import, provides the instance
    from conftest import Sessions


def stub_actual_cost(input_tokens: int, output_tokens: int) -> int:
    """What the local stack charges for real usage: stub list price, 20 % markup, $100k/BTC."""
    return pricing.actual_cost(
        input_tokens,
        output_tokens,
        pricing.STUB_MODEL,
        prices=CATALOG_PRICES,
        btc_price_usd=Decimal(100_000),
        markup_pct=Decimal(20),
    ).sats


def test_a_session_is_paid_then_spent_by_exactly_the_reported_charges(
    sessions: Sessions,
) -> None:
    # Given a new session
    created = sessions.open(5_000)
    session_id = created["session_id"]
    assert created["state"] == SessionState.AWAITING_PAYMENT
    assert created["invoice"]["amount_sats"] == 5_000
    assert created["trust_tier"] == TrustTier.ANONYMOUS
    unpaid = sessions.get(session_id)
    assert unpaid["state"] == SessionState.AWAITING_PAYMENT
    assert unpaid["balance_sats"] == 0
    assert unpaid["macaroon"] is None
    assert unpaid["invoice"]["payment_hash"] == created["invoice"]["payment_hash"]

    # When the deposit is paid
    sessions.pay(created["invoice"]["payment_hash"])
    session = sessions.get(session_id)

    # Then it is active, holds the deposit, and the macaroon is delivered
    assert session["state"] == SessionState.ACTIVE
    assert session["balance_sats"] == 5_000
    assert session["invoice"] is None
    assert session["macaroon"]
    macaroon = session["macaroon"]

    # And each request debits exactly what it reports: the real usage's cost, below the estimate
    balance = 5_000
    for text in ("Say hello.", "Summarise the Lightning Network in one line. " * 20, "2+2?"):
        response = sessions.request(session_id, macaroon, text)
        assert response.status_code == 200, response.text
        body = response.json()
        expected = stub_actual_cost(body["tokens"]["input"], body["tokens"]["output"])
        assert body["cost_sats"] == expected
        assert body["charged_sats"] == expected
        assert body["absorbed_sats"] == 0
        assert body["free_tier"] is False
        balance -= body["charged_sats"]
        assert body["balance_sats"] == balance
        assert body["result"].startswith("Stub result")
        assert body["trust_tier"] == TrustTier.ANONYMOUS
    assert sessions.balance(session_id) == balance
    rows = sessions.request_rows(session_id)
    assert [row["state"] for row in rows] == ["complete"] * 3
    assert all(row["charged_sats"] <= row["estimate_sats"] for row in rows)
    assert 5_000 - sum(row["charged_sats"] for row in rows) == balance
    assert sessions.get(session_id)["balance_sats"] == balance
    assert sessions.get(session_id)["absorbed_sats"] == 0


def test_run_dry_then_top_up_then_spend_again(sessions: Sessions, flat_price: int) -> None:
    # Given a session whose deposit covers two requests and a half
    session_id, macaroon = sessions.open_paid(250)
    assert sessions.request(session_id, macaroon).json()["balance_sats"] == 150
    assert sessions.request(session_id, macaroon).json()["balance_sats"] == 50

    # When the balance is below the minimum request cost
    session = sessions.get(session_id)
    assert session["state"] == SessionState.PAUSED
    assert session["min_request_sats"] == flat_price
    assert session["macaroon"] == macaroon
    refused = sessions.request(session_id, macaroon)

    # Then the request is refused and nothing changes
    assert refused.status_code == 402
    assert refused.json()["error"]["code"] == "insufficient_balance"
    assert sessions.balance(session_id) == 50
    assert len(sessions.request_rows(session_id)) == 2

    # When it is topped up and the top-up paid
    topup = sessions.topup(session_id, 200)
    assert topup.status_code == 201, topup.text
    invoice = topup.json()["invoice"]
    assert invoice["amount_sats"] == 200
    assert sessions.get(session_id)["pending_topup"]["payment_hash"] == invoice["payment_hash"]
    sessions.pay(invoice["payment_hash"])

    # Then it is active again and requests run
    session = sessions.get(session_id)
    assert session["state"] == SessionState.ACTIVE
    assert session["balance_sats"] == 250
    assert session["pending_topup"] is None
    again = sessions.request(session_id, macaroon)
    assert again.status_code == 200
    assert again.json()["charged_sats"] == flat_price
    assert again.json()["balance_sats"] == 150


def test_the_macaroon_is_delivered_on_every_read_once_paid(sessions: Sessions) -> None:
    created = sessions.open(1_000)
    session_id = created["session_id"]
    assert sessions.get(session_id)["macaroon"] is None
    sessions.pay(created["invoice"]["payment_hash"])
    first = sessions.get(session_id)["macaroon"]
    second = sessions.get(session_id)["macaroon"]
    assert first
    assert first == second
    assert sessions.request(session_id, second).status_code == 200


def test_polling_confirms_a_deposit_the_backend_has_settled(sessions: Sessions) -> None:
    # Given a deposit paid at the node, without anyone telling the API
    created = sessions.open(1_000)
    stub = backend()
    assert stub.mode == "stub"
    assert stub.mark_paid(created["invoice"]["payment_hash"])  # type: ignore[attr-defined]

    # When the caller polls the session
    session = sessions.get(created["session_id"])

    # Then the poll confirmed the payment and credited the deposit once
    assert session["state"] == SessionState.ACTIVE
    assert session["balance_sats"] == 1_000
    assert sessions.get(created["session_id"])["balance_sats"] == 1_000


def test_polling_confirms_a_settled_top_up(sessions: Sessions) -> None:
    session_id, _ = sessions.open_paid(1_000)
    invoice = sessions.topup(session_id, 300).json()["invoice"]
    assert sessions.get(session_id)["balance_sats"] == 1_000
    backend().mark_paid(invoice["payment_hash"])  # type: ignore[attr-defined]
    session = sessions.get(session_id)
    assert session["balance_sats"] == 1_300
    assert session["pending_topup"] is None
