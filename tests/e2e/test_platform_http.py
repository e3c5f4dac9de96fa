"""The platform over real HTTP through the local gateway."""

from __future__ import annotations

import json

import httpx
import pytest

from timmy import payments
from timmy.data.invoices import Invoice, PaymentPurpose
from timmy.db.connection import db, transaction
from timmy.runtime import reset_caches


def issue_invoice(amount: int = 10) -> Invoice:
    created = payments.request_invoice(amount, "http test")
    with transaction() as tx:
        # An invoice of no bootstrap job: its on-paid handler finds nothing to move on.
        return payments.record_invoice(
            tx, created, purpose=PaymentPurpose.BOOTSTRAP, owner_id="http"
        )


def test_healthz_reports_the_database_and_modes(api: httpx.Client) -> None:
    response = api.get("/api/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "up"
    assert body["lightning"] == "up"
    assert body["lightning_mode"] == "stub"
    assert body["ai_configured"] is True
    assert body["price_feed"] == "fixed"
    assert body["ai_mode"] == "stub"
    assert body["provisioner_mode"] == "stub"
    assert body["version"]


def test_unknown_route_gets_the_error_envelope(api: httpx.Client) -> None:
    response = api.get("/api/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "route_not_found"


def test_cors_preflight_allows_and_exposes_the_nostr_token(api: httpx.Client) -> None:
    response = api.options(
        "/api/healthz",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 204
    assert "x-nostr-token" in response.headers["access-control-allow-headers"]
    assert "x-nostr-token" in api.get("/api/healthz").headers["access-control-expose-headers"]


def test_stub_pay_flips_the_invoice(api: httpx.Client) -> None:
    invoice = issue_invoice()
    response = api.post(f"/api/dev/stub/pay/{invoice.payment_hash}")
    assert response.status_code == 200
    assert response.json() == {
        "payment_hash": invoice.payment_hash,
        "paid": True,
        "outcome": "paid_now",
    }
    again = api.post(f"/api/dev/stub/pay/{invoice.payment_hash}")
    assert again.json()["outcome"] == "already_paid"


def test_stub_pay_rejects_bad_and_unknown_hashes(api: httpx.Client) -> None:
    bad = api.post("/api/dev/stub/pay/not-a-hash")
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_payment_hash"
    unknown = api.post(f"/api/dev/stub/pay/{'cd' * 32}")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "invoice_not_found"


def lnbits_webhook_body(payment_hash: str) -> str:
    # LNbits posts a JSON *string* that holds the payment JSON.
    return json.dumps(json.dumps({"payment_hash": payment_hash, "amount": 10_000}))


def state_of(payment_hash: str) -> str:
    return str(db().scalar("SELECT state FROM invoices WHERE payment_hash = :h", h=payment_hash))


def test_webhook_for_an_unknown_hash_changes_nothing(api: httpx.Client) -> None:
    response = api.post("/api/webhooks/lightning", content=lnbits_webhook_body("ef" * 32))
    assert response.status_code == 200
    assert response.json() == {"received": True, "paid": False}
    assert db().scalar("SELECT count(*) FROM invoices") == 0


def test_webhook_for_an_unpaid_invoice_changes_nothing(api: httpx.Client) -> None:
    # The body claims a payment, but the backend says the invoice is not paid.
    invoice = issue_invoice()
    response = api.post(
        "/api/webhooks/lightning", content=lnbits_webhook_body(invoice.payment_hash)
    )
    assert response.status_code == 200
    assert response.json()["paid"] is False
    assert state_of(invoice.payment_hash) == "pending"


def test_repeated_webhook_confirms_once(api: httpx.Client) -> None:
    invoice = issue_invoice()
    db().execute(
        "UPDATE stub_lightning_invoices SET paid = true WHERE payment_hash = :h",
        h=invoice.payment_hash,
    )
    paid_at = []
    for _ in range(3):
        response = api.post(
            "/api/webhooks/lightning", content=lnbits_webhook_body(invoice.payment_hash)
        )
        assert response.json() == {"received": True, "paid": True}
        paid_at.append(
            db().scalar(
                "SELECT paid_at FROM invoices WHERE payment_hash = :h", h=invoice.payment_hash
            )
        )
    assert state_of(invoice.payment_hash) == "paid"
    assert len(set(paid_at)) == 1


def test_garbage_webhook_is_a_clear_400(api: httpx.Client) -> None:
    response = api.post("/api/webhooks/lightning", content=b"\x00not json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_webhook"


def test_a_bad_setting_fails_every_request_clearly_before_anything_runs(
    api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SESSION_HOLD_TIMEOUT_SECONDS", "20")
    reset_caches()
    # Even routes that never read the hold timeout: a function whose code loads the setting
    # does not start half-configured (a function that never loads it, such as the identity
    # challenge, runs in a process of its own and is not concerned).
    unknown_session = "/api/sessions/00000000-0000-4000-8000-000000000000"
    for method, path, body in (
        ("POST", "/api/sessions", {"amount_sats": 1000}),
        ("GET", unknown_session, None),
    ):
        response = api.request(method, path, json=body)
        assert response.status_code == 500, (path, response.text)
        error = response.json()["error"]
        assert error["code"] == "configuration_error"
        assert "SESSION_HOLD_TIMEOUT_SECONDS" in error["message"]
    assert db().scalar("SELECT count(*) FROM sessions") == 0
    assert api.post("/api/identity/challenge").status_code == 200

    monkeypatch.setenv("SESSION_HOLD_TIMEOUT_SECONDS", "900")
    reset_caches()
    assert api.get(unknown_session).status_code == 404


def test_dev_stub_pay_with_lnbits_but_no_payer_key_is_a_named_configuration_error(
    api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LNBITS_URL", "https://lnbits.invalid")
    monkeypatch.setenv("LNBITS_API_KEY", "invoice-key")
    monkeypatch.delenv("LNBITS_DEV_PAYER_KEY", raising=False)
    reset_caches()
    response = api.post(f"/api/dev/stub/pay/{'ab' * 32}")
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "configuration_error"
    assert "LNBITS_DEV_PAYER_KEY" in error["message"]
    assert "invoice-key" not in response.text


def test_an_unreachable_lightning_backend_is_a_503_naming_no_provider(
    api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv("LNBITS_URL", f"http://127.0.0.1:{closed_port}")
    monkeypatch.setenv("LNBITS_API_KEY", "invoice-key")
    monkeypatch.setenv("LNBITS_DEV_PAYER_KEY", "payer-key")
    reset_caches()
    response = api.post("/api/sessions", json={"amount_sats": 1000})
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "lightning_unavailable"
    for leak in ("LNbits", "ConnectError", "reached", str(closed_port)):
        assert leak not in error["message"]
    assert db().scalar("SELECT count(*) FROM sessions") == 0
