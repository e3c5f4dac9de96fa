"""The bootstrap endpoints: create a job (invoice + workflow) and report a job's state.

One-time key delivery (the first GET in ``ready``), in this order:

1. read the private key from Secrets Manager (no transaction open, nothing changed yet);
2. claim the delivery: ``UPDATE … SET ssh_key_delivered = true WHERE … AND NOT
   ssh_key_delivered RETURNING`` and commit; only one request ever gets the row back, so two
   concurrent first GETs deliver the key exactly once (the loser answers with the note);
3. delete the secret, then record that it is deleted.

A crash before (2) changes nothing: the next GET delivers. A crash between (2) and (3) leaves
the key delivered once and the secret still stored (never lost, never delivered again); every
later GET sees ``ssh_secret_deleted_at`` unset and deletes it. Deleting before the claim is
committed is what could lose the key without having delivered it, so it never happens.
"""

from __future__ import annotations

import logging
import math
import uuid
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from timmy import orchestrator, payments
from timmy.bootstrap import messages
from timmy.bootstrap import secrets as key_store
from timmy.bootstrap.errors import BootstrapJobNotFound
from timmy.bootstrap.models import BootstrapCreated, BootstrapInvoice, BootstrapStatus
from timmy.data import bootstrap as jobs
from timmy.data import invoices
from timmy.data.bootstrap import BootstrapJob, BootstrapState
from timmy.data.invoices import Invoice, PaymentPurpose
from timmy.db.connection import Db, transaction
from timmy.errors import ConfigurationError, UpstreamUnavailable
from timmy.observability import log_ref
from timmy.provisioning.settings import provisioning_settings
from timmy.settings import core

logger = logging.getLogger(__name__)


def parse_job_id(raw: str) -> UUID:
    """A job id is a UUID; anything else names no job (404, like an unknown id)."""
    try:
        return UUID(raw.strip())
    except (ValueError, AttributeError):
        raise BootstrapJobNotFound("No bootstrap job with that id.") from None


def _load(job_id: UUID) -> BootstrapJob:
    with transaction() as tx:
        row = jobs.get(tx, job_id)
    if row is None:
        raise BootstrapJobNotFound("No bootstrap job with that id.")
    return row


# --- POST /api/bootstrap --------------------------------------------------------------------


def create_job(*, base_url: str) -> BootstrapCreated:
    settings = provisioning_settings()
    machine_arn = settings.bootstrap_state_machine_arn
    if not machine_arn:
        raise ConfigurationError("BOOTSTRAP_STATE_MACHINE_ARN is not set")
    job_id = uuid.uuid4()
    # Network first, outside any transaction; a failure here leaves nothing behind.
    created = payments.request_invoice(
        settings.bootstrap_fee_sats, f"Timmy bootstrap: Bitcoin full node (job {job_id})"
    )
    with transaction() as tx:
        invoice = payments.record_invoice(
            tx, created, purpose=PaymentPurpose.BOOTSTRAP, owner_id=str(job_id)
        )
        jobs.insert(
            tx, job_id=job_id, payment_hash=created.payment_hash, amount_sats=created.amount_sats
        )
    try:
        execution_arn = orchestrator.start_execution(
            machine_arn,
            str(job_id),
            workflow_input(job_id, created.payment_hash, created.expires_at),
        )
    except Exception:
        logger.exception(
            "could not start the bootstrap workflow", extra={"job_ref": log_ref(job_id)}
        )
        with transaction() as tx:
            jobs.mark_failed(
                tx,
                job_id,
                error_message="The provisioning workflow could not be started.",
                cleanup_complete=True,
            )
        raise UpstreamUnavailable(
            "The provisioning workflow could not be started; nothing was charged. Try again.",
            code="workflow_unavailable",
        ) from None
    with transaction() as tx:
        jobs.set_execution_arn(tx, job_id, execution_arn)
    row = _load(job_id)
    message, next_steps = messages.awaiting_payment(
        row, base_url=base_url, dev_mode=core().dev_mode
    )
    return BootstrapCreated(
        bootstrap_job_id=str(job_id),
        state=BootstrapState.AWAITING_PAYMENT,
        invoice=BootstrapInvoice.of(invoice),
        message=message,
        next_steps=next_steps,
    )


def workflow_input(job_id: UUID, payment_hash: str, expires_at: datetime) -> dict[str, Any]:
    """The execution input: ids plus the pacing, so tests and dev can run the waits short."""
    settings = provisioning_settings()
    remaining = (expires_at - datetime.now(UTC)).total_seconds()
    return {
        "job_id": str(job_id),
        "payment_hash": payment_hash,
        # The wait for payment ends when the invoice expires (Step Functions wants >= 1).
        "payment_timeout_seconds": max(1, math.ceil(remaining)),
        "boot_wait_seconds": settings.boot_wait_seconds,
        "poll_interval_seconds": settings.poll_interval_seconds,
        "max_ip_polls": settings.bootstrap_ip_poll_attempts,
    }


# --- GET /api/bootstrap/{id} ----------------------------------------------------------------


def get_status(raw_job_id: str, *, base_url: str) -> BootstrapStatus:
    job_id = parse_job_id(raw_job_id)
    row = _load(job_id)
    if row.state == BootstrapState.AWAITING_PAYMENT:
        row = _confirm_payment(job_id, row)
    if row.state == BootstrapState.READY:
        return _ready_status(job_id, row)
    return _status(row, base_url=base_url)


def _confirm_payment(job_id: UUID, row: BootstrapJob) -> BootstrapJob:
    """Polling is one of the ways a payment is noticed (the webhook is only a hint)."""
    try:
        result = payments.confirm_payment(row.payment_hash)
    except UpstreamUnavailable:
        # The Lightning backend is down: the job's state is still right, just not news.
        logger.warning("could not check the bootstrap invoice", extra={"job_ref": log_ref(job_id)})
        return row
    return _load(job_id) if result.paid else row


def _status(row: BootstrapJob, *, base_url: str) -> BootstrapStatus:
    state = row.state
    fields: dict[str, Any] = {}
    if state == BootstrapState.AWAITING_PAYMENT:
        message, next_steps = messages.awaiting_payment(
            row, base_url=base_url, dev_mode=core().dev_mode
        )
        fields["invoice"] = BootstrapInvoice.of(_invoice_of(row))
    elif state == BootstrapState.PROVISIONING:
        message, next_steps = messages.provisioning(row, base_url=base_url)
        fields["progress"] = row.progress
    else:
        message, next_steps = messages.failed(row, base_url=base_url)
        fields["error_message"] = row.error_message
    return _model(row, message=message, next_steps=next_steps, **fields)


def _invoice_of(row: BootstrapJob) -> Invoice:
    with transaction() as tx:
        invoice = invoices.get(tx, row.payment_hash)
    assert invoice is not None  # the job's row references it
    return invoice


def _ready_status(job_id: UUID, row: BootstrapJob) -> BootstrapStatus:
    private_key: str | None = None
    key_missing = False
    if not row.ssh_key_delivered:
        private_key, key_missing, row = deliver_key_once(job_id, row)
    elif row.ssh_secret_deleted_at is None:
        # A crash after an earlier delivery left the secret behind: finish the job now.
        _delete_secret(job_id, row)
    message, next_steps = messages.ready(row, key_in_this_response=private_key is not None)
    return _model(
        row,
        message=message,
        next_steps=next_steps,
        node_ip=row.node_ip,
        tailscale_hostname=row.tailscale_hostname,
        lnbits_url=row.lnbits_url,
        ssh_private_key=private_key,
        ssh_key_note=messages.key_note(
            delivered_now=private_key is not None, key_missing=key_missing
        ),
    )


def deliver_key_once(job_id: UUID, row: BootstrapJob) -> tuple[str | None, bool, BootstrapJob]:
    """(private key or None, key missing?, fresh row): read, claim, then delete (see above)."""
    name = row.ssh_secret_name or key_store.secret_name(job_id)
    stored = key_store.read(name)  # SecretStoreUnavailable → 503, nothing changed
    with transaction() as tx:
        claimed = jobs.claim_key_delivery(tx, job_id)
    if claimed is None:
        # Another request delivered it between our read and our claim.
        return None, False, _load(job_id)
    private_key = stored.get("private_key") if stored else None
    if not private_key:
        logger.error("bootstrap SSH key missing at delivery", extra={"job_ref": log_ref(job_id)})
        return None, True, _load(job_id)
    _delete_secret(job_id, claimed)
    return private_key, False, _load(job_id)


def _delete_secret(job_id: UUID, row: BootstrapJob) -> None:
    name = row.ssh_secret_name or key_store.secret_name(job_id)
    try:
        key_store.delete(name)
    except key_store.SecretStoreUnavailable:
        # Delivered and recorded; the next GET tries the delete again.
        logger.warning(
            "could not delete a delivered SSH key yet", extra={"job_ref": log_ref(job_id)}
        )
        return
    with transaction() as tx:
        jobs.mark_secret_deleted(tx, job_id)


def _model(
    row: BootstrapJob, *, message: str, next_steps: list[str], **fields: Any
) -> BootstrapStatus:
    return BootstrapStatus(
        bootstrap_job_id=row.id,
        state=row.state,
        message=message,
        next_steps=next_steps,
        created_at=row.created_at,
        updated_at=row.updated_at,
        **fields,
    )


# --- payments -------------------------------------------------------------------------------


def on_invoice_paid(tx: Db, invoice: Invoice) -> None:
    """The on-paid handler of ``PaymentPurpose.BOOTSTRAP`` (``timmy.payments``), run inside
    the flip transaction: the job starts provisioning."""
    jobs.mark_paid(tx, invoice.payment_hash)
