"""What the job endpoints do: create a job, show it (advancing it when a payment arrived),
and pay its refund once (through the payout path, :mod:`timmy.jobs.refunds`)."""

from __future__ import annotations

import logging
import uuid

from timmy import identity, orchestrator, payments
from timmy.data import invoices
from timmy.data import jobs as data
from timmy.data import payouts as payouts_data
from timmy.data.invoices import PaymentPurpose
from timmy.data.jobs import JobState
from timmy.data.payouts import PayoutState
from timmy.db.connection import transaction
from timmy.errors import ConfigurationError, UpstreamBadGateway, UpstreamUnavailable
from timmy.jobs import refunds
from timmy.jobs.errors import JobNotFound, WorkflowUnavailable
from timmy.jobs.settings import job_settings
from timmy.jobs.views import (
    InvoiceOut,
    JobCreated,
    JobRefunded,
    JobView,
    RefundState,
    job_view,
    refund_of,
)
from timmy.lightning.types import PaymentFailed
from timmy.observability import log_ref
from timmy.payouts import service as payouts
from timmy.quote import pricing_settings, validate_request_text
from timmy.settings import core

logger = logging.getLogger(__name__)


def parse_job_id(raw: str) -> str:
    """The canonical job id, or :class:`JobNotFound`: a malformed id cannot name a job."""
    try:
        return str(uuid.UUID(raw.strip()))
    except (ValueError, AttributeError):
        raise JobNotFound("No job with that id.") from None


def payment_wait_seconds() -> int:
    """How long the workflow waits for each of the job's invoices to be paid."""
    override = job_settings().job_payment_wait_seconds
    return override if override is not None else core().invoice_expiry_seconds


# --------------------------------------------------------------------------------- create


def create_job(request: str, *, header_token: str | None, body_token: str | None) -> JobCreated:
    """Validate, issue the eval invoice, store the job and start its workflow.

    Every check that can refuse the call runs before anything is stored; if the workflow
    cannot be started the job is removed again (503, nothing left behind).
    """
    request = validate_request_text(request)
    pubkey = identity.caller(header_token, body_token)
    machine_arn = job_settings().job_state_machine_arn
    if not machine_arn:
        raise ConfigurationError("JOB_STATE_MACHINE_ARN is not set")
    fee = pricing_settings().eval_fee_sats
    job_id = str(uuid.uuid4())

    created = payments.request_invoice(fee, f"Timmy job {job_id}: evaluation fee")
    with transaction() as tx:
        if pubkey is not None:
            identity.ensure_identity(tx, pubkey)
        invoice = payments.record_invoice(tx, created, purpose=PaymentPurpose.JOB, owner_id=job_id)
        data.insert(
            tx,
            job_id=job_id,
            request=request,
            nostr_pubkey=pubkey,
            eval_fee_sats=fee,
            eval_payment_hash=created.payment_hash,
        )
    _start_workflow(machine_arn, job_id, created.payment_hash)
    return JobCreated(
        job_id=job_id,
        state=JobState.AWAITING_EVAL_PAYMENT,
        eval_invoice=InvoiceOut.of(invoice),
        trust_tier=identity.tier_of(pubkey),
    )


def _start_workflow(machine_arn: str, job_id: str, eval_payment_hash: str) -> None:
    payload = {
        "job_id": job_id,
        "eval_payment_hash": eval_payment_hash,
        "payment_wait_seconds": payment_wait_seconds(),
    }
    try:
        # The job id names the execution: starting it twice cannot run two workflows.
        execution_arn = orchestrator.start_execution(machine_arn, job_id, payload)
    except Exception as error:
        logger.exception("starting the job workflow failed", extra={"job_ref": log_ref(job_id)})
        with transaction() as tx:
            invoices.mark_expired(tx, eval_payment_hash)
            data.delete_unstarted(tx, job_id)
        raise WorkflowUnavailable("The job workflow could not be started; try again.") from error
    with transaction() as tx:
        data.set_execution_arn(tx, job_id, execution_arn)


# ----------------------------------------------------------------------------------- read


def get_job(raw_job_id: str) -> JobView:
    """The job as its state allows. While it awaits a payment, the invoice is checked with the
    Lightning backend first: a paid invoice moves the job on and resumes its workflow (once,
    whoever else confirms the same payment)."""
    job_id = parse_job_id(raw_job_id)
    with transaction() as tx:
        job = data.get(tx, job_id)
    if job is None:
        raise JobNotFound("No job with that id.")
    pending = job.awaited_payment_hash
    if pending is not None:
        try:
            payments.confirm_payment(pending)
        except (UpstreamUnavailable, UpstreamBadGateway):
            # Polling shows the job as it is; the next poll (or the webhook) confirms it.
            logger.warning("payment check failed while polling", extra={"job_ref": log_ref(job_id)})
    with transaction() as tx:
        job = data.get(tx, job_id)
        assert job is not None  # jobs are never deleted once their workflow runs
        pending = job.awaited_payment_hash
        invoice = invoices.get(tx, pending) if pending is not None else None
        refund = payouts_data.latest_live(tx, refunds.KIND, job_id)
    return job_view(job, identity.tier_of(job.nostr_pubkey), invoice, refund)


# --------------------------------------------------------------------------------- refund


def refund_job(raw_job_id: str, bolt11: str) -> JobRefunded:
    """Pay the job's refundable amount to ``bolt11``, once, through the payout path.

    A refund payout still pending from an earlier claim is first resolved by asking the
    backend: if it definitely failed (or was never sent) the refund is claimable again with
    this new invoice; if it was paid, 409 ``already_refunded``; if it is still in flight, 409
    ``refund_in_progress``. A payment that definitely fails now answers 502
    ``payment_failed`` and leaves the refund claimable; an unknown outcome answers with the
    refund pending (the scheduled reconciler settles it).
    """
    job_id = parse_job_id(raw_job_id)
    with transaction() as tx:
        job = data.get(tx, job_id)
        earlier = payouts_data.latest_live(tx, refunds.KIND, job_id)
    if job is None:
        raise JobNotFound("No job with that id.")
    if earlier is not None and earlier.state == PayoutState.PENDING:
        try:
            payouts.resolve(earlier)
        except (UpstreamUnavailable, UpstreamBadGateway):
            logger.warning("refund status unavailable", extra={"job_ref": log_ref(job_id)})

    outcome = payouts.pay_out(refunds.JOB_REFUND, job_id, bolt11)
    payout = outcome.payout
    if payout.state == PayoutState.FAILED:
        raise PaymentFailed(
            "The refund payment failed and nothing was paid; claim it again with a new invoice."
        )
    refund = refund_of(payout, job.refundable_sats)
    assert refund is not None
    logger.info("job refund %s", refund.state, extra={"job_ref": log_ref(job_id)})
    return JobRefunded(
        job_id=job_id,
        refunded=refund.state == RefundState.SENT,
        refund=refund,
        trust_tier=identity.tier_of(job.nostr_pubkey),
    )
