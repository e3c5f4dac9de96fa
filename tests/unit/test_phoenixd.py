"""The phoenixd backend against a fake phoenixd shaped like its real HTTP API, the backend
choice, and phoenixd's webhook signature."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
from fake_phoenixd import PASSWORD, FakePhoenixd, form_of
from pydantic import ValidationError

from timmy import settings
from timmy.lightning import backends, phoenixd
from timmy.lightning.bolt11 import decode_invoice, encode_invoice, new_preimage
from timmy.lightning.errors import (
    InvalidInvoice,
    InvalidWebhookSignature,
    LightningBadResponse,
    LightningUnavailable,
)
from timmy.lightning.phoenixd import PhoenixdBackend
from timmy.lightning.types import LightningBackend, PaymentState
from timmy.lightning.webhook import (
    check_webhook_signature,
    parse_webhook_body,
    phoenix_signature_valid,
)
from timmy.settings import CoreSettings

URL = "http://127.0.0.1:9740"
WEBHOOK_SECRET = "whs-0a1b2c3d4e5f60718293a4b5c6d7e8f9"
SLEPT: list[float] = []
RETRY = dataclasses.replace(phoenixd.RETRY, sleep=SLEPT.append)


@pytest.fixture
def fake() -> FakePhoenixd:
    return FakePhoenixd()


@pytest.fixture
def node(fake: FakePhoenixd) -> PhoenixdBackend:
    client = httpx.Client(transport=httpx.MockTransport(fake.handler))
    return PhoenixdBackend(URL + "/", PASSWORD, client=client, retry=RETRY)


def test_backend_satisfies_the_protocol(node: PhoenixdBackend) -> None:
    satisfied: LightningBackend = node
    assert (satisfied.mode, satisfied.network) == ("phoenixd", "bc")
    assert PASSWORD not in repr(node)


# ------------------------------------------------------------------------ create


def test_create_posts_a_form_with_basic_auth_and_always_the_expiry(
    node: PhoenixdBackend, fake: FakePhoenixd
) -> None:
    created = node.create_invoice(2_100, "job eval", 600, "https://timmy.example/api/webhooks/x")

    request = fake.requests[-1]
    assert (request.method, request.url.path) == ("POST", "/createinvoice")
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert form_of(request) == {
        "description": "job eval",
        "amountSat": "2100",
        "expirySeconds": "600",
        "webhookUrl": "https://timmy.example/api/webhooks/x",
    }
    decoded = decode_invoice(created.payment_request)
    assert (created.payment_hash, created.amount_sats) == (decoded.payment_hash, 2_100)
    assert created.expires_at == decoded.expires_at
    assert abs((decoded.expires_at - decoded.created_at).total_seconds() - 600) < 1


def test_create_without_a_webhook_sends_none(node: PhoenixdBackend, fake: FakePhoenixd) -> None:
    node.create_invoice(10, "x", 60)
    assert "webhookUrl" not in form_of(fake.requests[-1])


def test_create_shortens_a_memo_phoenixd_would_refuse(
    node: PhoenixdBackend, fake: FakePhoenixd
) -> None:
    node.create_invoice(10, "m" * 300, 60)
    assert form_of(fake.requests[-1])["description"] == "m" * 128


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        ({"paymentHash": "00" * 32}, "different payment hash"),
        ({"amountSat": 11}, "different amount"),
        ({"serialized": "lnbc1garbage"}, "does not decode"),
        ({"paymentHash": None}, "valid payment hash"),
    ],
)
def test_create_rejects_an_invoice_that_is_not_what_was_asked(
    node: PhoenixdBackend, fake: FakePhoenixd, tamper: dict[str, object], message: str
) -> None:
    real = fake._create({"description": "x", "amountSat": "10", "expirySeconds": "60"})
    fake.override["/createinvoice"] = httpx.Response(200, json={**real.json(), **tamper})
    with pytest.raises(LightningBadResponse, match=message):
        node.create_invoice(10, "x", 60)


def test_create_maps_the_wrong_password_and_outages_to_unavailable(fake: FakePhoenixd) -> None:
    client = httpx.Client(transport=httpx.MockTransport(fake.handler))
    wrong = PhoenixdBackend(URL, "not-the-password", client=client, retry=RETRY)
    with pytest.raises(LightningUnavailable, match="password"):
        wrong.create_invoice(10, "x", 60)
    fake.override["/createinvoice"] = httpx.Response(503, text="starting")
    with pytest.raises(LightningUnavailable):
        PhoenixdBackend(URL, PASSWORD, client=client, retry=RETRY).create_invoice(10, "x", 60)


def test_a_refused_create_logs_phoenixd_reason_without_the_password(
    node: PhoenixdBackend, fake: FakePhoenixd, caplog: pytest.LogCaptureFixture
) -> None:
    fake.override["/createinvoice"] = httpx.Response(400, text=f"bad amountSat ({PASSWORD})")
    with pytest.raises(LightningBadResponse) as caught:
        node.create_invoice(10, "x", 60)
    assert "bad amountSat" in str(caught.value.args)
    assert PASSWORD not in str(caught.value.args) + caplog.text


@pytest.mark.parametrize(("amount", "memo", "expiry"), [(0, "x", 60), (True, "x", 60), (1, "x", 0)])
def test_create_rejects_bad_arguments_without_calling_phoenixd(
    node: PhoenixdBackend, fake: FakePhoenixd, amount: int, memo: str, expiry: int
) -> None:
    with pytest.raises(ValueError, match="must be a positive integer"):
        node.create_invoice(amount, memo, expiry)
    assert fake.requests == []


# ------------------------------------------------------------------------- check


def test_an_unpaid_invoice_is_not_paid_although_phoenixd_shows_its_preimage(
    node: PhoenixdBackend,
) -> None:
    created = node.create_invoice(10, "x", 60)
    status = node.check(created.payment_hash)
    assert (status.paid, status.preimage) == (False, None)


def test_a_received_invoice_is_paid_with_its_verified_preimage(
    node: PhoenixdBackend, fake: FakePhoenixd
) -> None:
    created = node.create_invoice(10, "x", 60)
    fake.settle(created.payment_hash)

    status = node.check(created.payment_hash.upper())

    assert status.paid is True
    assert status.preimage == fake.incoming[created.payment_hash]["preimage"]
    assert fake.requests[-1].url.path == f"/payments/incoming/{created.payment_hash}"


def test_paid_with_a_wrong_preimage_is_paid_without_one(
    node: PhoenixdBackend, fake: FakePhoenixd
) -> None:
    created = node.create_invoice(10, "x", 60)
    fake.settle(created.payment_hash)
    fake.incoming[created.payment_hash]["preimage"] = "00" * 32
    assert node.check(created.payment_hash).preimage is None


@pytest.mark.parametrize("is_paid", ["true", 1, None])
def test_only_a_json_true_means_paid(
    node: PhoenixdBackend, fake: FakePhoenixd, is_paid: object
) -> None:
    created = node.create_invoice(10, "x", 60)
    fake.incoming[created.payment_hash]["isPaid"] = is_paid
    assert node.check(created.payment_hash).paid is False


def test_paid_with_less_than_requested_is_not_paid(
    node: PhoenixdBackend, fake: FakePhoenixd
) -> None:
    created = node.create_invoice(10, "x", 60)
    fake.settle(created.payment_hash)
    fake.incoming[created.payment_hash]["receivedSat"] = 9
    assert node.check(created.payment_hash).paid is False


def test_an_unknown_hash_is_not_paid_and_a_malformed_one_is_never_sent(
    node: PhoenixdBackend, fake: FakePhoenixd
) -> None:
    assert node.check("ab" * 32).paid is False
    sent = len(fake.requests)
    with pytest.raises(InvalidInvoice):
        node.check("../getbalance")
    assert len(fake.requests) == sent


def test_check_maps_outages_to_unavailable_after_a_retry(
    node: PhoenixdBackend, fake: FakePhoenixd
) -> None:
    fake.override["/payments/incoming/"] = httpx.Response(500, text="boom")
    with pytest.raises(LightningUnavailable):
        node.check("ab" * 32)
    assert len(fake.requests) == 2  # a GET is retried once


# --------------------------------------------------------------------------- pay


def test_pay_sends_only_the_invoice_and_returns_proof_and_the_exact_fee(
    node: PhoenixdBackend, fake: FakePhoenixd
) -> None:
    bolt11 = fake.customer_invoice(500)
    payment_hash = decode_invoice(bolt11).payment_hash

    result = node.pay(bolt11.upper())

    pay_request = next(r for r in fake.requests if r.url.path == "/payinvoice")
    assert form_of(pay_request) == {"invoice": bolt11}  # never amountSat: it would override
    assert result.state == PaymentState.PAID
    assert result.preimage == fake.customer_preimages[payment_hash]
    # routingFeeSat says 1 (truncated); the record's 1,500 msat rounds up to 2.
    assert result.fee_sats == 2


def test_pay_falls_back_to_routing_fee_sat_when_the_record_cannot_be_read(
    node: PhoenixdBackend, fake: FakePhoenixd
) -> None:
    fake.pay_fee_msat = 3_000
    fake.override["/payments/outgoingbyhash/"] = httpx.Response(503)
    result = node.pay(fake.customer_invoice(500))
    assert (result.state, result.fee_sats) == (PaymentState.PAID, 3)


def test_http_200_with_a_reason_is_a_failed_payment(
    node: PhoenixdBackend, fake: FakePhoenixd, caplog: pytest.LogCaptureFixture
) -> None:
    # The peer's bug: it read this 200 as paid.
    fake.pay_outcome = "failed"
    with caplog.at_level(logging.WARNING):
        result = node.pay(fake.customer_invoice(500))
    assert (result.state, result.preimage, result.fee_sats) == (PaymentState.FAILED, None, None)
    assert "unreachable" in caplog.text


def test_a_reason_for_a_hash_the_node_already_paid_is_paid(
    node: PhoenixdBackend, fake: FakePhoenixd
) -> None:
    bolt11 = fake.customer_invoice(500)
    assert node.pay(bolt11).state == PaymentState.PAID
    payment_hash = decode_invoice(bolt11).payment_hash
    fake.override["/payinvoice"] = httpx.Response(
        200, json={"paymentHash": payment_hash, "reason": "this invoice has already been paid"}
    )
    assert node.pay(bolt11).state == PaymentState.PAID


def test_a_reason_whose_confirmation_cannot_be_had_is_pending(
    node: PhoenixdBackend, fake: FakePhoenixd
) -> None:
    fake.pay_outcome = "failed"
    fake.override["/payments/outgoingbyhash/"] = httpx.ReadTimeout("slow")
    assert node.pay(fake.customer_invoice(500)).state == PaymentState.PENDING


def test_connection_refused_before_sending_is_a_definite_failure(
    node: PhoenixdBackend, fake: FakePhoenixd
) -> None:
    fake.pay_outcome = "refused"
    result = node.pay(fake.customer_invoice(500))
    assert result.state == PaymentState.FAILED
    assert sum(r.url.path == "/payinvoice" for r in fake.requests) == 2  # nothing sent: retried


def test_a_timeout_after_sending_is_pending_then_check_payment_finds_it_paid(
    node: PhoenixdBackend, fake: FakePhoenixd
) -> None:
    fake.pay_outcome = "timeout"
    bolt11 = fake.customer_invoice(500)
    payment_hash = decode_invoice(bolt11).payment_hash

    result = node.pay(bolt11)

    assert result.state == PaymentState.PENDING
    assert sum(r.url.path == "/payinvoice" for r in fake.requests) == 1  # never repeated
    later = node.check_payment(payment_hash)
    assert (later.state, later.fee_sats) == (PaymentState.PAID, 2)
    assert later.preimage == fake.customer_preimages[payment_hash]


def test_a_5xx_is_pending_and_not_repeated(node: PhoenixdBackend, fake: FakePhoenixd) -> None:
    fake.pay_outcome = "500"
    assert node.pay(fake.customer_invoice(500)).state == PaymentState.PENDING
    assert sum(r.url.path == "/payinvoice" for r in fake.requests) == 1


def test_a_refusal_of_the_request_is_a_failure(fake: FakePhoenixd) -> None:
    client = httpx.Client(transport=httpx.MockTransport(fake.handler))
    wrong = PhoenixdBackend(URL, "not-the-password", client=client, retry=RETRY)
    assert wrong.pay(fake.customer_invoice(500)).state == PaymentState.FAILED


def test_a_success_body_without_proof_is_believed_only_from_the_record(
    node: PhoenixdBackend, fake: FakePhoenixd
) -> None:
    bolt11 = fake.customer_invoice(500)
    payment_hash = decode_invoice(bolt11).payment_hash
    forged = {
        "recipientAmountSat": 500,
        "routingFeeSat": 0,
        "paymentId": "x",
        "paymentHash": payment_hash,
        "paymentPreimage": "00" * 32,
    }
    fake.override["/payinvoice"] = httpx.Response(200, json=forged)
    assert node.pay(bolt11).state == PaymentState.PENDING


def test_pay_checks_the_invoice_locally_first(node: PhoenixdBackend, fake: FakePhoenixd) -> None:
    with pytest.raises(InvalidInvoice):
        node.pay("lnbc1notaninvoice")
    with pytest.raises(InvalidInvoice, match="expired"):
        node.pay(_expired())
    assert fake.requests == []


def _expired() -> str:
    _, payment_hash = new_preimage()
    return encode_invoice(
        payment_hash=bytes.fromhex(payment_hash),
        amount_sats=5,
        description="old",
        expiry=1,
        signing_key=bytes.fromhex("4b" * 32),
        timestamp=1_600_000_000,
    )


# ---------------------------------------------------------------- check_payment


def test_check_payment_of_a_hash_phoenixd_never_recorded_is_unknown(node: PhoenixdBackend) -> None:
    assert node.check_payment("cd" * 32).state == PaymentState.UNKNOWN


def test_check_payment_of_a_failed_payment_is_failed(
    node: PhoenixdBackend, fake: FakePhoenixd
) -> None:
    fake.pay_outcome = "failed"
    bolt11 = fake.customer_invoice(500)
    node.pay(bolt11)
    assert node.check_payment(decode_invoice(bolt11).payment_hash).state == PaymentState.FAILED


def test_check_payment_in_flight_is_pending(node: PhoenixdBackend, fake: FakePhoenixd) -> None:
    fake.pay_outcome = "failed"
    bolt11 = fake.customer_invoice(500)
    node.pay(bolt11)
    payment_hash = decode_invoice(bolt11).payment_hash
    fake.outgoing[payment_hash]["completedAt"] = None
    assert node.check_payment(payment_hash).state == PaymentState.PENDING


def test_a_paid_mark_without_a_preimage_is_not_paid(
    node: PhoenixdBackend, fake: FakePhoenixd
) -> None:
    # Older phoenixd set isPaid on every completed payment, failed ones included.
    fake.pay_outcome = "failed"
    bolt11 = fake.customer_invoice(500)
    node.pay(bolt11)
    payment_hash = decode_invoice(bolt11).payment_hash
    fake.outgoing[payment_hash]["isPaid"] = True
    assert node.check_payment(payment_hash).state == PaymentState.FAILED


# --------------------------------------------------------------------- reachable


def test_reachable_asks_getinfo_once(node: PhoenixdBackend, fake: FakePhoenixd) -> None:
    assert node.reachable(1.0) is True
    assert fake.requests[-1].url.path == "/getinfo"
    fake.override["/getinfo"] = httpx.ConnectError("refused")
    assert node.reachable(1.0) is False
    fake.override["/getinfo"] = httpx.Response(401)
    assert node.reachable(1.0) is False


@pytest.mark.parametrize(("url", "password"), [("ftp://x", PASSWORD), (URL, "")])
def test_bad_construction_is_refused(url: str, password: str) -> None:
    with pytest.raises(ValueError, match="phoenixd"):
        PhoenixdBackend(url, password)


# ----------------------------------------------------------------- the choice


PHOENIXD_ENV = {
    "LIGHTNING_BACKEND": "phoenixd",
    "PHOENIXD_URL": URL,
    "PHOENIXD_PASSWORD": PASSWORD,
    "PHOENIXD_WEBHOOK_SECRET": WEBHOOK_SECRET,
}
LNBITS_ENV = {"LNBITS_URL": "https://ln.example", "LNBITS_API_KEY": "k"}


@pytest.mark.parametrize(
    ("env", "mode"),
    [
        ({}, "stub"),
        (LNBITS_ENV, "lnbits"),
        ({**LNBITS_ENV, "LIGHTNING_BACKEND": "stub"}, "stub"),
        ({**LNBITS_ENV, "LIGHTNING_BACKEND": "lnbits"}, "lnbits"),
        ({**LNBITS_ENV, **PHOENIXD_ENV}, "phoenixd"),
    ],
)
def test_lightning_backend_chooses_and_defaults_to_the_old_rule(
    env: dict[str, str], mode: str
) -> None:
    assert CoreSettings.from_env(env).lightning_mode == mode


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"LIGHTNING_BACKEND": "lnbits"}, "LNBITS_URL"),
        ({**PHOENIXD_ENV, "PHOENIXD_URL": ""}, "PHOENIXD_URL"),
        ({**PHOENIXD_ENV, "PHOENIXD_PASSWORD": ""}, "PHOENIXD_PASSWORD"),
        ({**PHOENIXD_ENV, "PHOENIXD_WEBHOOK_SECRET": ""}, "PHOENIXD_WEBHOOK_SECRET"),
        ({**PHOENIXD_ENV, "PHOENIXD_URL": "http://user:pw@node"}, "phoenixd_url"),
        ({"LIGHTNING_BACKEND": "lnd"}, "lightning_backend"),
    ],
)
def test_the_chosen_backend_must_be_configured(env: dict[str, str], named: str) -> None:
    with pytest.raises(ValidationError) as caught:
        CoreSettings.from_env(env)
    assert named in str(caught.value)
    for secret in (PASSWORD, WEBHOOK_SECRET):
        assert secret not in str(caught.value)


@pytest.fixture
def phoenixd_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in PHOENIXD_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LIGHTNING_NETWORK", "tb")
    settings.reset()
    backends.reset()
    yield
    monkeypatch.undo()
    settings.reset()
    backends.reset()


@pytest.mark.usefixtures("phoenixd_env")
def test_backends_builds_phoenixd_when_chosen() -> None:
    built = backends.backend()
    assert isinstance(built, PhoenixdBackend)
    assert (built.mode, built.network) == ("phoenixd", "tb")


# --------------------------------------------------------------------- webhooks

# phoenixd's PaymentReceived event, as its webhook posts it.
EVENT = json.dumps(
    {
        "type": "payment_received",
        "timestamp": 1_700_000_000_000,
        "amountSat": 2_100,
        "paymentHash": "ab" * 32,
        "externalId": None,
    },
    indent=2,
).encode()


def signature(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_phoenixd_webhook_names_its_payment_hash() -> None:
    assert parse_webhook_body(EVENT) == "ab" * 32


def test_a_signature_is_valid_only_for_its_body_and_secret() -> None:
    good = signature(EVENT)
    assert phoenix_signature_valid(EVENT, good, WEBHOOK_SECRET) is True
    assert phoenix_signature_valid(EVENT, good.upper(), WEBHOOK_SECRET) is True
    assert phoenix_signature_valid(EVENT + b" ", good, WEBHOOK_SECRET) is False
    assert phoenix_signature_valid(EVENT, signature(EVENT, "other"), WEBHOOK_SECRET) is False
    assert phoenix_signature_valid(EVENT, None, WEBHOOK_SECRET) is False
    assert phoenix_signature_valid(EVENT, good, "") is False


@pytest.mark.usefixtures("phoenixd_env")
def test_with_phoenixd_an_unsigned_or_forged_webhook_is_refused() -> None:
    check_webhook_signature(EVENT, {"X-Phoenix-Signature": signature(EVENT)})
    check_webhook_signature(EVENT.decode(), {"x-phoenix-signature": signature(EVENT)})
    for headers in ({}, {"x-phoenix-signature": signature(EVENT, "guess")}, None):
        with pytest.raises(InvalidWebhookSignature) as caught:
            check_webhook_signature(EVENT, headers)
        assert (caught.value.status, caught.value.code) == (401, "invalid_signature")


def test_other_backends_do_not_sign_their_webhooks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIGHTNING_BACKEND", raising=False)
    settings.reset()
    try:
        check_webhook_signature(EVENT, {})  # the stub: no signature to check
    finally:
        settings.reset()


def test_a_400_refusal_is_a_failure_once_the_record_shows_no_payment(
    node: PhoenixdBackend, fake: FakePhoenixd
) -> None:
    fake.override["/payinvoice"] = httpx.Response(400, text="Invalid parameter invoice")
    assert node.pay(fake.customer_invoice(500)).state == PaymentState.FAILED
    assert fake.requests[-1].url.path.startswith("/payments/outgoingbyhash/")
