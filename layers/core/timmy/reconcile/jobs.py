"""Reconciling jobs whose workflow was lost or is stuck (see :mod:`timmy.reconcile`).

Each job found unfinished, quiet past the grace period, and whose execution is gone or stuck is
claimed (one reconciler wins, and only if the row is still as read) and ended by the workflow's
own steps, so the money follows the same rules as in the workflow:

* awaiting a payment: nothing until its invoice has expired (a payment may still arrive and
  must find the job); then the backend is asked once more (a payment whose notice was lost
  moves the job on, and it is ended as below), else the invoice and the job expire;
* ``evaluating`` (the eval fee paid, no verdict or no price yet), or ``executing`` without a
  result: failed (:func:`timmy.jobs.workflow.fail`): everything paid is refundable and the free
  tier's reservation, if any, goes back to the pool;
* ``executing`` with its result stored: only Settle was left, so it is run (it is idempotent);
  should it fail, the job fails as above.

A failure the reconciler records is ours, not the caller's, so it is not counted in the
caller's trust (and marked as counted, so a stuck execution that wakes up does not count it
either); a settled job is (as RecordCompletion would have).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from timmy import payments
from timmy.data import jobs as data
from timmy.data.jobs import AWAITING_PAYMENT_STATES, Job, JobState, UnfinishedJob
from timmy.db.connection import transaction
from timmy.jobs import workflow
from timmy.jobs.settings import job_settings
from timmy.reconcile.executions import Liveness, liveness
from timmy.reconcile.runner import reconcile_each
from timmy.reconcile.settings import CLAIM_LEASE_SECONDS, reconcile_settings

logger = logging.getLogger(__name__)

WORKFLOW_LOST = "WorkflowLost"


def reconcile_jobs(now: datetime) -> tuple[int, int]:
    """End the jobs left unfinished by a lost or stuck workflow: (ended, errors)."""
    settings = reconcile_settings()
    quiet_before = now - timedelta(seconds=settings.reconcile_grace_seconds)
    with transaction() as tx:
        candidates = data.unfinished(
            tx, quiet_before=quiet_before, limit=settings.reconcile_batch_size
        )
    return reconcile_each(
        candidates, lambda row: reconcile_job(row, now), what="a job", item_id=lambda row: row.id
    )


def reconcile_job(row: UnfinishedJob, now: datetime) -> bool:
    """True when this call ended the job (read by :func:`timmy.data.jobs.unfinished`)."""
    expires_at = row.invoice_expires_at
    if row.state in AWAITING_PAYMENT_STATES and expires_at is not None and expires_at > now:
        return False  # still payable: a live workflow waits for it, a lost one must too
    quiet_since = max(row.updated_at, expires_at) if expires_at else row.updated_at
    verdict = liveness(
        row.execution_arn,
        state_machine_arn=job_settings().job_state_machine_arn,
        name=row.id,
        quiet_since=quiet_since,
        now=now,
        stuck_after_seconds=reconcile_settings().reconcile_stuck_after_seconds,
    )
    if verdict is Liveness.ALIVE:
        return False
    with transaction() as tx:
        claimed = data.claim_for_reconcile(
            tx,
            row.id,
            state=row.state,
            updated_at=row.updated_at,
            lease_seconds=CLAIM_LEASE_SECONDS,
        )
    if claimed is None:
        return False  # moved meanwhile, or another reconciler holds it
    logger.warning(
        "reconciling a job",
        extra={"job_id": row.id, "state": str(row.state), "execution": str(verdict)},
    )
    try:
        return _end(claimed, row.awaited_payment_hash, f"execution {verdict}")
    except BaseException:
        with transaction() as tx:
            data.release_reconcile_claim(tx, row.id)
        raise


def _end(job: Job, awaited_payment_hash: str | None, cause: str) -> bool:
    job_id = job.id
    if job.state in AWAITING_PAYMENT_STATES and awaited_payment_hash is not None:
        # The backend has the last word on an expired invoice; UpstreamUnavailable leaves the
        # job for the next run (expiring a paid invoice would strand the payment).
        if not payments.confirm_payment(awaited_payment_hash).paid:
            payments.expire_invoice(awaited_payment_hash)
            return workflow.expire(job_id) == JobState.EXPIRED
        job = _current(job_id)  # paid after all: the on-paid hook moved it on
    if job.ended:
        return False
    if job.state == JobState.EXECUTING and job.result is not None:
        try:
            workflow.settle(job_id)
        except Exception:  # settling is the better end; failing is the safe one
            logger.exception("could not settle a reconciled job", extra={"job_id": job_id})
        else:
            _record_trust(job_id)
            return True
    if workflow.fail(job_id, WORKFLOW_LOST, cause).state != JobState.FAILED:
        return False
    with transaction() as tx:
        # Marked as counted, uncounted: a stuck execution that wakes up later and reaches
        # RecordFailure must not count our failure against the caller either.
        data.claim_trust_record(tx, job_id)
    return True


def _current(job_id: str) -> Job:
    with transaction() as tx:
        row = data.get(tx, job_id)
    assert row is not None  # jobs are never deleted once their workflow started
    return row


def _record_trust(job_id: str) -> None:
    try:
        workflow.record_trust(job_id)
    except Exception:  # best effort, like the workflow's RecordCompletion
        logger.exception("could not record a settled job's trust", extra={"job_id": job_id})
