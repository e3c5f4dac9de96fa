"""POST /api/webhooks/lightning: the Lightning backend's payment webhook (a hint only)."""

from __future__ import annotations

from pydantic import BaseModel

from timmy.api import HttpApi, error_doc, make_handler, ok_doc
from timmy.errors import BadRequest
from timmy.lightning.webhook import parse_webhook_body
from timmy.payments import confirm_payment

app = HttpApi()


class WebhookAck(BaseModel):
    received: bool
    paid: bool


@app.post(
    "/api/webhooks/lightning",
    summary="Lightning payment webhook",
    tags=["lightning"],
    responses={
        200: ok_doc("Received; paid tells whether the backend confirms the payment", WebhookAck),
        400: error_doc("invalid_webhook (no payment hash) or invalid_request (unreadable body)"),
        502: error_doc(
            "lightning_bad_response: the Lightning backend answered nonsense; nothing changed"
        ),
        503: error_doc("The Lightning backend is unreachable; nothing changed"),
    },
)
def lightning_webhook() -> WebhookAck:
    payment_hash = parse_webhook_body(app.current_event.decoded_body or "")
    if payment_hash is None:
        raise BadRequest("The webhook body names no payment hash.", code="invalid_webhook")
    # The body is never trusted: confirm_payment asks the backend whether it is paid.
    result = confirm_payment(payment_hash)
    return WebhookAck(received=True, paid=result.paid)


handler = make_handler(app)
