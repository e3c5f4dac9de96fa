"""The stub Lightning backend: a pretend node whose ledger lives in the database.

Invoices are real: the payment hash is sha256 of a random preimage and the BOLT11 string is
signed with a local key, so any standard decoder accepts it. Nothing is paid until
:meth:`StubBackend.mark_paid` is called (the development pay endpoint does that).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from timmy.db.connection import db
from timmy.lightning.bolt11 import decode_invoice, encode_invoice, new_preimage
from timmy.lightning.types import CreatedInvoice, InvoiceStatus, PaymentResult


class StubBackend:
    mode = "stub"

    def __init__(self, *, signing_key: bytes, network: str = "bcrt") -> None:
        self._signing_key = signing_key
        self._network = network

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
            network=self._network,
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
        decoded = decode_invoice(bolt11)
        db().execute(
            "INSERT INTO stub_lightning_payments (payment_hash, amount_sats, bolt11)"
            " VALUES (:h, :a, :b)",
            h=decoded.payment_hash,
            a=decoded.amount_sats,
            b=bolt11,
        )
        return PaymentResult(payment_hash=decoded.payment_hash, preimage=None)

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
