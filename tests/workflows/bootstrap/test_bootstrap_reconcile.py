"""The scheduled reconciler ends bootstrap jobs whose provisioning workflow was lost: what the
run created is deleted by the workflow's own Cleanup step, the job is failed once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

import httpx
from concurrency import together

from timmy import orchestrator
from timmy.bootstrap import steps
from timmy.data.bootstrap import BootstrapState
from timmy.db.connection import db
from timmy.reconcile.bootstrap import reconcile_bootstrap_jobs

if TYPE_CHECKING:  # pytest, not an import, provides the instances
    from conftest import FakeCloud, Workflow


def later(seconds: int = 2 * 3600) -> datetime:
    """A run this far ahead: past the grace period and the invoice's expiry (10 minutes)."""
    return datetime.now(UTC) + timedelta(seconds=seconds)


def lost_with_a_droplet(wf: Workflow) -> UUID:
    """A paid job provisioned up to its droplet, whose workflow never ran (or was lost with a
    restart): no execution exists under the name it would have."""
    job_id, payment_hash = wf.new_job()
    wf.pay(payment_hash)
    steps.generate_ssh_key(job_id)
    steps.upload_ssh_key(job_id)
    steps.create_tailscale_key(job_id)
    steps.create_droplet(job_id)
    machine = wf.stack.state_machine_arns["BootstrapStateMachine"]
    assert (
        orchestrator.execution_status(orchestrator.execution_arn_of(machine, str(job_id))) is None
    )
    return job_id


def test_a_lost_provisioning_run_is_cleaned_up_and_failed_once(
    wf: Workflow, cloud: FakeCloud
) -> None:
    job_id = lost_with_a_droplet(wf)
    assert len(cloud.live_droplets()) == 1
    assert wf.secret(job_id) is not None

    assert reconcile_bootstrap_jobs(later()) == (1, 0)

    row = wf.row(job_id)
    assert row.state == BootstrapState.FAILED
    assert row.cleanup_complete is True
    assert row.error_message.startswith("The provisioning workflow stopped")
    assert cloud.live_droplets() == []
    assert cloud.deleted_keys == [row.do_ssh_key_id]
    assert wf.secret(job_id) is None
    # A second run changes nothing
    assert reconcile_bootstrap_jobs(later()) == (0, 0)
    assert wf.row(job_id) == row


def test_racing_reconcilers_fail_a_lost_run_once(wf: Workflow, cloud: FakeCloud) -> None:
    job_id = lost_with_a_droplet(wf)
    results: list[tuple[int, int]] = []
    now = later()
    assert (
        together(*[lambda: results.append(reconcile_bootstrap_jobs(now)) for _ in range(5)]) == []
    )
    assert sorted(results) == [(0, 0)] * 4 + [(1, 0)]
    assert wf.row(job_id).state == BootstrapState.FAILED
    assert len(cloud.deleted_droplets) == 1


def test_an_unreachable_cloud_leaves_the_job_for_the_next_run(
    wf: Workflow, cloud: FakeCloud
) -> None:
    job_id = lost_with_a_droplet(wf)
    # DigitalOcean answers every delete (and its client's retries) with 503
    down = {"id": "service_unavailable", "message": "down"}
    cloud.droplet_delete_script.extend(httpx.Response(503, json=down) for _ in range(3))

    assert reconcile_bootstrap_jobs(later()) == (0, 1)
    assert wf.row(job_id).state == BootstrapState.PROVISIONING
    assert len(cloud.live_droplets()) == 1
    # Once it answers again, the next run (past the grace period again) finishes the job
    assert reconcile_bootstrap_jobs(later(3 * 3600)) == (1, 0)
    assert (wf.row(job_id).state, cloud.live_droplets()) == (BootstrapState.FAILED, [])


def test_an_unpaid_job_whose_run_was_lost_fails_once_its_invoice_expired(wf: Workflow) -> None:
    job_id, payment_hash = wf.new_job()
    assert reconcile_bootstrap_jobs(later(300)) == (0, 0)
    assert wf.row(job_id).state == BootstrapState.AWAITING_PAYMENT

    assert reconcile_bootstrap_jobs(later()) == (1, 0)

    row = wf.row(job_id)
    assert (row.state, row.error_message) == (
        "failed",
        "The invoice expired before it was paid.",
    )
    assert db().scalar("SELECT state FROM invoices WHERE payment_hash = :h", h=payment_hash) == (
        "expired"
    )
