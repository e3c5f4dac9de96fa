"""Reconciling bootstrap jobs whose provisioning workflow was lost or is stuck.

Found and claimed as jobs are (:mod:`timmy.reconcile.jobs`), then ended by the workflow's own
steps:

* ``awaiting_payment``: nothing until the invoice has expired; then the backend is asked once
  more (a payment whose notice was lost is provisioning now, and is ended as below), else the
  invoice expires and the job fails as the workflow's RecordExpiry would;
* ``provisioning``: what the run created (droplet, DigitalOcean SSH key, secret) is deleted by
  :func:`timmy.bootstrap.steps.cleanup` and the job is marked failed by
  :func:`timmy.bootstrap.steps.record_failure`, as the workflow's Cleanup → RecordFailure
  branch does. A cleanup error the workflow would retry leaves the job for the next run; any
  other is recorded (``cleanup_complete`` false, logged for a person) like the workflow does.

The paid fee is not refundable: bootstrap has no refund path (a failed node's fee stays paid).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from timmy import payments
from timmy.bootstrap import steps
from timmy.data import bootstrap as data
from timmy.data.bootstrap import BootstrapJob, BootstrapState, UnfinishedBootstrapJob
from timmy.db.connection import transaction
from timmy.provisioning.settings import provisioning_settings
from timmy.reconcile.executions import Liveness, liveness
from timmy.reconcile.runner import reconcile_each
from timmy.reconcile.settings import CLAIM_LEASE_SECONDS, reconcile_settings

logger = logging.getLogger(__name__)

# The errors the workflow's Cleanup retries: worth another run rather than giving up.
_RETRYABLE_CLEANUP_ERRORS = frozenset(
    {"ProvisioningUnavailable", "ProvisioningOutcomeUnknown", "SecretStoreUnavailable"}
)


def reconcile_bootstrap_jobs(now: datetime) -> tuple[int, int]:
    """End the bootstrap jobs left unfinished by a lost or stuck workflow: (ended, errors)."""
    settings = reconcile_settings()
    quiet_before = now - timedelta(seconds=settings.reconcile_grace_seconds)
    with transaction() as tx:
        candidates = data.unfinished(
            tx, quiet_before=quiet_before, limit=settings.reconcile_batch_size
        )
    return reconcile_each(
        candidates,
        lambda candidate: reconcile_bootstrap_job(candidate, now),
        what="a bootstrap job",
        item_id=lambda candidate: candidate.job.id,
    )


def reconcile_bootstrap_job(candidate: UnfinishedBootstrapJob, now: datetime) -> bool:
    """True when this call ended the job (read by :func:`timmy.data.bootstrap.unfinished`)."""
    row = candidate.job
    expires_at = candidate.invoice_expires_at
    awaiting = row.state == BootstrapState.AWAITING_PAYMENT
    if awaiting and expires_at > now:
        return False  # still payable
    verdict = liveness(
        row.execution_arn,
        state_machine_arn=provisioning_settings().bootstrap_state_machine_arn,
        name=row.id,
        quiet_since=max(row.updated_at, expires_at) if awaiting else row.updated_at,
        now=now,
        stuck_after_seconds=reconcile_settings().reconcile_stuck_after_seconds,
    )
    if verdict is Liveness.ALIVE:
        return False
    job_id = UUID(row.id)
    with transaction() as tx:
        claimed = data.claim_for_reconcile(
            tx,
            job_id,
            state=row.state,
            updated_at=row.updated_at,
            lease_seconds=CLAIM_LEASE_SECONDS,
        )
    if claimed is None:
        return False  # moved meanwhile, or another reconciler holds it
    logger.warning(
        "reconciling a bootstrap job",
        extra={"job_id": row.id, "state": str(row.state), "execution": str(verdict)},
    )
    try:
        return _end(job_id, row, f"execution {verdict}")
    except BaseException:
        with transaction() as tx:
            data.release_reconcile_claim(tx, job_id)
        raise


def _end(job_id: UUID, row: BootstrapJob, cause: str) -> bool:
    if (
        row.state == BootstrapState.AWAITING_PAYMENT
        and not payments.confirm_payment(row.payment_hash).paid
    ):
        payments.expire_invoice(row.payment_hash)
        ended = steps.record_failure(
            job_id,
            steps.INVOICE_EXPIRED,
            "the invoice was not paid before it expired",
            {"complete": True, "removed": []},
        )
        return ended["state"] == BootstrapState.FAILED
    return _clean_up_and_fail(job_id, cause)


def _clean_up_and_fail(job_id: UUID, cause: str) -> bool:
    cleanup: dict[str, Any]
    try:
        cleanup = steps.cleanup(job_id)
    except Exception as error:
        if type(error).__name__ in _RETRYABLE_CLEANUP_ERRORS:
            raise  # left provisioning: the next run cleans up again
        logger.exception("bootstrap cleanup failed", extra={"job_id": str(job_id)})
        cleanup = {"complete": False, "Error": type(error).__name__, "Cause": str(error)[:500]}
    ended = steps.record_failure(job_id, steps.WORKFLOW_LOST, cause, cleanup)
    return ended["state"] == BootstrapState.FAILED
