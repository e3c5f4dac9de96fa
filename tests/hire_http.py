"""Helpers for the AI-for-Hire tests over HTTP: funded accounts (top-up, dev wallet, claim).
A module of its own (not a conftest): test files import it by name."""

from __future__ import annotations

from typing import Any

import httpx

HIRE = "/api/v1/ai-for-hire"


def funded(api: httpx.Client, amount_sats: int) -> str:
    """A new account's token, topped up with ``amount_sats`` (the peer's create_funded_token,
    with the one difference: the claim sends the token)."""
    challenge = api.post("/api/v1/topup", json={"amount_sats": amount_sats})
    assert challenge.status_code == 402, challenge.text
    body = challenge.json()
    paid = api.post("/api/dev/wallet/pay", json={"invoice": body["invoice"]})
    assert paid.status_code == 200, paid.text
    claim = api.post(
        "/api/v1/topup/claim",
        json={"preimage": paid.json()["preimage"]},
        headers={"X-Token": body["token"]},
    )
    assert claim.status_code == 200, claim.text
    token: str = claim.json()["token"]
    return token


def balance(api: httpx.Client, token: str) -> int:
    me = api.get(f"{HIRE}/me", headers={"X-Token": token})
    assert me.status_code == 200, me.text
    return int(me.json()["balance_sats"])


def post(api: httpx.Client, path: str, token: str | None, body: Any = None) -> httpx.Response:
    headers = {"X-Token": token} if token else {}
    return api.post(f"{HIRE}{path}", json={} if body is None else body, headers=headers)
