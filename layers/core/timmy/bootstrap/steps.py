"""The provisioning workflow's steps (BootstrapStateMachine), one function per task state.

Every step is idempotent under Step Functions retries: it reads the job row first and skips
work the row says is done; each resource is recorded as soon as it exists. What cannot be
recorded atomically with its creation is found again by name: the secret by its name, the
DigitalOcean SSH key by its fingerprint (the client does that), the droplet by its
``timmy-job-<id>`` tag. Errors are raised as typed exceptions whose class names the state
machine's Retry/Catch match (``ProvisioningUnavailable``, ``ProvisioningOutcomeUnknown``,
``SecretStoreUnavailable`` are retried; anything else fails over to the cleanup branch).
"""

from __future__ import annotations

import json
import logging
from typing import Any
from uuid import UUID

from timmy.bootstrap import clients, messages
from timmy.bootstrap import secrets as key_store
from timmy.bootstrap.errors import BootstrapJobNotFound, JobNotProvisioning
from timmy.data import bootstrap as jobs
from timmy.data import invoices
from timmy.data.bootstrap import BootstrapJob, BootstrapProgress, BootstrapState
from timmy.db.connection import transaction
from timmy.observability import log_ref
from timmy.provisioning.cloudinit import build_cloud_init, node_hostname
from timmy.provisioning.settings import provisioning_settings
from timmy.provisioning.sshkeys import generate_ssh_keypair, sha256_fingerprint

logger = logging.getLogger(__name__)

# Every droplet Timmy creates carries this tag, plus the job's own (see job_tag).
FLEET_TAG = "timmy"

# Error names whose messages were written for people (upstream text already redacted).
_EXPLAINED_ERRORS = frozenset(
    {
        "ProvisioningFailed",
        "ProvisioningUnavailable",
        "ProvisioningOutcomeUnknown",
        "SecretStoreUnavailable",
        "UserDataTooLarge",
    }
)
INVOICE_EXPIRED = "InvoiceExpired"
DROPLET_IP_TIMEOUT = "DropletIpTimeout"
# Named by the scheduled reconciler (timmy.reconcile) for a job whose workflow was lost.
WORKFLOW_LOST = "WorkflowLost"


def job_tag(job_id: UUID) -> str:
    """The tag (and DigitalOcean SSH key name) that ties cloud resources to one job."""
    return f"timmy-job-{job_id}"


def _enter(job_id: UUID, progress: BootstrapProgress, *, first: bool = False) -> BootstrapJob:
    """Record the step under way and return the row; refuse a job that is not provisioning.

    The first step also moves a paid job into provisioning (the on-paid handler normally
    already did) and refuses one whose invoice is not paid.
    """
    with transaction() as tx:
        if first:
            row = jobs.start_provisioning(tx, job_id, progress)
        else:
            row = jobs.set_progress(tx, job_id, progress)
        current = jobs.get(tx, job_id) if row is None else None
        invoice = invoices.get(tx, current.payment_hash) if current is not None else None
    if row is not None:
        return row
    if current is None:
        raise BootstrapJobNotFound(f"No bootstrap job {job_id}.")
    invoice_state = invoice.state if invoice is not None else "missing"
    raise JobNotProvisioning(
        f"Bootstrap job {job_id} is {current.state} (invoice {invoice_state})."
    )


def _load(job_id: UUID) -> BootstrapJob:
    with transaction() as tx:
        row = jobs.get(tx, job_id)
    if row is None:
        raise BootstrapJobNotFound(f"No bootstrap job {job_id}.")
    return row


def _uploaded_key_id(job_id: UUID, row: BootstrapJob) -> int:
    if row.do_ssh_key_id is None:  # the steps run in order: never expected
        raise JobNotProvisioning(f"Bootstrap job {job_id} has no uploaded SSH key.")
    return row.do_ssh_key_id


def _stored_secret(job_id: UUID, row: BootstrapJob) -> dict[str, str]:
    stored = key_store.read(row.ssh_secret_name or key_store.secret_name(job_id))
    if stored is None:
        raise key_store.SecretsManagerError("the job's SSH key secret is missing")
    return stored


# --- steps ----------------------------------------------------------------------------------


def generate_ssh_key(job_id: UUID) -> dict[str, Any]:
    """Generate the node's keypair and keep the private key in Secrets Manager only."""
    row = _enter(job_id, BootstrapProgress.SSH_KEY, first=True)
    if row.ssh_public_key:
        return {"fingerprint": row.ssh_fingerprint, "created": False}
    name = key_store.secret_name(job_id)
    pair = generate_ssh_keypair(job_tag(job_id))
    payload = {"private_key": pair.private_key_openssh, "public_key": pair.public_key_openssh}
    created = key_store.create(name, payload, job_id=job_id)
    # Not created: an earlier attempt stored a key but died before recording it; adopt it.
    public_key = pair.public_key_openssh if created else _stored_secret(job_id, row)["public_key"]
    fingerprint = sha256_fingerprint(public_key)
    with transaction() as tx:
        jobs.record_ssh_key(
            tx, job_id, secret_name=name, public_key=public_key, fingerprint=fingerprint
        )
    return {"fingerprint": fingerprint, "created": created}


def upload_ssh_key(job_id: UUID) -> dict[str, Any]:
    row = _enter(job_id, BootstrapProgress.UPLOAD_SSH_KEY)
    if row.do_ssh_key_id is not None:
        return {"do_ssh_key_id": row.do_ssh_key_id}
    do = clients.digitalocean()
    try:
        # Safe to repeat: a key already on the account is found by its fingerprint.
        key_id = do.create_ssh_key(job_tag(job_id), row.ssh_public_key or "")
    finally:
        clients.close(do)
    with transaction() as tx:
        jobs.record_do_ssh_key(tx, job_id, key_id)
    return {"do_ssh_key_id": key_id}


def create_tailscale_key(job_id: UUID) -> dict[str, Any]:
    """Mint a single-use auth key for the node (when Tailscale is in use); it is kept beside
    the SSH key in the job's secret, never in the database or the execution history."""
    row = _enter(job_id, BootstrapProgress.TAILSCALE_KEY)
    if row.tailscale_enabled is not None:
        return {"tailscale": bool(row.tailscale_enabled)}
    settings = provisioning_settings()
    tailscale = clients.tailscale(settings)
    if tailscale is None:
        with transaction() as tx:
            jobs.record_tailscale(tx, job_id, enabled=False)
        return {"tailscale": False}
    try:
        stored = _stored_secret(job_id, row)
        if not stored.get("tailscale_auth_key"):
            auth_key = tailscale.create_auth_key(
                description=job_tag(job_id),
                tags=settings.tailscale_tags,
                expiry_seconds=settings.tailscale_auth_key_expiry_seconds,
                reusable=False,
                ephemeral=False,
                preauthorized=True,
            )
            key_store.put(str(row.ssh_secret_name), {**stored, "tailscale_auth_key": auth_key})
    finally:
        clients.close(tailscale)
    with transaction() as tx:
        jobs.record_tailscale(tx, job_id, enabled=True)
    return {"tailscale": True}


def create_droplet(job_id: UUID) -> dict[str, Any]:
    """Ask DigitalOcean for the droplet, at most once per job.

    Before every attempt the job's tag is looked up: a droplet from an attempt whose answer
    was lost (ProvisioningOutcomeUnknown, or a crash before it was recorded) is adopted
    instead of buying a second one.
    """
    row = _enter(job_id, BootstrapProgress.CREATE_DROPLET)
    if row.droplet_id is not None:
        return {"droplet_id": row.droplet_id, "adopted": False}
    settings = provisioning_settings()
    name = node_hostname(str(job_id))
    tag = job_tag(job_id)
    with transaction() as tx:
        jobs.record_droplet_requested(tx, job_id, name)
    do = clients.digitalocean(settings)
    try:
        existing = sorted(do.list_droplets_by_tag(tag), key=lambda droplet: droplet.id)
        if existing:
            keep, *extras = existing
            for extra in extras:  # never leave a duplicate running (and billing)
                do.delete_droplet(extra.id)
            droplet_id, adopted = keep.id, True
        else:
            auth_key = (
                _stored_secret(job_id, row)["tailscale_auth_key"] if row.tailscale_enabled else None
            )
            user_data = build_cloud_init(
                tailscale_auth_key=auth_key,
                hostname=name,
                bitcoin_image=settings.bitcoin_image,
                prune_mb=settings.prune_mb,
            )
            droplet_id = do.create_droplet(
                name=name,
                region=settings.do_region,
                size=settings.do_size,
                image=settings.do_image,
                ssh_key_ids=[_uploaded_key_id(job_id, row)],
                user_data=user_data,
                tags=[FLEET_TAG, tag],
            )
            adopted = False
    finally:
        clients.close(do)
    with transaction() as tx:
        jobs.record_droplet(tx, job_id, droplet_id)
    return {"droplet_id": droplet_id, "adopted": adopted}


def poll_droplet(job_id: UUID, attempt: int) -> dict[str, Any]:
    """One look at the droplet. ``attempt`` counts earlier looks; the answer carries the new
    count, which the state machine compares with its bound."""
    row = _load(job_id)
    if row.state == BootstrapState.READY:
        # A retry after the job was already marked ready: report it, change nothing.
        return {"ready": True, "attempt": max(attempt, row.ip_polls)}
    row = _enter(job_id, BootstrapProgress.WAIT_FOR_IP)
    polls = attempt + 1
    do = clients.digitalocean()
    if row.droplet_id is None:
        raise JobNotProvisioning(f"Bootstrap job {job_id} has no droplet to look at.")
    try:
        droplet = do.get_droplet(row.droplet_id)
    finally:
        clients.close(do)
    with transaction() as tx:
        jobs.record_ip_poll(tx, job_id, polls)
        if droplet.public_ipv4 and droplet.status == "active":
            hostname = clients.tailnet_hostname(str(job_id)) if row.tailscale_enabled else None
            jobs.mark_ready(
                tx,
                job_id,
                node_ip=droplet.public_ipv4,
                tailscale_hostname=hostname,
                lnbits_url=None,
            )
            return {"ready": True, "attempt": polls}
    return {"ready": False, "attempt": polls, "status": droplet.status}


def cleanup(job_id: UUID) -> dict[str, Any]:
    """Delete whatever the job created: droplet(s), the DigitalOcean SSH key, the secret.

    Safe to repeat (everything already gone counts as deleted). A ready job is never touched:
    its node belongs to the customer now.
    """
    row = _load(job_id)
    if row.state == BootstrapState.READY:
        return {"complete": True, "removed": [], "skipped": "job is ready"}
    removed: list[str] = []
    droplet_ids = set() if row.droplet_id is None else {row.droplet_id}
    needs_do = bool(row.droplet_requested_at or droplet_ids or row.do_ssh_key_id)
    if needs_do:
        do = clients.digitalocean()
        try:
            if row.droplet_requested_at is not None:
                # A create whose answer was lost still carries the job's tag.
                droplet_ids |= {d.id for d in do.list_droplets_by_tag(job_tag(job_id))}
            for droplet_id in sorted(droplet_ids):
                do.delete_droplet(droplet_id)
                removed.append(f"droplet {droplet_id}")
            if row.do_ssh_key_id is not None:
                do.delete_ssh_key(row.do_ssh_key_id)
                removed.append(f"ssh key {row.do_ssh_key_id}")
        finally:
            clients.close(do)
    # By name, even if never recorded: an attempt may have died right after creating it.
    key_store.delete(row.ssh_secret_name or key_store.secret_name(job_id))
    removed.append("secret")
    return {"complete": True, "removed": removed}


def record_failure(
    job_id: UUID, error: str, cause: str | None, cleanup_result: dict[str, Any]
) -> dict[str, Any]:
    """Mark the job failed with a message a person can act on."""
    row = _load(job_id)
    cleanup_complete = cleanup_result.get("complete") is True
    if not cleanup_complete:
        logger.error(
            "bootstrap cleanup incomplete",
            extra={
                "job_ref": log_ref(job_id),
                "droplet_id": row.droplet_id,
                "do_ssh_key_id": row.do_ssh_key_id,
                "cleanup_error": cleanup_result.get("Error"),
            },
        )
    message = describe_failure(error, cause, progress=row.progress, ip_polls=row.ip_polls)
    with transaction() as tx:
        failed = jobs.mark_failed(
            tx, job_id, error_message=message, cleanup_complete=cleanup_complete
        )
    final = failed or row
    return {"state": final.state, "error_message": final.error_message}


def describe_failure(
    error: str, cause: str | None, *, progress: BootstrapProgress, ip_polls: int
) -> str:
    """The job's error_message: the reason, in words, and the step it happened in."""
    if error == INVOICE_EXPIRED:
        return "The invoice expired before it was paid."
    if error == DROPLET_IP_TIMEOUT:
        return (
            f"The droplet did not get a public IP address after {ip_polls} checks; it was"
            " destroyed."
        )
    if error in _EXPLAINED_ERRORS:
        detail = _error_message(cause) or "The cloud provider failed."
    elif error == "States.Timeout":
        detail = "A provisioning step took too long."
    elif error == WORKFLOW_LOST:
        detail = "The provisioning workflow stopped before the node was ready."
    else:
        detail = "An internal error stopped provisioning."
    where = messages.FAILED_WHILE.get(progress)
    return f"{detail.rstrip('.')} ({where})." if where else detail


def _error_message(cause: str | None) -> str | None:
    """Lambda reports a failed task's Cause as JSON with ``errorMessage``."""
    if not cause:
        return None
    try:
        parsed = json.loads(cause)
    except ValueError:
        return None
    message = parsed.get("errorMessage") if isinstance(parsed, dict) else None
    return message[:400] if isinstance(message, str) and message else None
