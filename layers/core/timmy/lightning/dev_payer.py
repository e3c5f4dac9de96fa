"""Paying our own invoices in development: the stub ledger, or a second LNbits wallet."""

from __future__ import annotations

import re
from typing import Self

from pydantic import SecretStr, model_validator

from timmy.data import invoices
from timmy.data.invoices import InvoiceState
from timmy.db.connection import transaction
from timmy.errors import BadRequest, NotFound
from timmy.lightning.backends import backend
from timmy.lightning.errors import PaymentFailed
from timmy.lightning.types import PaymentState
from timmy.payments import ConfirmResult, confirm_payment
from timmy.settings import EnvBool, EnvSettings, load

_HASH = re.compile(r"^[0-9a-f]{64}$")


class DevPayerSettings(EnvSettings):
    dev_mode: EnvBool = False
    lnbits_url: str = ""
    lnbits_api_key: SecretStr = SecretStr("")
    # Admin key of a *second* LNbits wallet: FakeWallet only pays invoices of its own
    # instance, paid from another wallet, as a customer would.
    lnbits_dev_payer_key: SecretStr = SecretStr("")

    @model_validator(mode="after")
    def _payer_with_lnbits(self) -> Self:
        lnbits = bool(self.lnbits_url and self.lnbits_api_key.get_secret_value())
        if self.dev_mode and lnbits and not self.lnbits_dev_payer_key.get_secret_value():
            raise ValueError(
                "LNBITS_DEV_PAYER_KEY must be set in dev mode with LNbits (the dev payer pays"
                " from a second wallet)"
            )
        return self


def validate_payment_hash(payment_hash: str) -> str:
    value = payment_hash.strip().lower()
    if not _HASH.match(value):
        raise BadRequest(
            "payment_hash must be 64 hexadecimal characters.", code="invalid_payment_hash"
        )
    return value


def pay_own_invoice(payment_hash: str) -> ConfirmResult:
    payment_hash = validate_payment_hash(payment_hash)
    with transaction() as tx:
        invoice = invoices.get(tx, payment_hash)
    if invoice is None:
        raise NotFound("No invoice with that payment hash.", code="invoice_not_found")
    ln = backend()
    if ln.mode == "stub":
        from timmy.lightning.stub import StubBackend

        assert isinstance(ln, StubBackend)
        ln.mark_paid(payment_hash)
    elif invoice.state == InvoiceState.PENDING:
        from timmy.lightning.lnbits import LNbitsBackend

        settings = load(DevPayerSettings)
        assert isinstance(ln, LNbitsBackend)
        payer_key = settings.lnbits_dev_payer_key.get_secret_value()
        payer = LNbitsBackend(ln.url, payer_key, payer_key)
        if payer.pay(invoice.payment_request).state == PaymentState.FAILED:
            raise PaymentFailed("The dev payer wallet could not pay the invoice.")
    return confirm_payment(payment_hash)
