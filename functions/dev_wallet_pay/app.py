"""POST /api/dev/wallet/pay: development only, pays one of our BOLT11s as a customer's wallet
would and hands back the preimage (top-up and L402 clients need it)."""

from __future__ import annotations

from pydantic import BaseModel, Field, StrictStr

from timmy.api import HttpApi, make_handler, response_doc
from timmy.errors import NotFound
from timmy.lightning.dev_wallet import pay_own_bolt11
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
    if not core().dev_mode:
        # Deployed without dev mode the route does not exist at all; this guards a stray one.
        raise NotFound("No such route.", code="route_not_found")
    paid = pay_own_bolt11(body.invoice)
    return DevWalletPayment(
        payment_hash=paid.payment_hash, preimage=paid.preimage, amount_sats=paid.amount_sats
    )


handler = make_handler(app)
