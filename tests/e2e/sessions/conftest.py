"""Helpers for the session tests: open, pay, read and spend sessions over HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import identities
import pytest

from timmy import freetier
from timmy.data.sessions import SessionState
from timmy.db.connection import db
from timmy.runtime import reset_caches

# Every request costs exactly this many sats under ``flat_price``: the model is free, so the
# floor SESSION_MIN_REQUEST_SATS is both the reservation and the charge.
FLAT_PRICE_SATS = 100


@dataclass
class Sessions:
    api: httpx.Client

    def create(self, amount_sats: int = 1_000, **extra: Any) -> httpx.Response:
        headers = extra.pop("headers", None)
        return self.api.post(
            "/api/sessions", json={"amount_sats": amount_sats, **extra}, headers=headers
        )

    def open(self, amount_sats: int = 1_000, **extra: Any) -> dict[str, Any]:
        response = self.create(amount_sats, **extra)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def pay(self, payment_hash: str) -> dict[str, Any]:
        response = self.api.post(f"/api/dev/stub/pay/{payment_hash}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def get(self, session_id: str) -> dict[str, Any]:
        response = self.api.get(f"/api/sessions/{session_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def open_paid(self, amount_sats: int = 1_000, **extra: Any) -> tuple[str, str]:
        """A paid session: ``(session_id, macaroon)``."""
        created = self.open(amount_sats, **extra)
        self.pay(created["invoice"]["payment_hash"])
        session = self.get(created["session_id"])
        assert session["state"] in (SessionState.ACTIVE, SessionState.PAUSED), session
        return created["session_id"], session["macaroon"]

    def request(
        self, session_id: str, macaroon: str | None, text: str = "Say hello."
    ) -> httpx.Response:
        headers = {} if macaroon is None else {"Authorization": f"Bearer {macaroon}"}
        return self.api.post(
            f"/api/sessions/{session_id}/request", json={"request": text}, headers=headers
        )

    def topup(self, session_id: str, amount_sats: Any = 500) -> httpx.Response:
        return self.api.post(f"/api/sessions/{session_id}/topup", json={"amount_sats": amount_sats})

    # --- what the database holds ---------------------------------------------------------
    @staticmethod
    def balance(session_id: str) -> int:
        return int(db().scalar("SELECT balance_sats FROM sessions WHERE id = :id", id=session_id))

    @staticmethod
    def request_rows(session_id: str) -> list[dict[str, Any]]:
        return db().all(
            "SELECT state, estimate_sats, reserved_sats, cost_sats, charged_sats, absorbed_sats,"
            " input_tokens, output_tokens, error_code FROM session_requests"
            " WHERE session_id = :id ORDER BY created_at",
            id=session_id,
        )

    @staticmethod
    def count(table: str) -> int:
        return int(db().scalar(f'SELECT count(*) FROM "{table}"'))


@pytest.fixture
def sessions(api: httpx.Client) -> Sessions:
    return Sessions(api)


@pytest.fixture
def flat_price(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """Every request reserves and is charged exactly FLAT_PRICE_SATS (exact arithmetic)."""
    monkeypatch.setenv("MODEL_PRICES_JSON", json.dumps({"stub": [0, 0]}))
    monkeypatch.setenv("PRICE_MARKUP_PCT", "0")
    monkeypatch.setenv("SESSION_MIN_REQUEST_SATS", str(FLAT_PRICE_SATS))
    reset_caches()
    yield FLAT_PRICE_SATS
    monkeypatch.undo()
    reset_caches()


@pytest.fixture
def prices(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[int, int], None]]:
    """Set the stub model's list prices (USD per million tokens), no markup.

    At the local stack's fixed $100,000/BTC, ``n`` USD per million tokens is ``n / 1000``
    sats per token: sizeable amounts, so every split below is visible.
    """

    def set_prices(input_usd_per_mtok: int, output_usd_per_mtok: int) -> None:
        monkeypatch.setenv(
            "MODEL_PRICES_JSON", json.dumps({"stub": [input_usd_per_mtok, output_usd_per_mtok]})
        )
        monkeypatch.setenv("PRICE_MARKUP_PCT", "0")
        reset_caches()

    yield set_prices
    monkeypatch.undo()
    reset_caches()


class FreeTier:
    """Identities in a trust tier, and what the generosity pool and the audit log hold."""

    @staticmethod
    def identity(tier: str) -> tuple[str, str]:
        """A fresh identity whose score puts it in ``tier``: ``(pubkey, nostr_token)``; its
        daily free allowance starts now."""
        pubkey = identities.make_identity(tier)
        return pubkey, identities.token_for(pubkey)

    @staticmethod
    def set_pool(balance_sats: int) -> None:
        freetier.seed_pool()
        db().execute("UPDATE generosity_pool SET balance_sats = :b", b=balance_sats)

    @staticmethod
    def pool() -> int:
        return int(db().scalar("SELECT balance_sats FROM generosity_pool"))

    @staticmethod
    def absorbed_today(pubkey: str) -> int:
        return int(
            db().scalar(
                "SELECT sats_absorbed_today FROM nostr_identities WHERE pubkey = :pk", pk=pubkey
            )
        )

    @staticmethod
    def grants() -> list[dict[str, Any]]:
        return db().all(
            "SELECT pubkey, request_hash, sats_absorbed, pool_balance_after"
            " FROM free_tier_grants ORDER BY id"
        )

    @staticmethod
    def request_rows(session_id: str) -> list[dict[str, Any]]:
        return db().all(
            "SELECT state, free_tier, estimate_sats, reserved_sats, pool_reserved_sats,"
            " cost_sats, charged_sats, absorbed_sats, error_code FROM session_requests"
            " WHERE session_id = :id ORDER BY created_at",
            id=session_id,
        )


@pytest.fixture
def free_tier(clean_db: None) -> FreeTier:
    """The free tier with a pool of exactly 10,000 sats."""
    helper = FreeTier()
    helper.set_pool(10_000)
    return helper
