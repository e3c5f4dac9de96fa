"""Development only. POST /api/dev/wallet/pay pays one of our BOLT11s as a customer's wallet
would and hands back the preimage (top-up and L402 clients need it); POST
/api/dev/wallet/invoice makes a customer's BOLT11 to withdraw or be refunded to."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, StrictInt, StrictStr

from timmy.api import HttpApi, make_handler, response_doc
from timmy.errors import NotFound
from timmy.lightning.dev_wallet import pay_own_bolt11, receive_invoice
from timmy.settings import core

app = HttpApi()


class DevWalletPayBody(BaseModel):
    invoice: StrictStr = Field(description="A BOLT11 invoice of ours")


class DevWalletPayment(BaseModel):
    payment_hash: str
    preimage: str
    amount_sats: int


@app.post(
    "/api/dev/wallet/pay",
    summary="Pay one of our invoices and get its preimage (development mode only)",
    tags=["development"],
    responses={
        200: response_doc("Paid", DevWalletPayment),
        400: response_doc("invalid_invoice: not a BOLT11 invoice"),
        404: response_doc("invoice_not_found; route_not_found outside development mode"),
        409: response_doc("already_paid: the invoice was paid before"),
        502: response_doc("lightning_bad_response: the backend answered nonsense"),
        503: response_doc("The Lightning backend is unreachable; nothing was paid"),
    },
)
def wallet_pay(body: DevWalletPayBody) -> DevWalletPayment:
    _require_dev_mode()
    paid = pay_own_bolt11(body.invoice)
    return DevWalletPayment(
        payment_hash=paid.payment_hash, preimage=paid.preimage, amount_sats=paid.amount_sats
    )


class DevWalletInvoiceBody(BaseModel):
    amount_sats: StrictInt = Field(ge=1, le=100_000_000, description="What the invoice asks for")
    description: StrictStr = Field(default="dev wallet", max_length=200)


class DevWalletInvoice(BaseModel):
    invoice: str
    payment_hash: str
    amount_sats: int
    expires_at: datetime


@app.post(
    "/api/dev/wallet/invoice",
    summary="A customer's invoice to withdraw or be refunded to (development mode only)",
    description=(
        "A BOLT11 on the node's network, signed with a throwaway key, as a customer's wallet"
        " would hand over. The stub node pays it; a real node cannot route to it."
    ),
    tags=["development"],
    responses={
        200: response_doc("The invoice", DevWalletInvoice),
        404: response_doc("route_not_found outside development mode"),
    },
)
def wallet_invoice(body: DevWalletInvoiceBody) -> DevWalletInvoice:
    _require_dev_mode()
    made = receive_invoice(body.amount_sats, body.description)
    return DevWalletInvoice(
        invoice=made.invoice,
        payment_hash=made.payment_hash,
        amount_sats=made.amount_sats,
        expires_at=made.expires_at,
    )


def _require_dev_mode() -> None:
    if not core().dev_mode:
        # Deployed without dev mode the routes do not exist at all; this guards a stray one.
        raise NotFound("No such route.", code="route_not_found")


handler = make_handler(app)
