"""GET/POST /api/estimate over HTTP: priced, dry-run free tier, and never a state change."""

from __future__ import annotations

import httpx
import identities

from timmy import freetier
from timmy.data.identities import TrustTier
from timmy.data.pool import Serve
from timmy.db.connection import db


def trusted_token(pubkey: str = "a1" * 32) -> str:
    return identities.token_for(identities.make_identity(TrustTier.TRUSTED, pubkey))


def snapshot() -> tuple[object, ...]:
    return (
        db().all("SELECT * FROM generosity_pool"),
        db().all("SELECT pubkey, sats_absorbed_today, absorbed_reset_at FROM nostr_identities"),
        db().scalar("SELECT count(*) FROM free_tier_grants"),
        db().scalar("SELECT count(*) FROM invoices"),
    )


def test_anonymous_estimate_prices_the_request(api: httpx.Client) -> None:
    response = api.get("/api/estimate", params={"request": "Explain BOLT11 briefly"})
    assert response.status_code == 200
    body = response.json()
    assert body["estimated_sats"] > 0
    assert body["eval_fee_sats"] == 10
    assert body["btc_price_usd"] == 100000.0
    assert body["token_estimate"]["input"] > 0
    assert body["token_estimate"]["output"] > 0
    assert body["trust_tier"] == TrustTier.ANONYMOUS
    assert body["identity"] is None
    assert body["pool"]["balance_sats"] == 10_000
    assert body["pool"]["daily_budgets"] == {
        TrustTier.NEW: 0,
        TrustTier.ESTABLISHED: 50,
        TrustTier.TRUSTED: 200,
        TrustTier.ELITE: 1000,
    }


def test_a_trusted_caller_sees_the_free_tier_answer(api: httpx.Client) -> None:
    token = trusted_token()
    response = api.post(
        "/api/estimate",
        json={"request": "Explain BOLT11 briefly"},
        headers={"X-Nostr-Token": token},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["trust_tier"] == TrustTier.TRUSTED
    answer = body["identity"]["free_tier"]
    assert answer["serve"] == Serve.FREE
    assert answer["absorb_sats"] == body["estimated_sats"]
    assert answer["charge_sats"] == 0


def test_many_estimates_change_no_state(api: httpx.Client) -> None:
    # Regression (seed review, issue 1): /api/estimate once debited the pool.
    token = trusted_token()
    freetier.seed_pool()
    before = snapshot()
    for _ in range(20):
        assert (
            api.get(
                "/api/estimate", params={"request": "x" * 50}, headers={"X-Nostr-Token": token}
            ).status_code
            == 200
        )
        assert (
            api.post("/api/estimate", json={"request": "y" * 50, "nostr_token": token}).status_code
            == 200
        )
    assert snapshot() == before


def test_bad_input_is_a_clear_4xx(api: httpx.Client) -> None:
    empty = api.get("/api/estimate", params={"request": "   "})
    assert empty.status_code == 400
    assert empty.json()["error"]["code"] == "empty_request"
    missing = api.get("/api/estimate")
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "invalid_request"
    bad_token = api.get(
        "/api/estimate", params={"request": "hi"}, headers={"X-Nostr-Token": "v1.nope"}
    )
    assert bad_token.status_code == 401
    assert bad_token.json()["error"]["code"] == "invalid_token"
    too_long = api.post("/api/estimate", json={"request": "z" * 20_001})
    assert too_long.status_code == 400
    assert too_long.json()["error"]["code"] == "request_too_long"


def whole_state() -> tuple[object, ...]:
    """Every column of every identity and of the pool, with each row version's id (``xmin``
    changes on any UPDATE, even one that rewrites the same values)."""
    return (
        db().all("SELECT xmin::text AS version, * FROM nostr_identities ORDER BY pubkey"),
        db().all("SELECT xmin::text AS version, * FROM generosity_pool"),
    )


def test_an_estimate_for_a_decaying_identity_writes_nothing(api: httpx.Client) -> None:
    # Regression (hardening issue, finding 10): reading the tier materialised the trust decay.
    # Given a trusted identity (score 50) away for 31 days: one decay period is pending, which
    # takes it down to 45, established
    away = identities.make_identity(TrustTier.TRUSTED, "b2" * 32)
    db().execute(
        "UPDATE nostr_identities SET last_seen = now() - interval '31 days' WHERE pubkey = :pk",
        pk=away,
    )
    token = identities.token_for(away)
    freetier.seed_pool()
    before = whole_state()
    # When it asks for estimates, both ways
    got = api.get("/api/estimate", params={"request": "hi there"}, headers={"X-Nostr-Token": token})
    posted = api.post("/api/estimate", json={"request": "hi there", "nostr_token": token})
    # Then it sees its decayed tier, and no row (nor any row version) changed
    assert got.status_code == posted.status_code == 200
    assert got.json()["trust_tier"] == posted.json()["trust_tier"] == TrustTier.ESTABLISHED
    assert whole_state() == before
