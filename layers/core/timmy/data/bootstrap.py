"""Data access for the ``bootstrap_jobs`` aggregate. All SQL about bootstrap jobs lives here.

State changes are conditional updates (``… WHERE state IN (…) RETURNING``): a step that runs
again, or two requests racing, can never move a job backwards or past a state twice.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Final
from uuid import UUID

from timmy.data.invoices import InvoiceState
from timmy.db.connection import Db, Row


class BootstrapState(enum.StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"
    PROVISIONING = "provisioning"
    READY = "ready"
    FAILED = "failed"


ACTIVE_STATES: Final = frozenset({BootstrapState.AWAITING_PAYMENT, BootstrapState.PROVISIONING})


class BootstrapProgress(enum.StrEnum):
    """The step under way, recorded by the workflow for the progress message."""

    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    SSH_KEY = "ssh_key"
    UPLOAD_SSH_KEY = "upload_ssh_key"
    TAILSCALE_KEY = "tailscale_key"
    CREATE_DROPLET = "create_droplet"
    WAIT_FOR_IP = "wait_for_ip"
    READY = "ready"


@dataclass(frozen=True, slots=True)
class BootstrapJob:
    id: str
    state: BootstrapState
    progress: BootstrapProgress
    amount_sats: int
    payment_hash: str
    execution_arn: str | None
    ssh_secret_name: str | None
    ssh_public_key: str | None
    ssh_fingerprint: str | None
    do_ssh_key_id: int | None
    tailscale_enabled: bool | None  # None until the workflow decided
    droplet_requested_at: datetime | None
    droplet_id: int | None
    droplet_name: str | None
    ip_polls: int
    node_ip: str | None
    tailscale_hostname: str | None
    lnbits_url: str | None
    ssh_key_delivered: bool
    ssh_key_delivered_at: datetime | None
    ssh_secret_deleted_at: datetime | None
    error_message: str | None
    cleanup_complete: bool | None
    paid_at: datetime | None
    ready_at: datetime | None
    failed_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class UnfinishedBootstrapJob:
    """A job the reconciler looks at, with its invoice's expiry."""

    job: BootstrapJob
    invoice_expires_at: datetime


_COLUMNS = ", ".join(
    "j.id::text AS id" if f.name == "id" else f"j.{f.name}" for f in fields(BootstrapJob)
)
_RETURNING = f"RETURNING {_COLUMNS}"
# States and progress labels travel as parameters named by their value (``:provisioning``,
# ``:p_ready``); pg8000 sends only the parameters a statement names.
_PARAMS: Final = {
    **{state.value: state.value for state in BootstrapState},
    **{f"p_{progress.value}": progress.value for progress in BootstrapProgress},
}
_ACTIVE = "(" + ", ".join(f":{state.value}" for state in sorted(ACTIVE_STATES)) + ")"


def _job(row: Row) -> BootstrapJob:
    return BootstrapJob(
        **{
            **row,
            "state": BootstrapState(row["state"]),
            "progress": BootstrapProgress(row["progress"]),
        }
    )


def _one(tx: Db, sql: str, **params: object) -> BootstrapJob | None:
    row = tx.one(sql, **_PARAMS, **params)
    return None if row is None else _job(row)


def insert(tx: Db, *, job_id: UUID, payment_hash: str, amount_sats: int) -> BootstrapJob:
    row = tx.one(
        "INSERT INTO bootstrap_jobs AS j (id, payment_hash, amount_sats)"
        f" VALUES (CAST(:id AS uuid), :h, :amount) {_RETURNING}",
        id=str(job_id),
        h=payment_hash,
        amount=amount_sats,
    )
    assert row is not None
    return _job(row)


def get(tx: Db, job_id: UUID) -> BootstrapJob | None:
    return _one(
        tx,
        f"SELECT {_COLUMNS} FROM bootstrap_jobs j WHERE j.id = CAST(:id AS uuid)",
        id=str(job_id),
    )


def set_execution_arn(tx: Db, job_id: UUID, execution_arn: str) -> None:
    tx.execute(
        "UPDATE bootstrap_jobs SET execution_arn = :arn, updated_at = now()"
        " WHERE id = CAST(:id AS uuid)",
        id=str(job_id),
        arn=execution_arn,
    )


def mark_paid(tx: Db, payment_hash: str) -> BootstrapJob | None:
    """awaiting_payment → provisioning when the invoice is paid (inside the flip transaction)."""
    return _one(
        tx,
        "UPDATE bootstrap_jobs AS j SET state = :provisioning, progress = :p_paid,"
        " paid_at = now(), updated_at = now()"
        f" WHERE j.payment_hash = :h AND j.state = :awaiting_payment {_RETURNING}",
        h=payment_hash,
    )


def start_provisioning(tx: Db, job_id: UUID, progress: BootstrapProgress) -> BootstrapJob | None:
    """Enter (or stay in) provisioning, but only for a job whose invoice really is paid."""
    return _one(
        tx,
        "UPDATE bootstrap_jobs AS j SET state = :provisioning, progress = :progress,"
        " paid_at = COALESCE(j.paid_at, i.paid_at), updated_at = now()"
        " FROM invoices i WHERE i.payment_hash = j.payment_hash AND i.state = :invoice_paid"
        f" AND j.id = CAST(:id AS uuid) AND j.state IN {_ACTIVE} {_RETURNING}",
        id=str(job_id),
        progress=progress.value,
        invoice_paid=InvoiceState.PAID.value,
    )


def set_progress(tx: Db, job_id: UUID, progress: BootstrapProgress) -> BootstrapJob | None:
    """Record the step under way; None if the job is not provisioning (nothing to do)."""
    return _one(
        tx,
        "UPDATE bootstrap_jobs AS j SET progress = :progress, updated_at = now()"
        f" WHERE j.id = CAST(:id AS uuid) AND j.state = :provisioning {_RETURNING}",
        id=str(job_id),
        progress=progress.value,
    )


def record_ssh_key(
    tx: Db, job_id: UUID, *, secret_name: str, public_key: str, fingerprint: str
) -> None:
    tx.execute(
        "UPDATE bootstrap_jobs SET ssh_secret_name = :name, ssh_public_key = :pub,"
        " ssh_fingerprint = :fp, updated_at = now() WHERE id = CAST(:id AS uuid)",
        id=str(job_id),
        name=secret_name,
        pub=public_key,
        fp=fingerprint,
    )


def record_do_ssh_key(tx: Db, job_id: UUID, key_id: int) -> None:
    tx.execute(
        "UPDATE bootstrap_jobs SET do_ssh_key_id = :key, updated_at = now()"
        " WHERE id = CAST(:id AS uuid)",
        id=str(job_id),
        key=key_id,
    )


def record_tailscale(tx: Db, job_id: UUID, *, enabled: bool) -> None:
    tx.execute(
        "UPDATE bootstrap_jobs SET tailscale_enabled = :enabled, updated_at = now()"
        " WHERE id = CAST(:id AS uuid)",
        id=str(job_id),
        enabled=enabled,
    )


def record_droplet_requested(tx: Db, job_id: UUID, droplet_name: str) -> None:
    tx.execute(
        "UPDATE bootstrap_jobs SET droplet_requested_at = COALESCE(droplet_requested_at, now()),"
        " droplet_name = :name, updated_at = now() WHERE id = CAST(:id AS uuid)",
        id=str(job_id),
        name=droplet_name,
    )


def record_droplet(tx: Db, job_id: UUID, droplet_id: int) -> None:
    tx.execute(
        "UPDATE bootstrap_jobs SET droplet_id = :droplet, updated_at = now()"
        " WHERE id = CAST(:id AS uuid)",
        id=str(job_id),
        droplet=droplet_id,
    )


def record_ip_poll(tx: Db, job_id: UUID, polls: int) -> None:
    tx.execute(
        "UPDATE bootstrap_jobs SET ip_polls = GREATEST(ip_polls, :polls), updated_at = now()"
        " WHERE id = CAST(:id AS uuid)",
        id=str(job_id),
        polls=polls,
    )


def mark_ready(
    tx: Db,
    job_id: UUID,
    *,
    node_ip: str,
    tailscale_hostname: str | None,
    lnbits_url: str | None,
) -> BootstrapJob | None:
    return _one(
        tx,
        "UPDATE bootstrap_jobs AS j SET state = :ready, progress = :p_ready, node_ip = :ip,"
        " tailscale_hostname = :ts, lnbits_url = :lnbits, ready_at = now(), updated_at = now()"
        f" WHERE j.id = CAST(:id AS uuid) AND j.state = :provisioning {_RETURNING}",
        id=str(job_id),
        ip=node_ip,
        ts=tailscale_hostname,
        lnbits=lnbits_url,
    )


def mark_failed(
    tx: Db, job_id: UUID, *, error_message: str, cleanup_complete: bool
) -> BootstrapJob | None:
    """Fail a job that is not finished; a ready or already failed job is left as it is."""
    return _one(
        tx,
        "UPDATE bootstrap_jobs AS j SET state = :failed, error_message = :message,"
        " cleanup_complete = :cleanup, failed_at = now(), updated_at = now()"
        f" WHERE j.id = CAST(:id AS uuid) AND j.state IN {_ACTIVE} {_RETURNING}",
        id=str(job_id),
        message=error_message,
        cleanup=cleanup_complete,
    )


def claim_key_delivery(tx: Db, job_id: UUID) -> BootstrapJob | None:
    """Mark the private key delivered: only one caller ever gets the row back."""
    return _one(
        tx,
        "UPDATE bootstrap_jobs AS j SET ssh_key_delivered = true,"
        " ssh_key_delivered_at = now(), updated_at = now()"
        " WHERE j.id = CAST(:id AS uuid) AND j.state = :ready AND NOT j.ssh_key_delivered"
        f" {_RETURNING}",
        id=str(job_id),
    )


def mark_secret_deleted(tx: Db, job_id: UUID) -> None:
    tx.execute(
        "UPDATE bootstrap_jobs SET ssh_secret_deleted_at = COALESCE(ssh_secret_deleted_at,"
        " now()), updated_at = now() WHERE id = CAST(:id AS uuid)",
        id=str(job_id),
    )


# ------------------------------------------------------------------------- reconciliation


def unfinished(tx: Db, *, quiet_before: datetime, limit: int) -> list[UnfinishedBootstrapJob]:
    """Unfinished jobs whose row has not changed since ``quiet_before``, oldest first, with
    their invoice's expiry."""
    rows = tx.all(
        f"SELECT {_COLUMNS}, i.expires_at AS invoice_expires_at"
        " FROM bootstrap_jobs j JOIN invoices i ON i.payment_hash = j.payment_hash"
        f" WHERE j.state IN {_ACTIVE} AND j.updated_at < :quiet_before"
        " ORDER BY j.updated_at LIMIT :limit",
        quiet_before=quiet_before,
        limit=limit,
        **_PARAMS,
    )
    unfinished_jobs = []
    for row in rows:
        expires_at = row.pop("invoice_expires_at")
        unfinished_jobs.append(UnfinishedBootstrapJob(job=_job(row), invoice_expires_at=expires_at))
    return unfinished_jobs


def claim_for_reconcile(
    tx: Db, job_id: UUID, *, state: BootstrapState, updated_at: datetime, lease_seconds: int
) -> BootstrapJob | None:
    """Take an unfinished job for the reconciler, to one caller, only if it is still as it was
    read and nobody else holds it: see :func:`timmy.data.jobs.claim_for_reconcile`."""
    return _one(
        tx,
        "UPDATE bootstrap_jobs AS j SET reconcile_claimed_at = now()"
        " WHERE j.id = CAST(:id AS uuid) AND j.state = :state AND j.updated_at = :seen"
        " AND (j.reconcile_claimed_at IS NULL"
        "      OR j.reconcile_claimed_at < now() - make_interval(secs => :lease))"
        f" {_RETURNING}",
        id=str(job_id),
        state=state,
        seen=updated_at,
        lease=lease_seconds,
    )


def release_reconcile_claim(tx: Db, job_id: UUID) -> None:
    """The reconciler leaves the job unfinished (an upstream was down): the next run retries."""
    tx.execute(
        "UPDATE bootstrap_jobs SET reconcile_claimed_at = NULL WHERE id = CAST(:id AS uuid)",
        id=str(job_id),
    )
