"""Helpers for the session tests: open, pay, read and spend sessions over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

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
        assert session["state"] in ("active", "paused"), session
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
