"""The LNbits backend against a fake LNbits shaped like the real REST API."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from timmy.lightning import lnbits
from timmy.lightning.bolt11 import decode_invoice, encode_invoice, new_preimage
from timmy.lightning.errors import InvalidInvoice, LightningBadResponse, LightningUnavailable
from timmy.lightning.lnbits import LNbitsBackend
from timmy.lightning.types import (
    CreatedInvoice,
    InvoiceStatus,
    LightningBackend,
    PaymentResult,
    PaymentState,
)
from timmy.lightning.webhook import parse_webhook_body

URL = "https://lnbits.example"
INVOICE_KEY = "inv-0f1e2d3c4b5a69788796a5b4c3d2e1f0"
ADMIN_KEY = "adm-a1b2c3d4e5f60718293a4b5c6d7e8f90"
NODE_KEY = bytes.fromhex("5e" * 32)
SLEPT: list[float] = []
# The backend's own policy, its waits recorded instead of slept.
RETRY = dataclasses.replace(lnbits.RETRY, sleep=SLEPT.append)
CUSTOMER_NODE_KEY = bytes.fromhex("3c" * 32)


@dataclass
class FakeLNbits:
    """One LNbits wallet: its invoices, its outgoing payments and every request it saw."""

    requests: list[httpx.Request] = field(default_factory=list)
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Set by a test to replace the normal answer to the next matching call.
    override: dict[tuple[str, str], httpx.Response | Exception] = field(default_factory=dict)
    pay_outcome: str = "success"  # success | pending | failed
    pay_fee_msat: int = 0  # the routing fee of a successful payment
    create_tamper: dict[str, Any] = field(default_factory=dict)
    # Preimages of the invoices "other nodes" issued, released when the wallet pays them.
    customer_preimages: dict[str, str] = field(default_factory=dict)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        kind = "GET" if request.method == "GET" else self._post_kind(request)
        replacement = self.override.get((request.method, kind))
        if isinstance(replacement, Exception):
            raise replacement
        if replacement is not None:
            return replacement
        key = request.headers.get("X-Api-Key")
        if key not in (INVOICE_KEY, ADMIN_KEY):
            return httpx.Response(401, json={"detail": "Invalid key."})
        if request.method == "GET" and request.url.path.startswith("/api/v1/payments/"):
            return self._check(request.url.path.rsplit("/", 1)[1])
        if request.method == "POST" and request.url.path == "/api/v1/payments":
            body = json.loads(request.content)
            if body.get("out", True):  # LNbits' default is to pay
                if key != ADMIN_KEY:
                    return httpx.Response(403, json={"detail": "Invoice (or Admin) key required."})
                return self._pay(body["bolt11"])
            return self._create(body)
        return httpx.Response(404, json={"detail": "Not Found"})

    @staticmethod
    def _post_kind(request: httpx.Request) -> str:
        try:
            return "pay" if json.loads(request.content).get("out", True) else "create"
        except ValueError:
            return "?"

    def _create(self, body: dict[str, Any]) -> httpx.Response:
        preimage, payment_hash = new_preimage()
        bolt11 = encode_invoice(
            payment_hash=bytes.fromhex(payment_hash),
            amount_sats=body["amount"],
            description=body["memo"],
            expiry=body["expiry"],
            signing_key=NODE_KEY,
        )
        payment = {
            "checking_id": payment_hash,
            "payment_hash": payment_hash,
            "wallet_id": "w1",
            "amount": body["amount"] * 1000,
            "fee": 0,
            "bolt11": bolt11,
            "payment_request": bolt11,
            "status": "pending",
            "memo": body["memo"],
            "expiry": datetime.fromtimestamp(time.time() + body["expiry"], UTC).isoformat(),
            "webhook": body.get("webhook"),
            "preimage": preimage,  # LNbits really does return it before payment
        }
        payment.update(self.create_tamper)
        self.payments[payment_hash] = payment
        return httpx.Response(201, json=payment)

    def _check(self, payment_hash: str) -> httpx.Response:
        payment = self.payments.get(payment_hash)
        if payment is None:
            return httpx.Response(404, json={"detail": "Payment does not exist."})
        if payment["status"] == "success":
            return httpx.Response(
                200, json={"paid": True, "preimage": payment["preimage"], "details": payment}
            )
        if payment["status"] == "failed":
            return httpx.Response(200, json={"paid": False, "status": "failed", "details": payment})
        return httpx.Response(
            200,
            json={
                "paid": False,
                "status": "pending",
                "preimage": payment["preimage"],
                "details": payment,
            },
        )

    def _pay(self, bolt11: str) -> httpx.Response:
        decoded = decode_invoice(bolt11)
        preimage = self.customer_preimages.get(decoded.payment_hash)
        payment = {
            "checking_id": decoded.payment_hash,
            "payment_hash": decoded.payment_hash,
            "amount": -(decoded.amount_msat or 0),
            # LNbits stores an outgoing payment's fee negative, in msat.
            "fee": -self.pay_fee_msat if self.pay_outcome == "success" else 0,
            "bolt11": bolt11,
            "status": self.pay_outcome,
            "preimage": preimage if self.pay_outcome == "success" else None,
        }
        # LNbits records the payment before sending it, and keeps it when it fails.
        self.payments[decoded.payment_hash] = payment
        if self.pay_outcome == "failed":
            return httpx.Response(
                520, json={"detail": "Payment failed: no route (secret detail)", "status": "failed"}
            )
        return httpx.Response(201, json=payment)

    def customer_invoice(self, amount_sats: int = 500, expiry: int = 600) -> str:
        """An invoice from another node that the wallet can pay (its preimage known here)."""
        preimage, payment_hash = new_preimage()
        self.customer_preimages[payment_hash] = preimage
        return encode_invoice(
            payment_hash=bytes.fromhex(payment_hash),
            amount_sats=amount_sats,
            description="refund",
            expiry=expiry,
            signing_key=CUSTOMER_NODE_KEY,
        )

    def settle(self, payment_hash: str) -> None:
        self.payments[payment_hash]["status"] = "success"


@pytest.fixture
def fake() -> FakeLNbits:
    return FakeLNbits()


@pytest.fixture
def backend(fake: FakeLNbits) -> LNbitsBackend:
    client = httpx.Client(transport=httpx.MockTransport(fake.handler))
    return LNbitsBackend(URL + "/", INVOICE_KEY, ADMIN_KEY, client=client, retry=RETRY)


def _body(request: httpx.Request) -> dict[str, Any]:
    body = json.loads(request.content)
    assert isinstance(body, dict)
    return body


def _assert_no_secrets(error: Exception) -> None:
    text = str(error) + repr(error)
    for secret in (INVOICE_KEY, ADMIN_KEY, "secret detail", "Invalid key"):
        assert secret not in text


# -- create --------------------------------------------------------------------------------


def test_create_posts_an_incoming_invoice_with_the_invoice_key(
    backend: LNbitsBackend, fake: FakeLNbits
) -> None:
    created = backend.create_invoice(2100, "job 42", 900, "https://api.example/hooks/lnbits")

    (request,) = fake.requests
    assert request.method == "POST"
    assert str(request.url) == f"{URL}/api/v1/payments"
    assert request.headers["X-Api-Key"] == INVOICE_KEY
    assert _body(request) == {
        "out": False,
        "amount": 2100,
        "unit": "sat",
        "memo": "job 42",
        "expiry": 900,
        "webhook": "https://api.example/hooks/lnbits",
    }
    decoded = decode_invoice(created.payment_request)
    assert created == CreatedInvoice(
        payment_hash=decoded.payment_hash,
        payment_request=fake.payments[decoded.payment_hash]["bolt11"],
        amount_sats=2100,
        expires_at=decoded.expires_at,
    )
    assert created.expires_at.tzinfo is not None


def test_create_omits_the_webhook_when_there_is_none(
    backend: LNbitsBackend, fake: FakeLNbits
) -> None:
    backend.create_invoice(10, "no hook", 600, None)

    body = _body(fake.requests[0])
    assert "webhook" not in body
    assert body["out"] is False


def test_create_accepts_a_response_with_only_bolt11(
    backend: LNbitsBackend, fake: FakeLNbits
) -> None:
    # Older LNbits releases return the invoice only as "bolt11".
    fake.create_tamper = {"payment_request": None}

    created = backend.create_invoice(10, "old lnbits", 600)

    assert decode_invoice(created.payment_request).payment_hash == created.payment_hash


@pytest.mark.parametrize(
    "tamper",
    [
        {"payment_hash": "ab" * 32},  # the hash does not match the invoice
        {"payment_hash": "not-a-hash"},
        {"payment_hash": None},
        {"payment_request": "lnbc1garbage", "bolt11": "lnbc1garbage"},
        {"payment_request": None, "bolt11": None},
    ],
)
def test_create_rejects_an_invoice_that_does_not_match_what_lnbits_claims(
    backend: LNbitsBackend, fake: FakeLNbits, tamper: dict[str, Any]
) -> None:
    fake.create_tamper = tamper

    with pytest.raises(LightningBadResponse):
        backend.create_invoice(10, "x", 600)


def test_create_rejects_an_invoice_for_another_amount(
    backend: LNbitsBackend, fake: FakeLNbits
) -> None:
    # Given LNbits returns a genuine invoice, but for 11 sats instead of 10
    _, payment_hash = new_preimage()
    other = encode_invoice(
        payment_hash=bytes.fromhex(payment_hash),
        amount_sats=11,
        description="x",
        expiry=600,
        signing_key=NODE_KEY,
    )
    fake.create_tamper = {"payment_hash": payment_hash, "payment_request": other, "bolt11": other}

    with pytest.raises(LightningBadResponse, match="amount"):
        backend.create_invoice(10, "x", 600)


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500, json={"detail": "secret detail"}),
        httpx.Response(502, text="Bad Gateway"),
        httpx.Response(520, json={"detail": "secret detail", "status": "pending"}),
        httpx.ReadTimeout("timed out"),
        httpx.ConnectError("connection refused"),
        httpx.Response(401, json={"detail": "Invalid key."}),
    ],
)
def test_create_maps_outages_to_lightning_unavailable(
    backend: LNbitsBackend, fake: FakeLNbits, failure: httpx.Response | Exception
) -> None:
    fake.override[("POST", "create")] = failure

    with pytest.raises(LightningUnavailable) as caught:
        backend.create_invoice(10, "x", 600)

    assert caught.value.status == 503
    assert caught.value.code == "lightning_unavailable"
    _assert_no_secrets(caught.value)


@pytest.mark.parametrize(
    "nonsense",
    [
        httpx.Response(201, text="<html>not json</html>"),
        httpx.Response(302, headers={"Location": "https://elsewhere.example/"}),
    ],
)
def test_create_maps_nonsense_to_bad_response(
    backend: LNbitsBackend, fake: FakeLNbits, nonsense: httpx.Response
) -> None:
    fake.override[("POST", "create")] = nonsense

    with pytest.raises(LightningBadResponse) as caught:
        backend.create_invoice(10, "x", 600)

    assert caught.value.status == 502
    _assert_no_secrets(caught.value)


@pytest.mark.parametrize(
    ("refusal", "reason"),
    [
        (
            httpx.Response(520, json={"detail": "Invoice amount too big.", "status": "failed"}),
            "(HTTP 520): Invoice amount too big.",
        ),
        (
            httpx.Response(400, json={"detail": "Webhook URL not allowed."}),
            "(HTTP 400): Webhook URL not allowed.",
        ),
        (
            httpx.Response(
                422, json={"detail": [{"loc": ["body", "amount"], "msg": "must be > 0"}]}
            ),
            "(HTTP 422): must be > 0",
        ),
        (httpx.Response(400, text="plain"), "(HTTP 400)"),
    ],
)
def test_a_refused_create_logs_lnbits_own_reason_but_tells_the_caller_nothing(
    backend: LNbitsBackend, fake: FakeLNbits, refusal: httpx.Response, reason: str
) -> None:
    fake.override[("POST", "create")] = refusal

    with pytest.raises(LightningBadResponse) as caught:
        backend.create_invoice(10, "x", 600)

    # The logged message says why; the caller's sentence stays generic (a 502).
    assert caught.value.message == f"LNbits refused to create the invoice {reason}"
    assert caught.value.status == 502
    assert "LNbits" not in caught.value.public_message
    assert len([r for r in fake.requests if r.method == "POST"]) == 1  # a refusal is final


def test_a_refusal_that_echoes_a_key_is_redacted(backend: LNbitsBackend, fake: FakeLNbits) -> None:
    fake.override[("POST", "create")] = httpx.Response(
        400, json={"detail": f"bad key {INVOICE_KEY} or {ADMIN_KEY}"}
    )

    with pytest.raises(LightningBadResponse) as caught:
        backend.create_invoice(10, "x", 600)

    assert caught.value.message.endswith("bad key *** or ***")
    _assert_no_secrets(caught.value)


@pytest.mark.parametrize(
    ("amount", "memo", "expiry", "webhook"),
    [
        (0, "x", 600, None),
        (True, "x", 600, None),
        (10, "x" * 640, 600, None),
        (10, "x", 0, None),
        (10, "x", 600, "ftp://hooks.example"),
    ],
)
def test_create_rejects_bad_arguments_without_calling_lnbits(
    backend: LNbitsBackend,
    fake: FakeLNbits,
    amount: int,
    memo: str,
    expiry: int,
    webhook: str | None,
) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        backend.create_invoice(amount, memo, expiry, webhook)

    assert fake.requests == []


# -- check ---------------------------------------------------------------------------------


def test_pending_invoice_is_not_paid_even_though_lnbits_shows_its_preimage(
    backend: LNbitsBackend, fake: FakeLNbits
) -> None:
    created = backend.create_invoice(10, "x", 600)

    status = backend.check(created.payment_hash)

    request = fake.requests[-1]
    assert request.method == "GET"
    assert request.url.path == f"/api/v1/payments/{created.payment_hash}"
    assert request.headers["X-Api-Key"] == INVOICE_KEY
    assert status == InvoiceStatus(paid=False, preimage=None)


def test_settled_invoice_is_paid_with_its_verified_preimage(
    backend: LNbitsBackend, fake: FakeLNbits
) -> None:
    created = backend.create_invoice(10, "x", 600)
    fake.settle(created.payment_hash)

    status = backend.check(created.payment_hash)

    preimage = fake.payments[created.payment_hash]["preimage"]
    assert status == InvoiceStatus(paid=True, preimage=preimage)
    assert hashlib.sha256(bytes.fromhex(preimage)).hexdigest() == created.payment_hash


def test_paid_with_a_wrong_preimage_is_paid_without_a_preimage(
    backend: LNbitsBackend, fake: FakeLNbits
) -> None:
    created = backend.create_invoice(10, "x", 600)
    fake.override[("GET", "GET")] = httpx.Response(200, json={"paid": True, "preimage": "00" * 32})

    assert backend.check(created.payment_hash) == InvoiceStatus(paid=True, preimage=None)


@pytest.mark.parametrize("paid", ["true", 1, "yes", None])
def test_only_a_json_true_means_paid(
    backend: LNbitsBackend, fake: FakeLNbits, paid: object
) -> None:
    preimage, payment_hash = new_preimage()
    fake.override[("GET", "GET")] = httpx.Response(200, json={"paid": paid, "preimage": preimage})

    assert backend.check(payment_hash) == InvoiceStatus(paid=False, preimage=None)


def test_unknown_payment_hash_is_not_paid(backend: LNbitsBackend, fake: FakeLNbits) -> None:
    _, payment_hash = new_preimage()

    assert backend.check(payment_hash) == InvoiceStatus(paid=False, preimage=None)
    assert fake.requests[-1].url.path == f"/api/v1/payments/{payment_hash}"


def test_check_normalises_an_upper_case_hash(backend: LNbitsBackend, fake: FakeLNbits) -> None:
    created = backend.create_invoice(10, "x", 600)
    fake.settle(created.payment_hash)

    assert backend.check(created.payment_hash.upper()).paid is True
    assert fake.requests[-1].url.path == f"/api/v1/payments/{created.payment_hash}"


@pytest.mark.parametrize(
    "bad_hash", ["", "abc", "../wallet", "g" * 64, "a" * 63, "a" * 65, "a" * 32 + "/" + "a" * 31]
)
def test_check_rejects_malformed_hashes_without_calling_lnbits(
    backend: LNbitsBackend, fake: FakeLNbits, bad_hash: str
) -> None:
    with pytest.raises(InvalidInvoice):
        backend.check(bad_hash)

    assert fake.requests == []


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500, json={"detail": "secret detail"}),
        httpx.Response(503, text="maintenance"),
        httpx.ReadTimeout("timed out"),
        httpx.ConnectError("refused"),
        httpx.Response(401, json={"detail": "Invalid key."}),
    ],
)
def test_check_maps_outages_to_lightning_unavailable(
    backend: LNbitsBackend, fake: FakeLNbits, failure: httpx.Response | Exception
) -> None:
    _, payment_hash = new_preimage()
    fake.override[("GET", "GET")] = failure

    with pytest.raises(LightningUnavailable) as caught:
        backend.check(payment_hash)

    _assert_no_secrets(caught.value)


# -- pay -----------------------------------------------------------------------------------


def test_pay_uses_the_admin_key_and_returns_the_verified_preimage_and_fee(
    backend: LNbitsBackend, fake: FakeLNbits
) -> None:
    fake.pay_fee_msat = 1_500  # 1.5 sats: charged as 2
    invoice = fake.customer_invoice()
    payment_hash = decode_invoice(invoice).payment_hash

    result = backend.pay(invoice)

    (request,) = fake.requests
    assert request.method == "POST"
    assert request.url.path == "/api/v1/payments"
    assert request.headers["X-Api-Key"] == ADMIN_KEY
    assert _body(request) == {"out": True, "bolt11": invoice}
    assert result == PaymentResult(
        payment_hash=payment_hash,
        state=PaymentState.PAID,
        preimage=fake.customer_preimages[payment_hash],
        fee_sats=2,
    )


def test_pay_sends_the_bare_lower_case_invoice(backend: LNbitsBackend, fake: FakeLNbits) -> None:
    invoice = fake.customer_invoice()

    backend.pay("LIGHTNING:" + invoice.upper())

    assert _body(fake.requests[0])["bolt11"] == invoice


def test_pay_still_in_flight_is_pending(backend: LNbitsBackend, fake: FakeLNbits) -> None:
    fake.pay_outcome = "pending"
    invoice = fake.customer_invoice()

    result = backend.pay(invoice)

    assert result == PaymentResult(decode_invoice(invoice).payment_hash, PaymentState.PENDING)


def test_pay_ignores_a_preimage_that_does_not_match(
    backend: LNbitsBackend, fake: FakeLNbits
) -> None:
    invoice = fake.customer_invoice()
    fake.customer_preimages[decode_invoice(invoice).payment_hash] = "00" * 32

    result = backend.pay(invoice)

    assert result.state == PaymentState.PAID
    assert result.preimage is None


def test_pay_without_admin_key_fails_before_any_request(fake: FakeLNbits) -> None:
    client = httpx.Client(transport=httpx.MockTransport(fake.handler))
    backend = LNbitsBackend(URL, INVOICE_KEY, None, client=client)

    assert backend.pay(fake.customer_invoice()).state == PaymentState.FAILED
    assert fake.requests == []


def test_pay_checks_the_invoice_locally_first(backend: LNbitsBackend, fake: FakeLNbits) -> None:
    with pytest.raises(InvalidInvoice):
        backend.pay("lnbc1notaninvoice")
    with pytest.raises(InvalidInvoice, match="expired"):
        backend.pay(
            encode_invoice(
                payment_hash=b"\x01" * 32,
                amount_sats=5,
                description="old",
                expiry=60,
                signing_key=CUSTOMER_NODE_KEY,
                timestamp=int(time.time()) - 3600,
            )
        )

    assert fake.requests == []


def test_pay_refuses_an_invoice_without_an_amount(backend: LNbitsBackend, fake: FakeLNbits) -> None:
    from bolt11 import Bolt11, Tags, encode

    tags = Tags.from_dict(
        {"payment_hash": "01" * 32, "payment_secret": "02" * 32, "description": "any amount"}
    )
    invoice = encode(Bolt11(currency="bcrt", date=int(time.time()), tags=tags), "33" * 32)

    with pytest.raises(InvalidInvoice, match="no amount"):
        backend.pay(invoice)
    assert fake.requests == []


def test_a_failed_answer_is_a_definite_failure_without_lnbits_text(
    backend: LNbitsBackend, fake: FakeLNbits, caplog: pytest.LogCaptureFixture
) -> None:
    fake.pay_outcome = "failed"
    invoice = fake.customer_invoice()

    result = backend.pay(invoice)

    assert result == PaymentResult(decode_invoice(invoice).payment_hash, PaymentState.FAILED)
    assert "secret detail" not in caplog.text


def test_failure_answer_for_an_already_paid_invoice_is_a_success(
    backend: LNbitsBackend, fake: FakeLNbits
) -> None:
    # Given a payment that went through, then a retry that LNbits refuses as "already paid"
    invoice = fake.customer_invoice()
    first = backend.pay(invoice)
    fake.override[("POST", "pay")] = httpx.Response(
        520, json={"detail": "Internal invoice already paid.", "status": "failed"}
    )

    # When it is paid again
    again = backend.pay(invoice)

    # Then the wallet's own record wins: it was paid, with the same proof
    assert again == first
    assert again.state == PaymentState.PAID
    assert again.preimage is not None


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_on_pay_are_definite_failures(
    backend: LNbitsBackend, fake: FakeLNbits, status: int
) -> None:
    fake.override[("POST", "pay")] = httpx.Response(status, json={"detail": "secret detail"})

    assert backend.pay(fake.customer_invoice()).state == PaymentState.FAILED


def test_pending_answer_on_pay_is_an_in_flight_result(
    backend: LNbitsBackend, fake: FakeLNbits
) -> None:
    fake.override[("POST", "pay")] = httpx.Response(
        520, json={"detail": "Payment is still pending.", "status": "pending"}
    )
    invoice = fake.customer_invoice()

    result = backend.pay(invoice)

    assert result == PaymentResult(decode_invoice(invoice).payment_hash, PaymentState.PENDING)


@pytest.mark.parametrize(
    "refused", [httpx.ConnectError("connection refused"), httpx.ConnectTimeout("no SYN-ACK")]
)
def test_a_connection_never_made_is_a_definite_failure(
    backend: LNbitsBackend, fake: FakeLNbits, refused: Exception
) -> None:
    # Nothing was sent, so nothing can have been paid: the payout may be credited back.
    fake.override[("POST", "pay")] = refused

    assert backend.pay(fake.customer_invoice()).state == PaymentState.FAILED


@pytest.mark.parametrize(
    "lost",
    [
        httpx.ReadTimeout("timed out after sending"),
        httpx.WriteTimeout("timed out while sending"),
        httpx.RemoteProtocolError("server disconnected without a response"),
        httpx.ReadError("connection reset"),
        httpx.Response(500, json={"detail": "secret detail"}),
        httpx.Response(502, text="bad gateway"),
        httpx.Response(503, text="maintenance"),
    ],
)
def test_an_answer_lost_after_sending_is_an_unknown_outcome(
    backend: LNbitsBackend, fake: FakeLNbits, lost: httpx.Response | Exception
) -> None:
    # It may have been paid: the payout must stay pending, never be credited back.
    fake.override[("POST", "pay")] = lost
    invoice = fake.customer_invoice()

    result = backend.pay(invoice)

    assert result == PaymentResult(decode_invoice(invoice).payment_hash, PaymentState.PENDING)


def test_a_paid_answer_without_a_status_is_confirmed_with_the_wallet(
    backend: LNbitsBackend, fake: FakeLNbits
) -> None:
    # Older LNbits answers a payment with {payment_hash, checking_id} only.
    invoice = fake.customer_invoice()
    payment_hash = decode_invoice(invoice).payment_hash
    fake._pay(invoice)  # the wallet paid it
    fake.override[("POST", "pay")] = httpx.Response(
        201, json={"payment_hash": payment_hash, "checking_id": payment_hash}
    )

    assert backend.pay(invoice).state == PaymentState.PAID


# -- check_payment (outgoing) ----------------------------------------------------------------


def test_check_payment_reads_an_outgoing_payment_in_lnbits_shape(
    backend: LNbitsBackend, fake: FakeLNbits
) -> None:
    fake.pay_outcome = "pending"
    fake.pay_fee_msat = 3_000
    invoice = fake.customer_invoice()
    payment_hash = decode_invoice(invoice).payment_hash
    backend.pay(invoice)

    # In flight
    assert backend.check_payment(payment_hash).state == PaymentState.PENDING
    # Settled, with the fee LNbits recorded
    fake.settle(payment_hash)
    fake.payments[payment_hash]["fee"] = -3_000
    fake.payments[payment_hash]["preimage"] = fake.customer_preimages[payment_hash]
    settled = backend.check_payment(payment_hash)
    assert settled == PaymentResult(
        payment_hash, PaymentState.PAID, fake.customer_preimages[payment_hash], 3
    )
    request = fake.requests[-1]
    assert request.method == "GET"
    assert request.url.path == f"/api/v1/payments/{payment_hash}"


def test_check_payment_failed_and_unknown(backend: LNbitsBackend, fake: FakeLNbits) -> None:
    fake.pay_outcome = "failed"
    invoice = fake.customer_invoice()
    backend.pay(invoice)
    _, never_sent = new_preimage()

    assert backend.check_payment(decode_invoice(invoice).payment_hash).state == (
        PaymentState.FAILED
    )
    assert backend.check_payment(never_sent).state == PaymentState.UNKNOWN


def test_check_payment_of_an_incoming_invoice_is_no_outgoing_payment(
    backend: LNbitsBackend, fake: FakeLNbits
) -> None:
    created = backend.create_invoice(21, "ours", 600)
    fake.settle(created.payment_hash)

    assert backend.check_payment(created.payment_hash).state == PaymentState.UNKNOWN


@pytest.mark.parametrize(
    "failure", [httpx.Response(500, json={"detail": "x"}), httpx.ReadTimeout("timed out")]
)
def test_check_payment_outage_is_unavailable(
    backend: LNbitsBackend, fake: FakeLNbits, failure: httpx.Response | Exception
) -> None:
    fake.override[("GET", "GET")] = failure

    with pytest.raises(LightningUnavailable):
        backend.check_payment("ab" * 32)


# -- retries (timmy.upstream) --------------------------------------------------------------


class Flaky:
    """Answers the first ``failures`` matching calls with ``failure``, then lets LNbits answer."""

    def __init__(self, fake: FakeLNbits, failures: list[httpx.Response | Exception]) -> None:
        self.fake, self.failures = fake, failures

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.failures:
            self.fake.requests.append(request)
            failure = self.failures.pop(0)
            if isinstance(failure, Exception):
                raise failure
            return failure
        return self.fake.handler(request)


def flaky_backend(fake: FakeLNbits, *failures: httpx.Response | Exception) -> LNbitsBackend:
    client = httpx.Client(transport=httpx.MockTransport(Flaky(fake, list(failures)).handler))
    return LNbitsBackend(URL, INVOICE_KEY, ADMIN_KEY, client=client, retry=RETRY)


def test_a_check_is_retried_through_an_outage(fake: FakeLNbits) -> None:
    created = flaky_backend(fake).create_invoice(10, "x", 600)
    SLEPT.clear()

    status = flaky_backend(fake, httpx.Response(503, text="maintenance")).check(
        created.payment_hash
    )

    assert status.paid is False
    assert SLEPT == [0.25]


def test_a_pay_that_never_connected_is_sent_again(fake: FakeLNbits) -> None:
    invoice = fake.customer_invoice()

    result = flaky_backend(fake, httpx.ConnectError("refused")).pay(invoice)

    assert result.state == PaymentState.PAID
    assert [r.method for r in fake.requests] == ["POST", "POST"]


@pytest.mark.parametrize(
    "lost", [httpx.ReadTimeout("after sending"), httpx.Response(502, text="bad gateway")]
)
def test_a_pay_that_may_have_arrived_is_never_sent_twice(
    fake: FakeLNbits, lost: httpx.Response | Exception
) -> None:
    invoice = fake.customer_invoice()

    flaky_backend(fake, lost).pay(invoice)

    assert [r.method for r in fake.requests].count("POST") == 1


def test_lnbits_verdicts_are_not_retried(fake: FakeLNbits) -> None:
    verdict = httpx.Response(520, json={"detail": "no route", "status": "failed"})

    flaky_backend(fake, verdict).pay(fake.customer_invoice())

    assert [r.method for r in fake.requests].count("POST") == 1


# -- keys stay secret ----------------------------------------------------------------------


def test_keys_never_appear_in_repr_or_logs(
    backend: LNbitsBackend, fake: FakeLNbits, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.override[("POST", "create")] = httpx.Response(500, json={"detail": "secret detail"})
    fake.override[("GET", "GET")] = httpx.ReadTimeout("timed out")

    with pytest.raises(LightningUnavailable):
        backend.create_invoice(10, "x", 600)
    with pytest.raises(LightningUnavailable):
        backend.check("ab" * 32)

    assert caplog.records  # the failures were logged ...
    for secret in (INVOICE_KEY, ADMIN_KEY, "secret detail"):
        assert secret not in caplog.text  # ... without keys or LNbits' text
        assert secret not in repr(backend)


def test_backend_satisfies_the_protocol(backend: LNbitsBackend) -> None:
    satisfied: LightningBackend = backend
    assert satisfied.mode == "lnbits"
    assert backend.url == URL  # the trailing slash it was given is gone


@pytest.mark.parametrize(
    ("url", "invoice_key", "admin_key"),
    [("lnbits.example", INVOICE_KEY, None), (URL, "", None), (URL, INVOICE_KEY, "")],
)
def test_constructor_rejects_bad_configuration(
    url: str, invoice_key: str, admin_key: str | None
) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        LNbitsBackend(url, invoice_key, admin_key)


def test_close_leaves_an_injected_client_open(fake: FakeLNbits) -> None:
    client = httpx.Client(transport=httpx.MockTransport(fake.handler))
    LNbitsBackend(URL, INVOICE_KEY, ADMIN_KEY, client=client).close()

    assert not client.is_closed


def test_close_closes_a_client_the_backend_made() -> None:
    backend = LNbitsBackend(URL, INVOICE_KEY, ADMIN_KEY, timeout=2.5)

    backend.close()

    assert backend._client.is_closed


# -- webhook -------------------------------------------------------------------------------

PAYMENT = {
    "checking_id": "c" * 64,
    "payment_hash": "ab" * 32,
    "amount": 21000,
    "status": "success",
    "bolt11": "lnbcrt210n1...",
}


def test_webhook_double_encoded_body_as_lnbits_sends_it() -> None:
    # LNbits posts json=payment.json(): a JSON string whose content is the payment JSON.
    raw = json.dumps(json.dumps(PAYMENT))

    assert parse_webhook_body(raw) == "ab" * 32
    assert parse_webhook_body(raw.encode()) == "ab" * 32


def test_webhook_plain_object_body() -> None:
    assert parse_webhook_body(json.dumps(PAYMENT)) == "ab" * 32
    assert parse_webhook_body(json.dumps({"details": PAYMENT})) == "ab" * 32


def test_webhook_hash_is_lowercased() -> None:
    body = json.dumps(json.dumps({**PAYMENT, "payment_hash": "AB" * 32}))

    assert parse_webhook_body(body) == "ab" * 32


@pytest.mark.parametrize(
    "raw",
    [
        "",
        b"",
        b"\xff\xfe\x00",
        "null",
        "[]",
        "42",
        '"just a string"',
        json.dumps(json.dumps("still a string")),
        json.dumps(json.dumps(json.dumps(PAYMENT))),  # triple-encoded is not LNbits
        "{",
        '{"payment_hash": 5}',
        '{"payment_hash": "abc"}',
        json.dumps({**PAYMENT, "payment_hash": "../" + "a" * 61}),
        json.dumps({**PAYMENT, "payment_hash": "g" * 64}),
        json.dumps({"checking_id": "ab" * 32}),
        "[" * 100_000 + "]" * 100_000,
        "x" * 1_000_000,
        None,
        12,
    ],
)
def test_webhook_garbage_gives_none_and_never_raises(raw: Any) -> None:
    assert parse_webhook_body(raw) is None
