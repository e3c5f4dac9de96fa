"""The Lightning webhook handler with the phoenixd backend: X-Phoenix-Signature is required and
verified, and a signed webhook is still only a hint confirmed by the incoming-payment lookup."""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fake_phoenixd import PASSWORD, FakePhoenixd

from timmy import payments, settings
from timmy.data import sessions
from timmy.db.connection import db, transaction
from timmy.lightning import backends
from timmy.lightning.phoenixd import PhoenixdBackend
from timmy.sessions.service import PURPOSE_DEPOSIT

SECRET = "whs-5f4e3d2c1b0a99887766554433221100"
ROOT = Path(__file__).resolve().parents[2]


class Context:
    function_name = "LightningWebhookFunction"
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:Test"
    function_version = "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def webhook_handler() -> Any:
    """The webhook function's handler, its module loaded by path (every function's is app.py)."""
    name = "phoenixd_lightning_webhook"
    path = ROOT / "functions" / "lightning_webhook" / "app.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # pydantic resolves the module's annotations through it
    spec.loader.exec_module(module)
    return module.handler


@pytest.fixture
def node(clean_db: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePhoenixd]:
    fake = FakePhoenixd(network="bcrt")
    client = httpx.Client(transport=httpx.MockTransport(fake.handler))
    phoenix = PhoenixdBackend("http://phoenixd.example", PASSWORD, client=client, network="bcrt")
    env = {
        "LIGHTNING_BACKEND": "phoenixd",
        "PHOENIXD_URL": "http://phoenixd.example",
        "PHOENIXD_PASSWORD": PASSWORD,
        "PHOENIXD_WEBHOOK_SECRET": SECRET,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings.reset()
    backends.reset()
    monkeypatch.setattr(payments, "backend", lambda: phoenix)
    yield fake
    monkeypatch.undo()
    settings.reset()
    backends.reset()


def deposit_session(amount_sats: int) -> tuple[str, str]:
    """A session waiting for its deposit: its id and the deposit's payment hash."""
    session_id = str(uuid.uuid4())
    created = payments.request_invoice(amount_sats, "deposit")
    with transaction() as tx:
        payments.record_invoice(tx, created, purpose=PURPOSE_DEPOSIT, owner_id=session_id)
        sessions.insert(
            tx,
            session_id=session_id,
            deposit_sats=amount_sats,
            deposit_payment_hash=created.payment_hash,
            nostr_pubkey=None,
        )
    return session_id, created.payment_hash


def post(body: bytes, signature: str | None) -> dict[str, Any]:
    sample = json.loads((ROOT / "events" / "LightningWebhookFunction.json").read_text())
    event = {**sample, "body": body.decode()}
    if signature is not None:
        event["headers"] = {**event["headers"], "x-phoenix-signature": signature}
    answer: dict[str, Any] = webhook_handler()(event, Context())
    return answer


def event_body(payment_hash: str) -> bytes:
    event = {"type": "payment_received", "amountSat": 500, "paymentHash": payment_hash}
    return json.dumps(event, indent=2).encode()


def sign(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def invoice_state(payment_hash: str) -> str:
    return str(db().scalar("SELECT state FROM invoices WHERE payment_hash = :h", h=payment_hash))


def test_a_signed_webhook_of_a_received_payment_confirms_it(node: FakePhoenixd) -> None:
    _, payment_hash = deposit_session(500)
    node.settle(payment_hash)
    body = event_body(payment_hash)

    answer = post(body, sign(body))

    assert answer["statusCode"] == 200
    assert json.loads(answer["body"]) == {"received": True, "paid": True}
    assert invoice_state(payment_hash) == "paid"
    assert node.requests[-1].url.path == f"/payments/incoming/{payment_hash}"


def test_a_signed_webhook_is_still_only_a_hint(node: FakePhoenixd) -> None:
    _, payment_hash = deposit_session(500)  # phoenixd has not received it
    body = event_body(payment_hash)

    answer = post(body, sign(body))

    assert json.loads(answer["body"]) == {"received": True, "paid": False}
    assert invoice_state(payment_hash) == "pending"


@pytest.mark.parametrize("signature", [None, "", "ab" * 32, sign(b"another body")])
def test_an_unsigned_or_forged_webhook_is_401_and_changes_nothing(
    node: FakePhoenixd, signature: str | None
) -> None:
    _, payment_hash = deposit_session(500)
    node.settle(payment_hash)
    seen = len(node.requests)

    answer = post(event_body(payment_hash), signature)

    assert answer["statusCode"] == 401
    assert json.loads(answer["body"])["error"]["code"] == "invalid_signature"
    assert invoice_state(payment_hash) == "pending"
    assert len(node.requests) == seen  # nothing was even looked up
