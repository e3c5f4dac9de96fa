"""Data access for the ``bootstrap_jobs`` aggregate. All SQL about bootstrap jobs lives here.

State changes are conditional updates (``… WHERE state IN (…) RETURNING``): a step that runs
again, or two requests racing, can never move a job backwards or past a state twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from timmy.db.connection import Db, Row

_COLUMNS = (
    "j.id::text AS id, j.state, j.progress, j.amount_sats, j.payment_hash, j.execution_arn,"
    " j.ssh_secret_name, j.ssh_public_key, j.ssh_fingerprint, j.do_ssh_key_id,"
    " j.tailscale_enabled, j.droplet_requested_at, j.droplet_id, j.droplet_name, j.ip_polls,"
    " j.node_ip, j.tailscale_hostname, j.lnbits_url, j.ssh_key_delivered,"
    " j.ssh_key_delivered_at, j.ssh_secret_deleted_at, j.error_message, j.cleanup_complete,"
    " j.paid_at, j.ready_at, j.failed_at, j.created_at, j.updated_at"
)
_RETURNING = f"RETURNING {_COLUMNS}"
_ACTIVE = "('awaiting_payment', 'provisioning')"


def insert(tx: Db, *, job_id: UUID, payment_hash: str, amount_sats: int) -> Row:
    row = tx.one(
        "INSERT INTO bootstrap_jobs AS j (id, payment_hash, amount_sats)"
        f" VALUES (CAST(:id AS uuid), :h, :amount) {_RETURNING}",
        id=str(job_id),
        h=payment_hash,
        amount=amount_sats,
    )
    assert row is not None
    return row


def get(tx: Db, job_id: UUID) -> Row | None:
    """The job with its invoice's public fields (``invoice_*``)."""
    return tx.one(
        f"SELECT {_COLUMNS}, i.payment_request AS invoice_payment_request,"
        " i.expires_at AS invoice_expires_at, i.state AS invoice_state"
        " FROM bootstrap_jobs j JOIN invoices i ON i.payment_hash = j.payment_hash"
        " WHERE j.id = CAST(:id AS uuid)",
        id=str(job_id),
    )


def set_execution_arn(tx: Db, job_id: UUID, execution_arn: str) -> None:
    tx.execute(
        "UPDATE bootstrap_jobs SET execution_arn = :arn, updated_at = now()"
        " WHERE id = CAST(:id AS uuid)",
        id=str(job_id),
        arn=execution_arn,
    )


def mark_paid(tx: Db, payment_hash: str) -> Row | None:
    """awaiting_payment → provisioning when the invoice is paid (inside the flip transaction)."""
    return tx.one(
        "UPDATE bootstrap_jobs AS j SET state = 'provisioning', progress = 'paid',"
        " paid_at = now(), updated_at = now()"
        f" WHERE j.payment_hash = :h AND j.state = 'awaiting_payment' {_RETURNING}",
        h=payment_hash,
    )


def start_provisioning(tx: Db, job_id: UUID, progress: str) -> Row | None:
    """Enter (or stay in) provisioning, but only for a job whose invoice really is paid."""
    return tx.one(
        "UPDATE bootstrap_jobs AS j SET state = 'provisioning', progress = :progress,"
        " paid_at = COALESCE(j.paid_at, i.paid_at), updated_at = now()"
        " FROM invoices i WHERE i.payment_hash = j.payment_hash AND i.state = 'paid'"
        f" AND j.id = CAST(:id AS uuid) AND j.state IN {_ACTIVE} {_RETURNING}",
        id=str(job_id),
        progress=progress,
    )


def set_progress(tx: Db, job_id: UUID, progress: str) -> Row | None:
    """Record the step under way; None if the job is not provisioning (nothing to do)."""
    return tx.one(
        "UPDATE bootstrap_jobs AS j SET progress = :progress, updated_at = now()"
        f" WHERE j.id = CAST(:id AS uuid) AND j.state = 'provisioning' {_RETURNING}",
        id=str(job_id),
        progress=progress,
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
) -> Row | None:
    return tx.one(
        "UPDATE bootstrap_jobs AS j SET state = 'ready', progress = 'ready', node_ip = :ip,"
        " tailscale_hostname = :ts, lnbits_url = :lnbits, ready_at = now(), updated_at = now()"
        f" WHERE j.id = CAST(:id AS uuid) AND j.state = 'provisioning' {_RETURNING}",
        id=str(job_id),
        ip=node_ip,
        ts=tailscale_hostname,
        lnbits=lnbits_url,
    )


def mark_failed(tx: Db, job_id: UUID, *, error_message: str, cleanup_complete: bool) -> Row | None:
    """Fail a job that is not finished; a ready or already failed job is left as it is."""
    return tx.one(
        "UPDATE bootstrap_jobs AS j SET state = 'failed', error_message = :message,"
        " cleanup_complete = :cleanup, failed_at = now(), updated_at = now()"
        f" WHERE j.id = CAST(:id AS uuid) AND j.state IN {_ACTIVE} {_RETURNING}",
        id=str(job_id),
        message=error_message,
        cleanup=cleanup_complete,
    )


def claim_key_delivery(tx: Db, job_id: UUID) -> Row | None:
    """Mark the private key delivered: only one caller ever gets the row back."""
    return tx.one(
        "UPDATE bootstrap_jobs AS j SET ssh_key_delivered = true,"
        " ssh_key_delivered_at = now(), updated_at = now()"
        " WHERE j.id = CAST(:id AS uuid) AND j.state = 'ready' AND NOT j.ssh_key_delivered"
        f" {_RETURNING}",
        id=str(job_id),
    )


def mark_secret_deleted(tx: Db, job_id: UUID) -> None:
    tx.execute(
        "UPDATE bootstrap_jobs SET ssh_secret_deleted_at = COALESCE(ssh_secret_deleted_at,"
        " now()), updated_at = now() WHERE id = CAST(:id AS uuid)",
        id=str(job_id),
    )


def public_invoice(row: Row) -> dict[str, Any]:
    """The invoice fields a caller may see, from a row read with :func:`get`."""
    return {
        "payment_request": row["invoice_payment_request"],
        "payment_hash": row["payment_hash"],
        "amount_sats": int(row["amount_sats"]),
        "expires_at": row["invoice_expires_at"],
    }


# ------------------------------------------------------------------------- reconciliation


def unfinished(tx: Db, *, quiet_before: datetime, limit: int) -> list[Row]:
    """Unfinished jobs whose row has not changed since ``quiet_before``, oldest first, with
    their invoice's expiry."""
    return tx.all(
        f"SELECT {_COLUMNS}, i.expires_at AS invoice_expires_at"
        " FROM bootstrap_jobs j JOIN invoices i ON i.payment_hash = j.payment_hash"
        f" WHERE j.state IN {_ACTIVE} AND j.updated_at < :quiet_before"
        " ORDER BY j.updated_at LIMIT :limit",
        quiet_before=quiet_before,
        limit=limit,
    )


def claim_for_reconcile(
    tx: Db, job_id: UUID, *, state: str, updated_at: datetime, lease_seconds: int
) -> Row | None:
    """Take an unfinished job for the reconciler, to one caller, only if it is still as it was
    read and nobody else holds it: see :func:`timmy.data.jobs.claim_for_reconcile`."""
    return tx.one(
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
