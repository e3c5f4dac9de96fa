"""The development wallet: pays one of our BOLT11s as a customer's wallet would (through the
dev payer: the stub ledger or a second LNbits wallet) and hands back its preimage; and makes a
customer's BOLT11 for a withdrawal or a refund to be paid to."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from timmy.data import invoices
from timmy.data.invoices import InvoiceState
from timmy.db.connection import transaction
from timmy.errors import Conflict, NotFound
from timmy.lightning.backends import backend
from timmy.lightning.bolt11 import decode_invoice, encode_invoice
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


RECEIVE_EXPIRY_SECONDS: Final = 3600


@dataclass(frozen=True, slots=True)
class WalletInvoice:
    invoice: str
    payment_hash: str
    amount_sats: int
    expires_at: datetime


def receive_invoice(amount_sats: int, description: str) -> WalletInvoice:
    """A customer's BOLT11 on the node's network, signed with a throwaway key: what a wallet
    hands over to be paid a withdrawal or a refund. The stub node pays it like any foreign
    invoice; a real node can only route to it if that key's node exists, so outside the stub
    use an invoice of a real wallet."""
    payment_hash = os.urandom(32)
    bolt11 = encode_invoice(
        payment_hash=payment_hash,
        amount_sats=amount_sats,
        description=description,
        expiry=RECEIVE_EXPIRY_SECONDS,
        signing_key=os.urandom(32),
        network=backend().network,
    )
    return WalletInvoice(
        invoice=bolt11,
        payment_hash=payment_hash.hex(),
        amount_sats=amount_sats,
        expires_at=datetime.now(UTC) + timedelta(seconds=RECEIVE_EXPIRY_SECONDS),
    )
