"""The development wallet: pays one of our BOLT11s as a customer's wallet would (through the
dev payer: the stub ledger or a second LNbits wallet) and hands back its preimage."""

from __future__ import annotations

from dataclasses import dataclass

from timmy.data import invoices
from timmy.data.invoices import InvoiceState
from timmy.db.connection import transaction
from timmy.errors import Conflict, NotFound
from timmy.lightning.bolt11 import decode_invoice
from timmy.lightning.dev_payer import pay_own_invoice


class AlreadyPaid(Conflict):
    code = "already_paid"


class InvoiceExpired(Conflict):
    code = "invoice_expired"


@dataclass(frozen=True, slots=True)
class WalletPayment:
    payment_hash: str
    preimage: str
    amount_sats: int


def pay_own_bolt11(bolt11: str) -> WalletPayment:
    payment_hash = decode_invoice(bolt11).payment_hash  # 400 invalid_invoice
    with transaction() as tx:
        invoice = invoices.get(tx, payment_hash)
    if invoice is None:
        raise NotFound("No invoice of ours has this payment hash.", code="invoice_not_found")
    if invoice.state == InvoiceState.PAID:
        raise AlreadyPaid("This invoice was paid before.")
    if not pay_own_invoice(payment_hash).paid:
        raise InvoiceExpired("This invoice expired before it was paid.")
    with transaction() as tx:
        paid = invoices.get(tx, payment_hash)
    assert paid is not None
    assert paid.preimage is not None
    return WalletPayment(payment_hash, paid.preimage, paid.amount_sats)
