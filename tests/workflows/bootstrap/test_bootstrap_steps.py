"""The workflow's steps one by one: idempotent under retries and after crashes, never touching
a finished node. Real clients over the fake cloud, Secrets Manager in moto, real Postgres."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID, uuid4

import pytest

from timmy.bootstrap import BootstrapJobNotFound, JobNotProvisioning, steps
from timmy.bootstrap import secrets as key_store
from timmy.data.bootstrap import BootstrapState
from timmy.provisioning.sshkeys import generate_ssh_keypair

if TYPE_CHECKING:  # pytest, not an import, provides the instances
    from conftest import FakeCloud, Workflow


def paid_job(wf: Workflow) -> UUID:
    job_id, payment_hash = wf.new_job()
    wf.pay(payment_hash)
    assert wf.row(job_id).state == BootstrapState.PROVISIONING
    return job_id


def provision_until_droplet(job_id: UUID) -> None:
    steps.generate_ssh_key(job_id)
    steps.upload_ssh_key(job_id)
    steps.create_tailscale_key(job_id)
    steps.create_droplet(job_id)


def test_generating_the_key_twice_keeps_the_first_key(wf: Workflow, cloud: FakeCloud) -> None:
    job_id = paid_job(wf)
    first = steps.generate_ssh_key(job_id)
    stored = wf.secret(job_id)
    second = steps.generate_ssh_key(job_id)
    assert first["created"] is True
    assert second == {"fingerprint": first["fingerprint"], "created": False}
    assert wf.secret(job_id) == stored


def test_a_key_stored_by_a_crashed_attempt_is_adopted(wf: Workflow, cloud: FakeCloud) -> None:
    # Given an attempt that stored the secret and died before recording it in the row
    job_id = paid_job(wf)
    earlier = generate_ssh_keypair(f"timmy-job-{job_id}")
    key_store.create(
        key_store.secret_name(job_id),
        {"private_key": earlier.private_key_openssh, "public_key": earlier.public_key_openssh},
        job_id=job_id,
    )
    # When the step runs again, it records that key rather than a new one
    result = steps.generate_ssh_key(job_id)
    assert result["created"] is False
    assert wf.row(job_id).ssh_public_key == earlier.public_key_openssh


def test_unpaid_or_unknown_jobs_are_refused(wf: Workflow, cloud: FakeCloud) -> None:
    job_id, _ = wf.new_job()
    with pytest.raises(JobNotProvisioning):
        steps.generate_ssh_key(job_id)
    with pytest.raises(BootstrapJobNotFound):
        steps.generate_ssh_key(uuid4())
    assert wf.secret(job_id) is None
    assert cloud.requests == []


def test_uploading_again_after_a_lost_record_reuses_the_same_do_key(
    wf: Workflow, cloud: FakeCloud
) -> None:
    job_id = paid_job(wf)
    steps.generate_ssh_key(job_id)
    first = steps.upload_ssh_key(job_id)
    # Forget the id, as if the step died before recording it
    from timmy.db.connection import db

    db().execute(
        "UPDATE bootstrap_jobs SET do_ssh_key_id = NULL WHERE id = CAST(:id AS uuid)",
        id=str(job_id),
    )
    again = steps.upload_ssh_key(job_id)
    assert again == first
    assert len(cloud.ssh_keys) == 1


def test_tailscale_key_is_minted_once(wf: Workflow, cloud: FakeCloud) -> None:
    job_id = paid_job(wf)
    steps.generate_ssh_key(job_id)
    steps.upload_ssh_key(job_id)
    assert steps.create_tailscale_key(job_id) == {"tailscale": True}
    assert steps.create_tailscale_key(job_id) == {"tailscale": True}
    assert len(cloud.tailscale_keys) == 1
    stored = wf.secret(job_id)
    assert stored is not None
    assert stored["tailscale_auth_key"] == cloud.tailscale_keys[0]["key"]


def test_a_droplet_created_before_a_crash_is_adopted_by_its_tag(
    wf: Workflow, cloud: FakeCloud
) -> None:
    job_id = paid_job(wf)
    provision_until_droplet(job_id)
    [droplet] = cloud.live_droplets()
    from timmy.db.connection import db

    db().execute(
        "UPDATE bootstrap_jobs SET droplet_id = NULL WHERE id = CAST(:id AS uuid)",
        id=str(job_id),
    )
    result = steps.create_droplet(job_id)
    assert result == {"droplet_id": droplet["id"], "adopted": True}
    assert len(cloud.calls("POST", "/v2/droplets")) == 1


def test_duplicate_tagged_droplets_are_reduced_to_one(wf: Workflow, cloud: FakeCloud) -> None:
    # Given two droplets with the job's tag (two creates whose answers were both lost)
    job_id = paid_job(wf)
    steps.generate_ssh_key(job_id)
    steps.upload_ssh_key(job_id)
    steps.create_tailscale_key(job_id)
    cloud.lose_droplet_create_answers = 2
    from timmy.provisioning.digitalocean import ProvisioningOutcomeUnknown

    for _ in range(2):
        # A tag listing that lags behind: the earlier droplet is not listed yet
        earlier = dict(cloud.droplets)
        cloud.droplets.clear()
        try:
            with pytest.raises(ProvisioningOutcomeUnknown):
                steps.create_droplet(job_id)
        finally:
            cloud.droplets.update(earlier)
    assert len(cloud.live_droplets()) == 2
    # When the step runs again, it keeps the oldest and deletes the other
    kept = steps.create_droplet(job_id)
    assert [d["id"] for d in cloud.live_droplets()] == [kept["droplet_id"]]
    assert len(cloud.deleted_droplets) == 1


def test_polling_a_ready_job_changes_nothing(wf: Workflow, cloud: FakeCloud) -> None:
    job_id = paid_job(wf)
    provision_until_droplet(job_id)
    assert steps.poll_droplet(job_id, 0)["ready"] is True
    before = len(cloud.requests)
    assert steps.poll_droplet(job_id, 1) == {"ready": True, "attempt": 1}
    assert len(cloud.requests) == before


def test_cleanup_never_touches_a_ready_node(wf: Workflow, cloud: FakeCloud) -> None:
    job_id = paid_job(wf)
    provision_until_droplet(job_id)
    steps.poll_droplet(job_id, 0)
    result = steps.cleanup(job_id)
    assert result["removed"] == []
    assert len(cloud.live_droplets()) == 1
    assert len(cloud.ssh_keys) == 1
    assert wf.secret(job_id) is not None
    # and a failure reported late cannot fail it either
    steps.record_failure(job_id, "ProvisioningFailed", None, {"complete": True})
    assert wf.row(job_id).state == BootstrapState.READY


def test_cleanup_removes_everything_and_can_run_twice(wf: Workflow, cloud: FakeCloud) -> None:
    job_id = paid_job(wf)
    provision_until_droplet(job_id)
    first = steps.cleanup(job_id)
    assert len(first["removed"]) == 3  # droplet, DO key, secret
    assert cloud.live_droplets() == []
    assert cloud.ssh_keys == {}
    assert wf.secret(job_id) is None
    again = steps.cleanup(job_id)
    assert again["complete"] is True


def test_failure_messages_keep_internal_errors_internal(wf: Workflow, cloud: FakeCloud) -> None:
    job_id = paid_job(wf)
    steps.generate_ssh_key(job_id)
    cause = '{"errorType": "KeyError", "errorMessage": "\'droplet_id\' at /var/task/secret"}'
    result = steps.record_failure(job_id, "KeyError", cause, {"complete": True})
    assert result == {
        "state": "failed",
        "error_message": "An internal error stopped provisioning (while generating the SSH key).",
    }
