"""BootstrapStateMachine (shared/statemachines/bootstrap.asl.json) run by moto's ASL interpreter,
with the real step handlers and the real DigitalOcean/Tailscale clients over a fake HTTP API."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import load_ssh_private_key

from timmy.data.bootstrap import BootstrapState
from timmy.db.connection import db
from timmy.provisioning.cloudinit import node_hostname

if TYPE_CHECKING:  # pytest, not an import, provides the instances
    from conftest import FakeCloud, Sleeps, Workflow


def public_key_of(private_openssh: str) -> str:
    key = load_ssh_private_key(private_openssh.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )


def test_paid_job_provisions_a_droplet_and_becomes_ready(wf: Workflow, cloud: FakeCloud) -> None:
    # Given a paid bootstrap job
    job_id, execution = wf.run_paid()

    # Then the workflow succeeded and the job is ready with the droplet's public address
    assert execution["status"] == "SUCCEEDED", execution
    row = wf.row(job_id)
    assert row.state == BootstrapState.READY
    [droplet] = cloud.live_droplets()
    assert row.droplet_id == droplet["id"]
    assert row.node_ip == f"203.0.113.{droplet['id'] % 250 + 1}"
    assert row.tailscale_hostname == node_hostname(str(job_id))
    assert row.lnbits_url is None

    # The SSH key: private half only in Secrets Manager, public half uploaded and on the droplet
    stored = wf.secret(job_id)
    assert stored is not None
    [key] = cloud.ssh_keys.values()
    assert key["public_key"] == stored["public_key"] == row.ssh_public_key
    assert key["name"] == f"timmy-job-{job_id}"
    assert public_key_of(stored["private_key"]) == " ".join(stored["public_key"].split()[:2])
    assert droplet["ssh_keys"] == [key["id"]]

    # The droplet: configured size/region/image, tagged with the job, cloud-init with the key
    assert (droplet["region"], droplet["size"], droplet["image"]) == (
        "ams3",
        "s-4vcpu-8gb",
        "ubuntu-24-04-x64",
    )
    assert droplet["name"] == node_hostname(str(job_id))
    assert droplet["tags"] == ["timmy", f"timmy-job-{job_id}"]
    [ts_key] = cloud.tailscale_keys
    assert ts_key["capabilities"]["devices"]["create"] == {
        "reusable": False,
        "ephemeral": False,
        "preauthorized": True,
        "tags": [],
    }
    user_data = droplet["user_data"]
    assert user_data.startswith("#!/bin/bash\n")
    assert user_data.count(ts_key["key"]) == 1
    assert "ufw allow in on tailscale0 to any port 22 proto tcp" in user_data
    assert "docker compose up -d" in user_data
    assert stored["private_key"] not in user_data

    # No secret ever reaches the database or the execution history
    history = wf.history(execution["executionArn"])
    assert ts_key["key"] not in history
    assert "PRIVATE KEY" not in history
    dumped = json.dumps(row, default=str)
    assert ts_key["key"] not in dumped
    assert "PRIVATE KEY" not in dumped
    # And nothing was deleted
    assert cloud.deleted_droplets == []
    assert cloud.deleted_keys == []


def test_without_tailscale_configured_no_auth_key_and_public_ssh(
    wf: Workflow, cloud: FakeCloud, monkeypatch: object
) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.delenv("TAILSCALE_API_KEY")
    from timmy.runtime import reset_caches

    reset_caches()
    job_id, execution = wf.run_paid()
    assert execution["status"] == "SUCCEEDED", execution
    row = wf.row(job_id)
    assert row.state == BootstrapState.READY
    assert row.tailscale_enabled is False
    assert row.tailscale_hostname is None
    assert cloud.tailscale_keys == []
    [droplet] = cloud.live_droplets()
    assert "tskey" not in droplet["user_data"]
    assert "ufw allow 22/tcp" in droplet["user_data"]


def test_droplet_refused_cleans_up_and_fails_with_dos_message(
    wf: Workflow, cloud: FakeCloud, retry_sleeps: Sleeps
) -> None:
    # Given DigitalOcean refuses the droplet (a permanent 422)
    cloud.droplet_create_script = [
        httpx.Response(
            422,
            json={
                "id": "unprocessable_entity",
                "message": "You specified an invalid size for Droplet creation.",
            },
        )
    ]

    job_id, execution = wf.run_paid()

    # Then the execution fails without retrying, after cleaning up
    assert execution["status"] == "FAILED"
    assert retry_sleeps == []
    row = wf.row(job_id)
    assert row.state == BootstrapState.FAILED
    assert row.error_message == (
        "DigitalOcean refused the request (HTTP 422): You specified an invalid size for "
        "Droplet creation (while creating the droplet)."
    )
    assert row.cleanup_complete is True
    # the uploaded SSH key was deleted, no droplet exists, the secret is gone
    assert len(cloud.deleted_keys) == 1
    assert cloud.ssh_keys == {}
    assert cloud.live_droplets() == []
    assert wf.secret(job_id) is None


def test_ip_never_arrives_fails_after_the_bounded_polls_and_destroys_the_droplet(
    wf: Workflow, cloud: FakeCloud
) -> None:
    # Given a droplet that never gets a public address
    cloud.ip_on_get = None

    job_id, execution = wf.run_paid(max_ip_polls=4)

    # Then it was looked at exactly max_ip_polls times, then destroyed, and the job failed
    assert execution["status"] == "FAILED"
    assert list(cloud.droplet_gets.values()) == [4]
    assert len(cloud.deleted_droplets) == 1
    assert cloud.live_droplets() == []
    assert cloud.ssh_keys == {}
    assert wf.secret(job_id) is None
    row = wf.row(job_id)
    assert row.state == BootstrapState.FAILED
    assert row.ip_polls == 4
    assert row.error_message == (
        "The droplet did not get a public IP address after 4 checks; it was destroyed."
    )


def test_ip_arriving_on_a_later_poll_is_ready(wf: Workflow, cloud: FakeCloud) -> None:
    cloud.ip_on_get = 3
    job_id, execution = wf.run_paid(max_ip_polls=5)
    assert execution["status"] == "SUCCEEDED", execution
    assert list(cloud.droplet_gets.values()) == [3]
    assert wf.row(job_id).ip_polls == 3


def test_do_unavailable_is_retried_by_the_workflow_with_backoff(
    wf: Workflow, cloud: FakeCloud, retry_sleeps: Sleeps
) -> None:
    # Given DigitalOcean answers 503 to two creates, then recovers. A 5xx to a create may
    # come after the droplet was made, so the client does not repeat it (timmy.upstream):
    # the step fails with ProvisioningOutcomeUnknown and the workflow retries the step, which
    # looks for the job's tag before creating again.
    unavailable = httpx.Response(503, json={"id": "service_unavailable", "message": "busy"})
    cloud.droplet_create_script = [unavailable] * 2

    job_id, execution = wf.run_paid()

    # Then Step Functions retried the step (3 s, then 6 s) and exactly one droplet exists
    assert execution["status"] == "SUCCEEDED", execution
    assert retry_sleeps == [3, 6]
    assert len(cloud.calls("POST", "/v2/droplets")) == 3  # one per step attempt
    assert len(cloud.live_droplets()) == 1
    # and the job's tag was looked up before every step attempt
    assert len(cloud.calls("GET", "/v2/droplets")) >= 3
    assert wf.row(job_id).state == BootstrapState.READY


def test_do_unavailable_for_too_long_cleans_up_and_fails(
    wf: Workflow, cloud: FakeCloud, retry_sleeps: Sleeps
) -> None:
    cloud.droplet_create_script = [
        httpx.Response(
            429,
            headers={"retry-after": "1"},
            json={"id": "too_many_requests", "message": "API Rate limit exceeded."},
        )
    ] * 40

    job_id, execution = wf.run_paid()

    assert execution["status"] == "FAILED"
    assert retry_sleeps == [3, 6, 12, 24]  # MaxAttempts 4, BackoffRate 2
    row = wf.row(job_id)
    assert row.state == BootstrapState.FAILED
    assert row.error_message == (
        "DigitalOcean is unavailable: HTTP 429 after 3 attempts (while creating the droplet)."
    )
    assert cloud.ssh_keys == {}
    assert wf.secret(job_id) is None


def test_lost_create_answer_adopts_the_droplet_instead_of_buying_another(
    wf: Workflow, cloud: FakeCloud, retry_sleeps: Sleeps
) -> None:
    # Given DigitalOcean creates the droplet but the answer never arrives
    cloud.lose_droplet_create_answers = 1

    job_id, execution = wf.run_paid()

    # Then the retry (ProvisioningOutcomeUnknown) finds the droplet by its tag and uses it
    assert execution["status"] == "SUCCEEDED", execution
    assert retry_sleeps == [3]
    assert len(cloud.calls("POST", "/v2/droplets")) == 1
    [droplet] = cloud.live_droplets()
    assert wf.row(job_id).droplet_id == droplet["id"]


def test_cleanup_that_cannot_finish_still_fails_the_job_and_says_so(
    wf: Workflow, cloud: FakeCloud, retry_sleeps: Sleeps
) -> None:
    # Given a droplet that never gets an address and cannot be deleted either (403)
    cloud.ip_on_get = None
    forbidden = httpx.Response(403, json={"id": "forbidden", "message": "You do not have access"})
    cloud.droplet_delete_script = [forbidden]

    job_id, execution = wf.run_paid(max_ip_polls=1)

    assert execution["status"] == "FAILED"
    row = wf.row(job_id)
    assert row.state == BootstrapState.FAILED
    assert row.cleanup_complete is False
    assert "did not get a public IP address" in row.error_message


def test_unpaid_invoice_expires_and_the_job_fails_without_provisioning(
    wf: Workflow, cloud: FakeCloud
) -> None:
    job_id, payment_hash = wf.new_job()
    execution = wf.finished(wf.start(job_id, payment_hash, payment_timeout_seconds=1))

    assert execution["status"] == "SUCCEEDED"
    row = wf.row(job_id)
    assert row.state == BootstrapState.FAILED
    assert row.error_message == "The invoice expired before it was paid."
    assert row.paid_at is None
    assert cloud.requests == []
    assert wf.secret(job_id) is None


def test_paid_as_the_wait_timed_out_still_provisions(wf: Workflow, cloud: FakeCloud) -> None:
    # Given the invoice is settled while nobody resumes the waiting workflow
    job_id, payment_hash = wf.new_job()
    arn = wf.start(job_id, payment_hash, payment_timeout_seconds=2)
    from concurrency import wait_until

    wait_until(
        lambda: db().scalar(
            "SELECT task_token IS NOT NULL FROM invoices WHERE payment_hash = :h", h=payment_hash
        )
    )
    db().execute(
        "UPDATE invoices SET state = 'paid', paid_at = now() WHERE payment_hash = :h",
        h=payment_hash,
    )
    # When the wait times out, the expiry finds it paid (expired: false): provision anyway
    execution = wf.finished(arn)
    row = wf.row(job_id)
    assert execution["status"] == "SUCCEEDED", (row, wf.history(arn)[-3000:])
    assert row.state == BootstrapState.READY
    assert row.paid_at is not None
