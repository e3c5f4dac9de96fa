"""The JSON shapes of jobs, shared by the job endpoints.

A job shows what its state allows: its invoice while it waits for a payment, the ``reason``
once rejected, the ``result`` once complete, the ``error`` once failed, and
``refundable_sats`` / ``refunded`` once it has ended. ``free_tier`` and ``absorbed_sats`` say
what the free tier does for the job once its work is priced.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from timmy.data.invoices import Invoice
from timmy.data.jobs import Job, JobState
from timmy.data.payouts import Payout, PayoutState


class InvoiceOut(BaseModel):
    payment_request: str = Field(description="BOLT11 invoice to pay.")
    payment_hash: str
    amount_sats: int
    expires_at: datetime

    @classmethod
    def of(cls, invoice: Invoice) -> InvoiceOut:
        return cls.model_validate(invoice, from_attributes=True)


class JobCreated(BaseModel):
    job_id: str
    state: Literal[JobState.AWAITING_EVAL_PAYMENT]
    eval_invoice: InvoiceOut = Field(
        description="Pay this fixed fee to have the request evaluated."
    )
    trust_tier: str = Field(description="The caller's trust tier; anonymous without nostr_token.")


class TokenCounts(BaseModel):
    input_tokens: int
    output_tokens: int


class JobCosts(BaseModel):
    eval_fee_sats: int
    eval_paid_sats: int
    model: str | None = Field(description="The AI model priced and used (once priced).")
    btc_price_usd: float | None = Field(description="BTC price the work was priced at.")
    estimated_tokens: TokenCounts | None
    work_estimate_sats: int | None = Field(description="Estimated cost of the work.")
    work_charge_sats: int | None = Field(
        description="What the caller is charged for the work: the estimate, the estimate less"
        " the free tier's part (partial), or 0 (free: no work invoice)."
    )
    work_paid_sats: int
    used_tokens: TokenCounts | None = Field(description="Real usage of the work (once done).")
    actual_cost_sats: int | None = Field(description="Cost of the real usage (once complete).")


class JobError(BaseModel):
    code: str
    message: str


class RefundState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"


class RefundOut(BaseModel):
    state: RefundState = Field(
        description="pending: being paid, or its outcome is not known yet (a scheduled"
        " reconciler asks the node and settles it); sent: paid out. A refund whose payment"
        " failed is not shown: it can be claimed again with a new invoice."
    )
    amount_sats: int
    payment_hash: str


class JobView(BaseModel):
    job_id: str
    state: JobState
    trust_tier: str
    eval_invoice: InvoiceOut | None = Field(description="While awaiting_eval_payment.")
    work_invoice: InvoiceOut | None = Field(description="While awaiting_work_payment.")
    reason: str | None = Field(description="Why the request was rejected (state rejected).")
    result: str | None = Field(description="The work (state complete).")
    error: JobError | None = Field(description="What went wrong (state failed).")
    costs: JobCosts
    free_tier: bool = Field(
        description="Whether the free tier was granted for the work: wholly (no work invoice)"
        " or in part (a discounted work invoice); false for full-price work and until the work"
        " is priced."
    )
    absorbed_sats: int = Field(
        description="What the generosity pool covers of the work: the advised part while a"
        " discounted invoice is unpaid, the reserved part while the work runs, the part of the"
        " actual cost it absorbed once complete; 0 when the free tier does not apply or the job"
        " failed or expired."
    )
    refundable_sats: int | None = Field(
        description="Owed back once the job has ended (complete: work paid minus what the"
        " caller owes of the actual cost, paid - max(0, actual - absorbed_sats); failed:"
        " everything paid; rejected, expired: 0). Claim it with"
        " POST /api/jobs/{job_id}/refund."
    )
    refunded: bool | None = Field(description="Whether the refund has been paid out.")
    refund: RefundOut | None
    created_at: datetime
    updated_at: datetime


class JobRefunded(BaseModel):
    job_id: str
    refunded: bool
    refund: RefundOut
    trust_tier: str


def _tokens(inp: int | None, out: int | None) -> TokenCounts | None:
    if inp is None or out is None:
        return None
    return TokenCounts(input_tokens=inp, output_tokens=out)


def costs_of(job: Job) -> JobCosts:
    btc = job.btc_price_usd
    return JobCosts(
        eval_fee_sats=job.eval_fee_sats,
        eval_paid_sats=job.eval_paid_sats,
        model=job.model,
        btc_price_usd=None if btc is None else float(btc),
        estimated_tokens=_tokens(job.estimate_input_tokens, job.estimate_output_tokens),
        work_estimate_sats=job.work_estimate_sats,
        work_charge_sats=job.work_charge_sats,
        work_paid_sats=job.work_paid_sats,
        used_tokens=_tokens(job.input_tokens, job.output_tokens),
        actual_cost_sats=job.actual_cost_sats,
    )


def refund_of(payout: Payout | None, refundable_sats: int) -> RefundOut | None:
    """The refund as its live payout (pending or paid) says; None while none is live."""
    if payout is None or payout.state == PayoutState.FAILED:
        return None
    return RefundOut(
        state=RefundState.SENT if payout.state == PayoutState.PAID else RefundState.PENDING,
        amount_sats=refundable_sats,
        payment_hash=payout.payment_hash,
    )


def job_view(
    job: Job, trust_tier: str, pending_invoice: Invoice | None = None, refund: Payout | None = None
) -> JobView:
    """The caller's view of ``job``; ``pending_invoice`` is the invoice it waits on, if any,
    ``refund`` its live refund payout."""
    state = job.state
    shown = InvoiceOut.of(pending_invoice) if pending_invoice is not None else None
    ended = job.ended
    error = None
    if state == JobState.FAILED:
        error = JobError(code=job.error_code or "failed", message=job.error_message or "")
    return JobView(
        job_id=job.id,
        state=state,
        trust_tier=trust_tier,
        eval_invoice=shown if state == JobState.AWAITING_EVAL_PAYMENT else None,
        work_invoice=shown if state == JobState.AWAITING_WORK_PAYMENT else None,
        reason=job.reason if state == JobState.REJECTED else None,
        result=job.result if state == JobState.COMPLETE else None,
        error=error,
        costs=costs_of(job),
        free_tier=job.free_tier_granted,
        absorbed_sats=job.absorbed_sats,
        refundable_sats=job.refundable_sats if ended else None,
        refunded=(refund is not None and refund.state == PayoutState.PAID) if ended else None,
        refund=refund_of(refund, job.refundable_sats),
        created_at=job.created_at,
        updated_at=job.updated_at,
    )
