"""POST /api/dev/stub/pay/{payment_hash}: development only, pays one of our invoices."""

from __future__ import annotations

from pydantic import BaseModel

from timmy.api import HttpApi, make_handler, response_doc
from timmy.errors import NotFound
from timmy.lightning.dev_payer import pay_own_invoice
from timmy.settings import core

app = HttpApi()


class StubPayResult(BaseModel):
    payment_hash: str
    paid: bool
    outcome: str


@app.post(
    "/api/dev/stub/pay/<payment_hash>",
    summary="Pay an invoice (development mode only)",
    tags=["development"],
    responses={
        200: response_doc("The invoice is paid (paid_now or already_paid)", StubPayResult),
        400: response_doc("invalid_payment_hash: not 64 hexadecimal characters"),
        404: response_doc("invoice_not_found; route_not_found outside development mode"),
        502: response_doc(
            "lightning_bad_response: the Lightning backend answered nonsense; nothing changed"
        ),
        503: response_doc("The Lightning backend is unreachable; nothing was paid"),
    },
)
def stub_pay(payment_hash: str) -> StubPayResult:
    if not core().dev_mode:
        # Deployed without dev mode the route does not exist at all; this guards a stray one.
        raise NotFound("No such route.", code="route_not_found")
    result = pay_own_invoice(payment_hash)
    return StubPayResult(
        payment_hash=payment_hash.lower(), paid=result.paid, outcome=result.outcome
    )


handler = make_handler(app)
