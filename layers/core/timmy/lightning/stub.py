"""The stub Lightning backend: a pretend node whose ledger lives in the database.

Invoices are real: the payment hash is sha256 of a random preimage and the BOLT11 string is
signed with a local key, so any standard decoder accepts it. Nothing is paid until
:meth:`StubBackend.mark_paid` is called (the development pay endpoint does that).

Outgoing payments behave as a real node's do: an invoice of another network, an expired one
or one without an amount is refused, and a payment hash is paid at most once (a unique index
on the stub's payment ledger), so a second attempt fails instead of paying again. Routing is
free here: every payment's fee is 0.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from timmy.db.connection import db
from timmy.lightning.bolt11 import decode_invoice, encode_invoice, new_preimage
from timmy.lightning.types import (
    CreatedInvoice,
    InvoiceStatus,
    PaymentResult,
    PaymentState,
)


class StubBackend:
    mode = "stub"

    def __init__(self, *, signing_key: bytes, network: str = "bcrt") -> None:
        self._signing_key = signing_key
        self.network = network

    def create_invoice(
        self, amount_sats: int, memo: str, expiry: int, webhook_url: str | None = None
    ) -> CreatedInvoice:
        preimage, payment_hash = new_preimage()
        now = datetime.now(UTC)
        bolt11 = encode_invoice(
            payment_hash=bytes.fromhex(payment_hash),
            amount_sats=amount_sats,
            description=memo,
            expiry=expiry,
            signing_key=self._signing_key,
            network=self.network,
            timestamp=int(now.timestamp()),
        )
        db().execute(
            "INSERT INTO stub_lightning_invoices (payment_hash, preimage, amount_sats,"
            " payment_request) VALUES (:h, :p, :a, :r)",
            h=payment_hash,
            p=preimage,
            a=amount_sats,
            r=bolt11,
        )
        return CreatedInvoice(
            payment_hash=payment_hash,
            payment_request=bolt11,
            amount_sats=amount_sats,
            expires_at=now.replace(microsecond=0) + timedelta(seconds=expiry),
        )

    def check(self, payment_hash: str) -> InvoiceStatus:
        row = db().one(
            "SELECT paid, preimage FROM stub_lightning_invoices WHERE payment_hash = :h",
            h=payment_hash,
        )
        if row is None or not row["paid"]:
            return InvoiceStatus(paid=False, preimage=None)
        return InvoiceStatus(paid=True, preimage=row["preimage"])

    def pay(self, bolt11: str) -> PaymentResult:
        decoded = decode_invoice(bolt11)  # InvalidInvoice: refused before anything is sent
        refused = PaymentResult(payment_hash=decoded.payment_hash, state=PaymentState.FAILED)
        if decoded.network != self.network or decoded.amount_msat is None or decoded.is_expired():
            return refused
        inserted = db().execute(
            "INSERT INTO stub_lightning_payments (payment_hash, amount_sats, bolt11)"
            " VALUES (:h, :a, :b) ON CONFLICT (payment_hash) DO NOTHING",
            h=decoded.payment_hash,
            a=decoded.amount_sats,
            b=decoded.bolt11,
        )
        if not inserted:  # paid before: a node never pays one payment hash twice
            return refused
        return PaymentResult(payment_hash=decoded.payment_hash, state=PaymentState.PAID, fee_sats=0)

    def check_payment(self, payment_hash: str) -> PaymentResult:
        row = db().one(
            "SELECT 1 AS found FROM stub_lightning_payments WHERE payment_hash = :h",
            h=payment_hash,
        )
        if row is None:
            return PaymentResult(payment_hash=payment_hash, state=PaymentState.UNKNOWN)
        return PaymentResult(payment_hash=payment_hash, state=PaymentState.PAID, fee_sats=0)

    def reachable(self, timeout_seconds: float) -> bool:
        """The stub node's ledger is the database: reachable when the database is."""
        from timmy.db.connection import ping

        return ping()

    def mark_paid(self, payment_hash: str) -> bool:
        """Pretend a customer paid the invoice; False when the node never issued it."""
        count = db().execute(
            "UPDATE stub_lightning_invoices SET paid = true, paid_at = now()"
            " WHERE payment_hash = :h AND NOT paid",
            h=payment_hash,
        )
        if count:
            return True
        return (
            db().one(
                "SELECT 1 AS found FROM stub_lightning_invoices WHERE payment_hash = :h",
                h=payment_hash,
            )
            is not None
        )
