"""POST /api/webhooks/lightning: the Lightning backend's payment webhook (a hint only)."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel

from timmy.api import HttpApi, make_handler, response_doc
from timmy.errors import BadRequest
from timmy.lightning.webhook import check_webhook_signature, parse_webhook_body
from timmy.observability import metrics
from timmy.payments import Confirmation, confirm_payment

app = HttpApi()


class WebhookAck(BaseModel):
    received: bool
    paid: bool


@app.post(
    "/api/webhooks/lightning",
    summary="Lightning payment webhook",
    tags=["lightning"],
    responses={
        200: response_doc(
            "Received; paid tells whether the backend confirms the payment", WebhookAck
        ),
        400: response_doc("invalid_webhook (no payment hash) or invalid_request (unreadable body)"),
        401: response_doc("invalid_signature: phoenixd's X-Phoenix-Signature missing or wrong"),
        502: response_doc(
            "lightning_bad_response: the Lightning backend answered nonsense; nothing changed"
        ),
        503: response_doc("The Lightning backend is unreachable; nothing changed"),
    },
)
def lightning_webhook() -> WebhookAck:
    raw = app.current_event.decoded_body or ""
    check_webhook_signature(raw, app.current_event.headers)
    payment_hash = parse_webhook_body(raw)
    if payment_hash is None:
        raise BadRequest("The webhook body names no payment hash.", code="invalid_webhook")
    # The body is never trusted: confirm_payment asks the backend whether it is paid.
    result = confirm_payment(payment_hash)
    if result.outcome is Confirmation.PAID_NOW and result.invoice is not None:
        metrics.add_metric(name="InvoicesPaid", unit=MetricUnit.Count, value=1)
        amount = result.invoice.amount_sats
        metrics.add_metric(name="SatsReceived", unit=MetricUnit.Count, value=amount)
    return WebhookAck(received=True, paid=result.paid)


handler = make_handler(app)
