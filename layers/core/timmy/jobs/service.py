"""What the job endpoints do: create a job, show it (advancing it when a payment arrived),
and pay its refund once."""

from __future__ import annotations

import logging
import uuid

from timmy import identity, orchestrator, payments
from timmy.data import invoices
from timmy.data import jobs as data
from timmy.db.connection import Db, Row, transaction
from timmy.errors import UpstreamBadGateway, UpstreamUnavailable
from timmy.jobs import INVOICE_PURPOSE
from timmy.jobs.errors import (
    AlreadyRefunded,
    InvoiceAmountRequired,
    InvoiceExpired,
    JobConfigurationError,
    JobNotFound,
    NothingRefundable,
    OwnInvoice,
    RefundAmountMismatch,
    RefundInProgress,
    WorkflowUnavailable,
)
from timmy.jobs.settings import job_settings
from timmy.jobs.views import InvoiceOut, JobCreated, JobRefunded, JobView, job_view, refund_of
from timmy.lightning import backend
from timmy.lightning.bolt11 import decode_invoice
from timmy.lightning.types import InvalidInvoice, PaymentFailed
from timmy.observability import log_ref
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
        raise JobConfigurationError("JOB_STATE_MACHINE_ARN is not configured.")
    fee = pricing_settings().eval_fee_sats
    job_id = str(uuid.uuid4())

    created = payments.request_invoice(fee, f"Timmy job {job_id}: evaluation fee")
    with transaction() as tx:
        if pubkey is not None:
            identity.ensure_identity(tx, pubkey)
        invoice = payments.record_invoice(tx, created, purpose=INVOICE_PURPOSE, owner_id=job_id)
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
        state="awaiting_eval_payment",
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


def _pending_payment_hash(job: Row) -> str | None:
    if job["state"] == "awaiting_eval_payment":
        return str(job["eval_payment_hash"])
    if job["state"] == "awaiting_work_payment" and job["work_payment_hash"]:
        return str(job["work_payment_hash"])
    return None


def get_job(raw_job_id: str) -> JobView:
    """The job as its state allows. While it awaits a payment, the invoice is checked with the
    Lightning backend first: a paid invoice moves the job on and resumes its workflow (once,
    whoever else confirms the same payment)."""
    job_id = parse_job_id(raw_job_id)
    with transaction() as tx:
        job = data.get(tx, job_id)
    if job is None:
        raise JobNotFound("No job with that id.")
    pending = _pending_payment_hash(job)
    if pending is not None:
        try:
            payments.confirm_payment(pending)
        except (UpstreamUnavailable, UpstreamBadGateway):
            # Polling shows the job as it is; the next poll (or the webhook) confirms it.
            logger.warning("payment check failed while polling", extra={"job_ref": log_ref(job_id)})
    with transaction() as tx:
        job = data.get(tx, job_id)
        assert job is not None  # jobs are never deleted once their workflow runs
        pending = _pending_payment_hash(job)
        invoice = invoices.get(tx, pending) if pending is not None else None
    return job_view(job, identity.tier_of(job["nostr_pubkey"]), invoice)


# --------------------------------------------------------------------------------- refund


def refund_job(raw_job_id: str, bolt11: str) -> JobRefunded:
    """Pay the job's refundable amount to ``bolt11``, once.

    The refund is marked pending in the same transaction that checks it (the job row locked),
    BEFORE any money moves: of concurrent calls, one pays and the others get 409. A payment
    that definitely failed releases the mark so the caller can try again; one whose outcome is
    unknown keeps it (pending) and may be retried with the same invoice only, after
    JOB_REFUND_RETRY_AFTER_SECONDS (Lightning never pays one payment hash twice).
    """
    job_id = parse_job_id(raw_job_id)
    invoice = decode_invoice(bolt11)
    if invoice.amount_sats is None:
        raise InvoiceAmountRequired(
            "The refund invoice must ask for the refundable amount, in whole sats."
        )
    if invoice.is_expired():
        raise InvoiceExpired("The refund invoice has expired.")

    with transaction() as tx:
        job = data.get(tx, job_id, for_update=True)
        if job is None:
            raise JobNotFound("No job with that id.")
        if invoices.get(tx, invoice.payment_hash) is not None:
            raise OwnInvoice("That invoice was issued by Timmy; send an invoice of your own.")
        claimed = _claim_refund(tx, job, invoice.payment_hash, invoice.bolt11, invoice.amount_sats)

    try:
        backend().pay(invoice.bolt11)
    except (PaymentFailed, InvalidInvoice):
        # Definitely not paid: give the refund back so the caller can try again.
        with transaction() as tx:
            data.release_refund(tx, job_id, invoice.payment_hash)
        raise
    with transaction() as tx:
        sent = data.mark_refund_sent(tx, job_id, invoice.payment_hash) or claimed
    refund = refund_of(sent)
    assert refund is not None
    logger.info(
        "job refund sent", extra={"job_ref": log_ref(job_id), "amount_sats": refund.amount_sats}
    )
    return JobRefunded(
        job_id=job_id,
        refunded=refund.state == "sent",
        refund=refund,
        trust_tier=identity.tier_of(job["nostr_pubkey"]),
    )


def _claim_refund(tx: Db, job: Row, payment_hash: str, bolt11: str, amount: int) -> Row:
    job_id = str(job["id"])
    refundable = int(job["refundable_sats"])
    if job["refund_state"] == "sent":
        raise AlreadyRefunded("This job's refund has already been paid.")
    if job["refund_state"] == "pending":
        if job["refund_payment_hash"] == payment_hash:
            retry = data.reclaim_pending_refund(
                tx,
                job_id,
                payment_hash=payment_hash,
                stale_after_seconds=job_settings().job_refund_retry_after_seconds,
            )
            if retry is not None:
                return retry
        raise RefundInProgress("This job's refund is being paid; check the job for its outcome.")
    if job["state"] not in ("complete", "failed") or refundable <= 0:
        raise NothingRefundable("Nothing is refundable for this job.")
    if amount != refundable:
        raise RefundAmountMismatch(
            f"The invoice asks for {amount} sats; the refundable amount is {refundable} sats."
        )
    claimed = data.claim_refund(tx, job_id, bolt11=bolt11, payment_hash=payment_hash)
    assert claimed is not None  # the row is locked and was checked just above
    return claimed
