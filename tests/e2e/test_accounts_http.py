"""Prepaid accounts over HTTP through the local gateway: a new user tops up without an account,
pays with the dev wallet, claims with the returned token and sees the balance."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


def topup(api: httpx.Client, amount: Any, **headers: str) -> httpx.Response:
    return api.post("/api/v1/topup", json={"amount_sats": amount}, headers=headers)


def pay(api: httpx.Client, invoice: str) -> dict[str, Any]:
    paid = api.post("/api/dev/wallet/pay", json={"invoice": invoice})
    assert paid.status_code == 200, paid.text
    return paid.json()


def test_top_up_pay_claim_and_see_the_balance(api: httpx.Client) -> None:
    challenge = topup(api, 250)
    assert challenge.status_code == 402, challenge.text
    body = challenge.json()
    assert body["status"] == "payment_required"
    assert body["payment_method"] == "topup"
    assert body["token"].startswith("tmy_")
    assert body["claim_url"].endswith("/api/v1/topup/claim")
    assert body["expires_in"] > 0
    token = body["token"]

    paid = pay(api, body["invoice"])
    assert paid["payment_hash"] == body["payment_hash"]
    assert paid["amount_sats"] == 250
    again = api.post("/api/dev/wallet/pay", json={"invoice": body["invoice"]})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_paid"

    # A preimage alone never claims.
    alone = api.post("/api/v1/topup/claim", json={"preimage": paid["preimage"]})
    assert alone.status_code == 401
    assert alone.json()["error"]["code"] == "missing_token"
    claim = api.post(
        "/api/v1/topup/claim", json={"preimage": paid["preimage"]}, headers={"X-Token": token}
    )
    assert claim.status_code == 200, claim.text
    assert claim.json()["balance_sats"] == 250
    replay = api.post("/api/v1/topup/claim", json={"preimage": paid["preimage"], "token": token})
    assert replay.status_code == 200
    assert replay.json()["credited_sats"] == 0
    assert replay.json()["balance_sats"] == 250

    for path in ("/api/v1/account", "/api/v1/ai-for-hire/me"):
        account = api.get(path, headers={"Authorization": f"Bearer {token}"})
        assert account.status_code == 200, account.text
        assert account.json()["balance_sats"] == 250
        assert account.json()["account_id"] == body["account_id"]

    refill = topup(api, 5, **{"X-Token": token})
    assert refill.status_code == 402
    assert "token" not in refill.json()
    assert refill.json()["account_id"] == body["account_id"]


def test_polling_the_account_credits_a_paid_topup_once(api: httpx.Client) -> None:
    body = topup(api, 40).json()
    pay(api, body["invoice"])
    for _ in range(3):
        account = api.get("/api/v1/account", headers={"X-Token": body["token"]}).json()
        assert account["balance_sats"] == 40
        assert account["pending_topups"] == []


def test_another_accounts_token_cannot_claim(api: httpx.Client) -> None:
    victim = topup(api, 30).json()
    thief = topup(api, 1).json()
    paid = pay(api, victim["invoice"])
    stolen = api.post(
        "/api/v1/topup/claim",
        json={"preimage": paid["preimage"]},
        headers={"X-Token": thief["token"]},
    )
    assert stolen.status_code == 403
    assert stolen.json()["error"]["code"] == "wrong_account"
    assert (
        api.get("/api/v1/account", headers={"X-Token": thief["token"]}).json()["balance_sats"] == 0
    )


@pytest.mark.parametrize("amount", [0, -1, 1.5, "10", None, 1_000_001])
def test_a_topup_amount_that_is_not_a_positive_integer_in_bounds_is_400(
    api: httpx.Client, amount: Any
) -> None:
    answer = topup(api, amount)
    assert answer.status_code == 400, answer.text
    assert "error" in answer.json()


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Token": "tmy_" + "A" * 43},
        {"X-Token": "garbage"},
        {"Authorization": "Bearer tmy_" + "B" * 43},
    ],
)
def test_a_forged_token_is_401_invalid_token_and_changes_nothing(
    api: httpx.Client, headers: dict[str, str]
) -> None:
    for answer in (
        api.get("/api/v1/account", headers=headers),
        topup(api, 10, **headers),
        api.post("/api/v1/topup/claim", json={"preimage": "00" * 32}, headers=headers),
    ):
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] == "invalid_token"


def test_the_account_needs_a_token(api: httpx.Client) -> None:
    answer = api.get("/api/v1/account")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "missing_token"


def funded(api: httpx.Client, sats: int) -> str:
    body = topup(api, sats).json()
    pay(api, body["invoice"])
    return str(body["token"])


def wallet_invoice(api: httpx.Client, sats: int) -> str:
    made = api.post("/api/dev/wallet/invoice", json={"amount_sats": sats})
    assert made.status_code == 200, made.text
    assert made.json()["amount_sats"] == sats
    return str(made.json()["invoice"])


@pytest.mark.parametrize("path", ["/api/v1/account/withdraw", "/api/v1/ai-for-hire/collect"])
def test_withdraw_to_a_bolt11_then_the_same_invoice_again_is_409(
    api: httpx.Client, path: str
) -> None:
    token = funded(api, 500)
    invoice = wallet_invoice(api, 300)

    paid = api.post(path, json={"invoice": invoice}, headers={"X-Token": token})

    assert paid.status_code == 200, paid.text
    body = paid.json()
    # The stub node charges no routing fee: the reserve held while paying came back.
    assert (body["status"], body["amount_sats"], body["fee_sats"]) == ("paid", 300, 0)
    assert body["balance_sats"] == 200
    account = api.get("/api/v1/account", headers={"X-Token": token}).json()
    assert account["balance_sats"] == 200
    assert account["payouts"][0]["payment_hash"] == body["payment_hash"]
    assert account["payouts"][0]["status"] == "paid"
    again = api.post(path, json={"invoice": invoice}, headers={"Authorization": f"Bearer {token}"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "invoice_already_used"
    assert api.get("/api/v1/account", headers={"X-Token": token}).json()["balance_sats"] == 200


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"invoice": "lnbcrt1garbage"}, 400, "invalid_invoice"),
        ({"invoice": None}, 400, "invalid_request"),
        ({}, 400, "invalid_request"),
        ({"invoice": "INVOICE", "amount_sats": 10}, 400, "amount_mismatch"),
        ({"invoice": "INVOICE", "amount_sats": "100"}, 400, "invalid_request"),
        ({"invoice": "INVOICE", "amount_sats": 1.5}, 400, "invalid_request"),
        ({"invoice": "BIG"}, 402, "insufficient_balance"),
        ({"invoice": "OWN"}, 400, "own_invoice"),
    ],
)
def test_a_bad_withdrawal_is_refused_and_changes_nothing(
    api: httpx.Client, body: dict[str, Any], status: int, code: str
) -> None:
    token = funded(api, 150)
    replacements = {
        "INVOICE": wallet_invoice(api, 100),
        "BIG": wallet_invoice(api, 149),
        "OWN": topup(api, 5, **{"X-Token": token}).json()["invoice"],
    }
    if body.get("invoice") in replacements:
        body = {**body, "invoice": replacements[body["invoice"]]}

    answer = api.post("/api/v1/account/withdraw", json=body, headers={"X-Token": token})

    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code
    account = api.get("/api/v1/account", headers={"X-Token": token}).json()
    assert (account["balance_sats"], account["payouts"]) == (150, [])


def test_a_withdrawal_needs_a_valid_token(api: httpx.Client) -> None:
    invoice = wallet_invoice(api, 10)
    missing = api.post("/api/v1/account/withdraw", json={"invoice": invoice})
    assert (missing.status_code, missing.json()["error"]["code"]) == (401, "missing_token")
    forged = api.post(
        "/api/v1/ai-for-hire/collect", json={"invoice": invoice}, headers={"X-Token": "tmy_x"}
    )
    assert (forged.status_code, forged.json()["error"]["code"]) == (401, "invalid_token")
