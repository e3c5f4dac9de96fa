"""The free tier on sessions, over HTTP: who pays what, to the sat, and nothing moves on failure.

Prices are set per test (``prices``: USD per million tokens, no markup, $100,000/BTC), so the
estimate (256 output tokens at least) is well above the stub's real usage: the difference is
the over-reservation the pool and the balance get back.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

from timmy import freetier, pricing
from timmy.data.identities import TrustTier
from timmy.data.pool import Serve
from timmy.data.sessions import RequestState, SessionState
from timmy.db.connection import db

if TYPE_CHECKING:
    from conftest import FreeTier, Sessions

SetPrices = Callable[[int, int], None]


def actual_cost(body: dict[str, Any], input_usd: int, output_usd: int) -> int:
    """What the reported usage costs at the test's prices (rounded up, like every charge)."""
    table = {"stub": pricing.ModelPrice(Decimal(input_usd), Decimal(output_usd))}
    return pricing.actual_cost(
        body["tokens"]["input"],
        body["tokens"]["output"],
        "stub",
        prices=table,
        btc_price_usd=Decimal(100_000),
        markup_pct=Decimal(0),
    ).sats


def estimate_of(text: str, input_usd: int, output_usd: int) -> int:
    table = {"stub": pricing.ModelPrice(Decimal(input_usd), Decimal(output_usd))}
    return pricing.estimate_request_cost(
        text, "stub", prices=table, btc_price_usd=Decimal(100_000), markup_pct=Decimal(0)
    ).sats


def test_a_trusted_callers_request_is_free(
    sessions: Sessions, free_tier: FreeTier, prices: SetPrices
) -> None:
    # Given a session bound to a trusted identity (200 sats a day) and an estimate of 128
    prices(0, 500)
    pubkey, token = free_tier.identity(TrustTier.TRUSTED)
    session_id, macaroon = sessions.open_paid(1_000, nostr_token=token)
    text = "Say hello."
    estimate = estimate_of(text, 0, 500)
    assert estimate == 128

    # When it makes a request
    response = sessions.request(session_id, macaroon, text)

    # Then the pool paid the real cost, the balance is untouched
    assert response.status_code == 200, response.text
    body = response.json()
    cost = actual_cost(body, 0, 500)
    assert 0 < cost < estimate
    assert body["cost_sats"] == cost
    assert body["absorbed_sats"] == cost
    assert body["charged_sats"] == 0
    assert body["free_tier"] is True
    assert body["balance_sats"] == 1_000
    assert body["trust_tier"] == TrustTier.TRUSTED
    assert sessions.balance(session_id) == 1_000
    # And the pool and the day were charged the actual cost: the over-reservation came back
    assert free_tier.pool() == 10_000 - cost
    assert free_tier.absorbed_today(pubkey) == cost
    assert free_tier.grants() == [
        {
            "pubkey": pubkey,
            "request_hash": freetier.request_hash(text),
            "sats_absorbed": cost,
            "pool_balance_after": 10_000 - cost,
        }
    ]
    assert free_tier.request_rows(session_id) == [
        {
            "state": RequestState.COMPLETE,
            "free_tier": Serve.FREE,
            "estimate_sats": estimate,
            "reserved_sats": 0,
            "pool_reserved_sats": estimate,
            "cost_sats": cost,
            "charged_sats": 0,
            "absorbed_sats": cost,
            "error_code": None,
        }
    ]
    assert sessions.get(session_id)["absorbed_sats"] == cost


def test_an_established_callers_request_is_partly_free(
    sessions: Sessions, free_tier: FreeTier, prices: SetPrices
) -> None:
    # Given a session bound to an established identity (50 sats a day), an estimate of 615
    prices(1_000, 2_000)
    pubkey, token = free_tier.identity(TrustTier.ESTABLISHED)
    session_id, macaroon = sessions.open_paid(1_000, nostr_token=token)
    text = "Say hello."
    estimate = estimate_of(text, 1_000, 2_000)

    # When it makes a request
    response = sessions.request(session_id, macaroon, text)

    # Then the pool paid its 50, the balance the rest of the real cost
    assert response.status_code == 200, response.text
    body = response.json()
    cost = actual_cost(body, 1_000, 2_000)
    assert 50 < cost < estimate
    charged = cost - 50
    assert body["cost_sats"] == cost
    assert body["absorbed_sats"] == 50
    assert body["charged_sats"] == charged
    assert body["free_tier"] is True
    assert body["balance_sats"] == 1_000 - charged
    assert sessions.balance(session_id) == 1_000 - charged
    # And the pool gave 50 and was credited 10 % (rounded down) of what the caller paid
    assert free_tier.pool() == 10_000 - 50 + charged * 10 // 100
    assert free_tier.absorbed_today(pubkey) == 50
    assert [g["sats_absorbed"] for g in free_tier.grants()] == [50]
    assert free_tier.request_rows(session_id) == [
        {
            "state": RequestState.COMPLETE,
            "free_tier": Serve.PARTIAL,
            "estimate_sats": estimate,
            "reserved_sats": estimate - 50,
            "pool_reserved_sats": 50,
            "cost_sats": cost,
            "charged_sats": charged,
            "absorbed_sats": 50,
            "error_code": None,
        }
    ]

    # When it asks again the same day, Then its allowance is spent: it pays everything
    again = sessions.request(session_id, macaroon, text).json()
    assert (again["absorbed_sats"], again["free_tier"]) == (0, False)
    assert again["charged_sats"] == again["cost_sats"] > 0
    assert free_tier.absorbed_today(pubkey) == 50


def test_an_anonymous_request_pays_in_full_and_credits_the_pool(
    sessions: Sessions, free_tier: FreeTier, prices: SetPrices
) -> None:
    prices(1_000, 2_000)
    session_id, macaroon = sessions.open_paid(1_000)

    body = sessions.request(session_id, macaroon, "Say hello.").json()

    charged = actual_cost(body, 1_000, 2_000)
    assert charged % 10 != 0  # so that rounding down is visible
    assert body["charged_sats"] == body["cost_sats"] == charged
    assert (body["absorbed_sats"], body["free_tier"]) == (0, False)
    assert sessions.balance(session_id) == 1_000 - charged
    assert free_tier.pool() == 10_000 + charged // 10
    assert free_tier.grants() == []
    assert free_tier.request_rows(session_id)[0]["free_tier"] == Serve.GATE


def test_a_new_identity_pays_in_full(
    sessions: Sessions, free_tier: FreeTier, prices: SetPrices
) -> None:
    prices(0, 500)
    pubkey, token = free_tier.identity(TrustTier.NEW)
    session_id, macaroon = sessions.open_paid(1_000, nostr_token=token)
    body = sessions.request(session_id, macaroon).json()
    assert body["absorbed_sats"] == 0
    assert body["charged_sats"] == body["cost_sats"] > 0
    assert free_tier.absorbed_today(pubkey) == 0
    assert free_tier.pool() == 10_000 + body["charged_sats"] // 10


@pytest.mark.parametrize("tier", ["trusted", "established"])
@pytest.mark.parametrize(
    ("marker", "status"), [("[[fail-work:retryable]]", 503), ("[[fail-work:permanent]]", 502)]
)
def test_a_failed_ai_call_puts_the_balance_and_the_pool_back(
    sessions: Sessions,
    free_tier: FreeTier,
    prices: SetPrices,
    tier: str,
    marker: str,
    status: int,
) -> None:
    # Given a free (trusted) or partial (established) decision on an estimate of 128
    prices(0, 500)
    pubkey, token = free_tier.identity(tier)
    session_id, macaroon = sessions.open_paid(1_000, nostr_token=token)

    # When the AI fails
    response = sessions.request(session_id, macaroon, f"Say hello. {marker}")

    # Then nothing is debited anywhere, and the day's allowance is whole again
    assert response.status_code == status, response.text
    assert sessions.balance(session_id) == 1_000
    assert free_tier.pool() == 10_000
    assert free_tier.absorbed_today(pubkey) == 0
    assert free_tier.grants() == []
    (row,) = free_tier.request_rows(session_id)
    assert row["state"] == RequestState.FAILED
    assert (row["charged_sats"], row["absorbed_sats"]) == (None, 0)
    expected = {
        TrustTier.TRUSTED: (Serve.FREE, 128, 0),
        TrustTier.ESTABLISHED: (Serve.PARTIAL, 50, 78),
    }[tier]
    assert (row["free_tier"], row["pool_reserved_sats"], row["reserved_sats"]) == expected
    assert sessions.get(session_id)["absorbed_sats"] == 0


def test_a_wholly_free_request_runs_on_a_session_below_the_minimum(
    sessions: Sessions, free_tier: FreeTier, flat_price: int
) -> None:
    # Given a trusted identity's session whose balance is below the minimum request cost
    pubkey, token = free_tier.identity(TrustTier.TRUSTED)
    session_id, macaroon = sessions.open_paid(100, nostr_token=token)
    db().execute("UPDATE sessions SET balance_sats = 40 WHERE id = :id", id=session_id)
    assert sessions.get(session_id)["state"] == SessionState.PAUSED

    # When it makes a request the pool covers wholly
    response = sessions.request(session_id, macaroon)

    # Then it is served (the minimum prices it; the pool pays it) and the balance is untouched
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["cost_sats"], body["absorbed_sats"], body["charged_sats"]) == (flat_price, 100, 0)
    assert sessions.balance(session_id) == 40
    assert free_tier.pool() == 10_000 - flat_price
    assert free_tier.absorbed_today(pubkey) == flat_price


def test_a_partial_request_needs_the_balance_to_cover_the_callers_part(
    sessions: Sessions, free_tier: FreeTier, flat_price: int
) -> None:
    # Given an established identity (50 a day) and requests priced 100: the caller's part is 50
    pubkey, token = free_tier.identity(TrustTier.ESTABLISHED)
    session_id, macaroon = sessions.open_paid(100, nostr_token=token)
    db().execute("UPDATE sessions SET balance_sats = 49 WHERE id = :id", id=session_id)

    # When the balance is one sat short, Then 402 and nothing moved, the pool included
    refused = sessions.request(session_id, macaroon)
    assert refused.status_code == 402
    assert refused.json()["error"]["code"] == "insufficient_balance"
    assert (
        "50 sats are yours to hold (the free tier covers the other 50)"
        in (refused.json()["error"]["message"])
    )
    assert sessions.balance(session_id) == 49
    assert (free_tier.pool(), free_tier.absorbed_today(pubkey)) == (10_000, 0)
    assert free_tier.request_rows(session_id) == []

    # When it has exactly its part, Then the request runs and takes the balance to zero
    db().execute("UPDATE sessions SET balance_sats = 50 WHERE id = :id", id=session_id)
    body = sessions.request(session_id, macaroon).json()
    assert (body["charged_sats"], body["absorbed_sats"], body["balance_sats"]) == (50, 50, 0)
    assert free_tier.pool() == 10_000 - 50 + 5
    assert free_tier.absorbed_today(pubkey) == 50


def another_request_takes(
    monkeypatch: pytest.MonkeyPatch, sats: int
) -> Callable[[str | None, int], freetier.Decision]:
    """Make ``decide`` advise, then let another free request of the same identity take
    ``sats`` of its day before the grant is reserved (the race the reservation re-checks)."""
    real_decide = freetier.decide

    def decide_then_race(pubkey: str | None, estimated_sats: int) -> freetier.Decision:
        decision = real_decide(pubkey, estimated_sats)
        assert decision.serve == Serve.PARTIAL
        assert real_decide(pubkey, sats).serve == Serve.FREE
        return decision

    monkeypatch.setattr(freetier, "decide", decide_then_race)
    return decide_then_race


def test_a_partial_grant_that_shrank_makes_the_caller_pay_the_difference(
    sessions: Sessions, free_tier: FreeTier, flat_price: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an established identity advised 50 of a 100-sat request, of which another request
    # takes 30 before the grant is reserved
    pubkey, token = free_tier.identity(TrustTier.ESTABLISHED)
    session_id, macaroon = sessions.open_paid(1_000, nostr_token=token)
    another_request_takes(monkeypatch, 30)

    # When the request runs
    body = sessions.request(session_id, macaroon).json()

    # Then the pool absorbs the 20 it could still reserve and the caller pays 80
    assert (body["cost_sats"], body["absorbed_sats"], body["charged_sats"]) == (100, 20, 80)
    assert sessions.balance(session_id) == 1_000 - 80
    assert free_tier.absorbed_today(pubkey) == 30 + 20
    assert free_tier.pool() == 10_000 - 30 - 20 + 8
    (row,) = free_tier.request_rows(session_id)
    assert (row["reserved_sats"], row["pool_reserved_sats"], row["free_tier"]) == (
        80,
        20,
        Serve.PARTIAL,
    )


def test_a_grown_part_the_balance_cannot_hold_is_refused_and_the_grant_undone(
    sessions: Sessions, free_tier: FreeTier, flat_price: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 60 sats: enough for the advised part (50), not for the grown one (80)
    pubkey, token = free_tier.identity(TrustTier.ESTABLISHED)
    session_id, macaroon = sessions.open_paid(100, nostr_token=token)
    db().execute("UPDATE sessions SET balance_sats = 60 WHERE id = :id", id=session_id)
    another_request_takes(monkeypatch, 30)

    refused = sessions.request(session_id, macaroon)

    # Then 402, the balance untouched and the pool holds only the other request's 30
    assert refused.status_code == 402
    assert refused.json()["error"]["code"] == "insufficient_balance"
    assert "(60 sats)" in refused.json()["error"]["message"]
    assert sessions.balance(session_id) == 60
    assert free_tier.absorbed_today(pubkey) == 30
    assert free_tier.pool() == 10_000 - 30
    assert free_tier.request_rows(session_id) == []


def test_a_free_reservation_is_returned_when_the_session_cannot_run_the_request(
    sessions: Sessions, free_tier: FreeTier, flat_price: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a free decision, after which the session expires before anything is held
    pubkey, token = free_tier.identity(TrustTier.TRUSTED)
    session_id, macaroon = sessions.open_paid(1_000, nostr_token=token)
    real_decide = freetier.decide

    def decide_then_expire(pubkey: str | None, estimated_sats: int) -> freetier.Decision:
        decision = real_decide(pubkey, estimated_sats)
        assert decision.serve == Serve.FREE
        db().execute(
            "UPDATE sessions SET last_activity_at = now() - interval '2 days' WHERE id = :id",
            id=session_id,
        )
        return decision

    monkeypatch.setattr(freetier, "decide", decide_then_expire)

    refused = sessions.request(session_id, macaroon)

    # Then 409 and the pool and the day have their sats back
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "session_expired"
    assert free_tier.pool() == 10_000
    assert free_tier.absorbed_today(pubkey) == 0
    assert sessions.balance(session_id) == 1_000
    assert free_tier.request_rows(session_id) == []
