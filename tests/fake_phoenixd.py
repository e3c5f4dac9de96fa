"""A fake phoenixd node for httpx.MockTransport, in phoenixd's real shapes (ACINQ/phoenixd
Api.kt and JsonSerializers.kt): form requests, basic auth with an empty user, HTTP 200 for a
failed payment with a ``reason``, outgoing records with ``fees`` in msat."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx

from timmy.lightning.bolt11 import decode_invoice, encode_invoice, new_preimage

PASSWORD = "phx-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
NODE_KEY = bytes.fromhex("6d" * 32)
CUSTOMER_KEY = bytes.fromhex("4b" * 32)


def form_of(request: httpx.Request) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(request.content.decode()).items()}


@dataclass
class FakePhoenixd:
    """One node: its incoming invoices, outgoing payments and every request it saw.

    ``pay_outcome``: "paid" (fee ``pay_fee_msat``), "failed" (HTTP 200 with a reason, recorded
    as failed), "refused" (no connection), "timeout" (paid, the answer lost), "500".
    """

    network: str = "bc"
    requests: list[httpx.Request] = field(default_factory=list)
    incoming: dict[str, dict[str, Any]] = field(default_factory=dict)
    outgoing: dict[str, dict[str, Any]] = field(default_factory=dict)
    customer_preimages: dict[str, str] = field(default_factory=dict)
    pay_outcome: str = "paid"
    pay_fee_msat: int = 1_500
    # path prefix → the answer (or error) that replaces the normal one
    override: dict[str, httpx.Response | Exception] = field(default_factory=dict)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        replacement = next((r for p, r in self.override.items() if path.startswith(p)), None)
        if isinstance(replacement, Exception):
            raise replacement
        if replacement is not None:
            return replacement
        expected = "Basic " + base64.b64encode(f":{PASSWORD}".encode()).decode()
        if request.headers.get("authorization") != expected:
            return httpx.Response(401, text="Invalid authentication (use basic auth)")
        if request.method == "POST" and path == "/createinvoice":
            return self._create(form_of(request))
        if request.method == "POST" and path == "/payinvoice":
            return self._pay(form_of(request))
        if request.method == "GET" and path.startswith("/payments/incoming/"):
            found = self.incoming.get(path.rsplit("/", 1)[1])
            return httpx.Response(200, json=found) if found else httpx.Response(404)
        if request.method == "GET" and path.startswith("/payments/outgoingbyhash/"):
            found = self.outgoing.get(path.rsplit("/", 1)[1])
            return httpx.Response(200, json=found) if found else httpx.Response(404)
        if request.method == "GET" and path == "/getinfo":
            return httpx.Response(200, json={"nodeId": "02" + "ab" * 32, "channels": []})
        return httpx.Response(404, text="Unknown endpoint (check api doc)")

    def _create(self, form: dict[str, str]) -> httpx.Response:
        if len(form.get("description", "")) > 128:
            return httpx.Response(400, text="Request parameter description is too long")
        preimage, payment_hash = new_preimage()
        amount = int(form["amountSat"])
        bolt11 = encode_invoice(
            payment_hash=bytes.fromhex(payment_hash),
            amount_sats=amount,
            description=form["description"],
            expiry=int(form.get("expirySeconds", "3600")),
            signing_key=NODE_KEY,
            network=self.network,
        )
        self.incoming[payment_hash] = {
            "subType": "lightning",
            "paymentHash": payment_hash,
            "preimage": preimage,  # phoenixd shows it before the invoice is paid
            "externalId": form.get("externalId"),
            "description": form["description"],
            "invoice": bolt11,
            "isPaid": False,
            "isExpired": False,
            "requestedSat": amount,
            "receivedSat": 0,
            "fees": 0,
            "completedAt": None,
            "createdAt": int(time.time() * 1000),
        }
        return httpx.Response(
            200, json={"amountSat": amount, "paymentHash": payment_hash, "serialized": bolt11}
        )

    def settle(self, payment_hash: str) -> None:
        payment = self.incoming[payment_hash]
        payment.update(
            isPaid=True, receivedSat=payment["requestedSat"], completedAt=int(time.time() * 1000)
        )

    def customer_invoice(self, amount_sats: int = 500, expiry: int = 600) -> str:
        """An invoice of another node that this node can pay (its preimage known here)."""
        preimage, payment_hash = new_preimage()
        self.customer_preimages[payment_hash] = preimage
        return encode_invoice(
            payment_hash=bytes.fromhex(payment_hash),
            amount_sats=amount_sats,
            description="payout",
            expiry=expiry,
            signing_key=CUSTOMER_KEY,
            network=self.network,
        )

    def _pay(self, form: dict[str, str]) -> httpx.Response:
        if self.pay_outcome == "refused":
            raise httpx.ConnectError("connection refused")
        if self.pay_outcome == "500":
            return httpx.Response(500, text="java.lang.IllegalStateException")
        decoded = decode_invoice(form["invoice"])
        payment_hash = decoded.payment_hash
        now = int(time.time() * 1000)
        record: dict[str, Any] = {
            "subType": "lightning",
            "paymentId": f"7f1c{len(self.outgoing):04d}-0000-4000-8000-000000000000",
            "paymentHash": payment_hash,
            "preimage": None,
            "txId": None,
            "isPaid": False,
            "sent": decoded.amount_sats,
            "fees": 0,
            "invoice": form["invoice"],
            "completedAt": now,
            "createdAt": now,
        }
        self.outgoing[payment_hash] = record
        if self.pay_outcome == "failed":
            return httpx.Response(
                200, json={"paymentHash": payment_hash, "reason": "recipient node is unreachable"}
            )
        preimage = self.customer_preimages[payment_hash]
        record.update(isPaid=True, preimage=preimage, fees=self.pay_fee_msat)
        sent = {
            "recipientAmountSat": decoded.amount_sats,
            "routingFeeSat": self.pay_fee_msat // 1000,  # phoenixd truncates to whole sats
            "paymentId": record["paymentId"],
            "paymentHash": payment_hash,
            "paymentPreimage": preimage,
        }
        if self.pay_outcome == "timeout":
            raise httpx.ReadTimeout("the answer never came")
        return httpx.Response(200, json=sent)


def pay_payouts_through(monkeypatch: Any) -> FakePhoenixd:
    """A fake phoenixd on the bcrt network that the payout path pays through (for this test)."""
    from timmy.lightning.phoenixd import PhoenixdBackend
    from timmy.payouts import service as payout_service

    fake = FakePhoenixd(network="bcrt")
    client = httpx.Client(transport=httpx.MockTransport(fake.handler))
    phoenix = PhoenixdBackend("http://phoenixd.example", PASSWORD, client=client, network="bcrt")
    monkeypatch.setattr(payout_service, "backend", lambda: phoenix)
    return fake
