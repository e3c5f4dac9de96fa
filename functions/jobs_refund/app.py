"""POST /api/jobs/{job_id}/refund"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, Field

from timmy.api import HttpApi, make_handler, response_doc
from timmy.jobs.service import refund_job
from timmy.jobs.views import JobRefunded
from timmy.observability import metrics

app = HttpApi()


class RefundRequest(BaseModel):
    invoice: str = Field(
        description="A BOLT11 invoice of yours for exactly the job's refundable_sats."
    )


@app.post(
    "/api/jobs/<job_id>/refund",
    summary="Claim a job's refundable amount",
    description=(
        "Pays the invoice once, through the payout path: the refund's payout is written in"
        " the transaction that checks the job, before any money moves, so concurrent calls pay"
        " at most once, and an invoice used by any payout before is refused. The caller"
        " receives exactly `refundable_sats`; Timmy bears the routing fee. A payment that"
        " definitely failed leaves the refund claimable with a new invoice. One whose outcome"
        " is unknown answers with the refund pending; the payout reconciler (or the next"
        " claim, which asks the node first) settles it: sent, or claimable again when it was"
        " never paid."
    ),
    tags=["jobs"],
    responses={
        200: response_doc(
            "The refund was paid, or is pending (outcome not known yet).", JobRefunded
        ),
        400: response_doc(
            "invalid_invoice, amount_required, amount_mismatch (not refundable_sats),"
            " wrong_network, invoice_expired or own_invoice."
        ),
        404: response_doc("job_not_found (also for an id that is not a UUID)."),
        409: response_doc(
            "nothing_refundable, already_refunded, refund_in_progress or invoice_already_used."
        ),
        502: response_doc("payment_failed (nothing was paid; claim again with a new invoice)."),
    },
)
def refund(job_id: str, body: RefundRequest) -> JobRefunded:
    refunded = refund_job(job_id, body.invoice)
    if refunded.refund.state == "sent":
        metrics.add_metric(name="RefundsSent", unit=MetricUnit.Count, value=1)
        metrics.add_metric(
            name="RefundedSats", unit=MetricUnit.Count, value=refunded.refund.amount_sats
        )
    else:
        metrics.add_metric(name="RefundsPending", unit=MetricUnit.Count, value=1)
    return refunded


handler = make_handler(app)
