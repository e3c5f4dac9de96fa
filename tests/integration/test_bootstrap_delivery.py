"""One-time SSH key delivery and what GET /api/bootstrap/{id} says in each state.

Stub provisioner, Secrets Manager in moto, real PostgreSQL. Jobs are brought to ``ready`` by
running the workflow's steps directly."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from local.stack import LocalStack
from timmy import payments
from timmy.bootstrap import secrets as key_store
from timmy.bootstrap import service, steps
from timmy.bootstrap.models import BootstrapStatus
from timmy.data import bootstrap as jobs
from timmy.data.bootstrap import BootstrapState
from timmy.data.invoices import PaymentPurpose
from timmy.db.connection import db, transaction
from timmy.errors import UpstreamUnavailable
from timmy.lightning.dev_payer import pay_own_invoice
from timmy.runtime import reset_caches

BASE = "http://127.0.0.1:3000"


def new_job() -> tuple[UUID, str]:
    job_id = uuid4()
    created = payments.request_invoice(10_000, "bootstrap delivery test")
    with transaction() as tx:
        payments.record_invoice(tx, created, purpose=PaymentPurpose.BOOTSTRAP, owner_id=str(job_id))
        jobs.insert(tx, job_id=job_id, payment_hash=created.payment_hash, amount_sats=10_000)
    return job_id, created.payment_hash


def make_ready() -> UUID:
    """A paid job brought to ready by the workflow's steps, in the configured modes."""
    job_id, payment_hash = new_job()
    assert pay_own_invoice(payment_hash).paid
    steps.generate_ssh_key(job_id)
    steps.upload_ssh_key(job_id)
    steps.create_tailscale_key(job_id)
    steps.create_droplet(job_id)
    assert steps.poll_droplet(job_id, 0)["ready"] is True
    return job_id


@pytest.fixture
def ready_job(clean_db: None) -> UUID:
    """Stub provisioner, no Tailscale configured (what ``make dev`` runs)."""
    return make_ready()


@pytest.fixture
def tailnet_job(clean_db: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[UUID]:
    """Stub provisioner with Tailscale configured: the stub stands in for the tailnet."""
    monkeypatch.setenv("TAILSCALE_API_KEY", "tskey-api-test")
    monkeypatch.setenv("TAILSCALE_TAILNET", "example.com")
    reset_caches()
    yield make_ready()
    monkeypatch.delenv("TAILSCALE_API_KEY")
    monkeypatch.delenv("TAILSCALE_TAILNET")
    reset_caches()


def status(job_id: UUID) -> BootstrapStatus:
    return service.get_status(str(job_id), base_url=BASE)


def secret_of(job_id: UUID) -> dict[str, str] | None:
    return key_store.read(key_store.secret_name(job_id))


def delivery_columns(job_id: UUID) -> dict[str, Any] | None:
    return db().one(
        "SELECT ssh_key_delivered, ssh_secret_deleted_at IS NOT NULL AS secret_deleted"
        " FROM bootstrap_jobs WHERE id = CAST(:id AS uuid)",
        id=str(job_id),
    )


# --- one-time delivery ----------------------------------------------------------------------


def test_concurrent_first_gets_deliver_the_key_exactly_once(ready_job: UUID) -> None:
    stored = secret_of(ready_job)
    assert stored is not None
    # Given many first GETs arriving at the same moment, each on its own connection
    threads = 12
    barrier = threading.Barrier(threads)
    answers: list[BootstrapStatus] = []
    errors: list[BaseException] = []

    def first_get() -> None:
        try:
            barrier.wait()
            answers.append(status(ready_job))
        except BaseException as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)

    workers = [threading.Thread(target=first_get) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    # Then exactly one answer carries the key, the others the note; the secret is gone
    assert errors == []
    keys = [a.ssh_private_key for a in answers if a.ssh_private_key]
    assert keys == [stored["private_key"]]
    assert all(a.state == BootstrapState.READY and a.ssh_key_note for a in answers)
    assert secret_of(ready_job) is None
    assert delivery_columns(ready_job) == {"ssh_key_delivered": True, "secret_deleted": True}


def test_later_gets_carry_the_note_not_the_key(ready_job: UUID) -> None:
    first = status(ready_job)
    assert first.ssh_private_key
    for _ in range(3):
        later = status(ready_job)
        assert later.ssh_private_key is None
        assert later.ssh_key_note
        assert "earlier response" in later.ssh_key_note
        assert later.node_ip == first.node_ip


def test_key_store_down_at_read_changes_nothing_and_a_retry_delivers(
    ready_job: UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given Secrets Manager fails the read
    def unavailable(name: str) -> None:
        raise key_store.SecretStoreUnavailable("Secrets Manager is unavailable (test)")

    with monkeypatch.context() as patch:
        patch.setattr(key_store, "read", unavailable)
        with pytest.raises(UpstreamUnavailable):
            status(ready_job)
    # Then nothing was claimed, and the next GET delivers
    assert delivery_columns(ready_job) == {"ssh_key_delivered": False, "secret_deleted": False}
    assert status(ready_job).ssh_private_key


def test_crash_after_the_claim_never_loses_or_repeats_the_key(
    ready_job: UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = secret_of(ready_job)
    assert stored is not None

    # Given the delete fails after the delivery was claimed and committed
    def delete_fails(name: str) -> None:
        raise key_store.SecretStoreUnavailable("Secrets Manager is unavailable (test)")

    with monkeypatch.context() as patch:
        patch.setattr(key_store, "delete", delete_fails)
        first = status(ready_job)
    # Then the key was delivered once, and it is still stored (not lost)
    assert first.ssh_private_key == stored["private_key"]
    assert delivery_columns(ready_job) == {"ssh_key_delivered": True, "secret_deleted": False}
    assert secret_of(ready_job) == stored
    # And the next GET does not deliver it again but finishes the deletion
    second = status(ready_job)
    assert second.ssh_private_key is None
    assert secret_of(ready_job) is None
    assert delivery_columns(ready_job) == {"ssh_key_delivered": True, "secret_deleted": True}


def test_a_missing_secret_is_reported_not_crashed_on(ready_job: UUID) -> None:
    key_store.delete(key_store.secret_name(ready_job))
    answer = status(ready_job)
    assert answer.state == BootstrapState.READY
    assert answer.ssh_private_key is None
    assert answer.ssh_key_note
    assert "no longer available" in answer.ssh_key_note
    assert delivery_columns(ready_job)["ssh_key_delivered"] is True  # type: ignore[index]


def test_secret_store_outage_is_a_503_envelope_over_http(
    ready_job: UUID, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(name: str) -> None:
        raise key_store.SecretStoreUnavailable("Secrets Manager is unavailable (test)")

    monkeypatch.setattr(key_store, "read", unavailable)
    code, _, body = stack.handle_http("GET", f"/api/bootstrap/{ready_job}", "", {}, b"")
    assert code == 503
    assert json.loads(body)["error"]["code"] == "secret_store_unavailable"


def test_the_secret_is_named_under_the_stage_prefix(ready_job: UUID) -> None:
    row = db().one(
        "SELECT ssh_secret_name FROM bootstrap_jobs WHERE id = CAST(:id AS uuid)",
        id=str(ready_job),
    )
    assert row == {"ssh_secret_name": f"timmy/local/bootstrap/{ready_job}/ssh"}


# --- what each state says -------------------------------------------------------------------


def test_awaiting_payment_shows_the_invoice_and_how_to_pay(clean_db: None) -> None:
    job_id, payment_hash = new_job()
    answer = status(job_id)
    assert answer.state == BootstrapState.AWAITING_PAYMENT
    assert answer.invoice is not None
    assert answer.invoice.payment_hash == payment_hash
    assert answer.invoice.amount_sats == 10_000
    assert f"POST {BASE}/api/dev/stub/pay/{payment_hash}" in answer.message
    assert any(f"GET {BASE}/api/bootstrap/{job_id}" in step for step in answer.next_steps)


def test_provisioning_reports_the_step_under_way(clean_db: None) -> None:
    job_id, payment_hash = new_job()
    assert pay_own_invoice(payment_hash).paid
    db().execute(
        "UPDATE bootstrap_jobs SET progress = 'wait_for_ip', ip_polls = 2"
        " WHERE id = CAST(:id AS uuid)",
        id=str(job_id),
    )
    answer = status(job_id)
    assert answer.state == BootstrapState.PROVISIONING
    assert answer.progress == "wait_for_ip"
    assert answer.message == (
        "Provisioning your Bitcoin full node. The droplet is booting; waiting for its public "
        "IP address. (checked 2 times so far)"
    )
    assert answer.invoice is None
    assert answer.ssh_private_key is None
    assert answer.next_steps


def test_failed_shows_the_error_and_what_to_do(clean_db: None) -> None:
    job_id, payment_hash = new_job()
    assert pay_own_invoice(payment_hash).paid
    steps.record_failure(
        job_id,
        "ProvisioningFailed",
        json.dumps({"errorType": "ProvisioningFailed", "errorMessage": "DigitalOcean refused."}),
        {"Error": "ProvisioningUnavailable", "Cause": "{}"},
    )
    answer = status(job_id)
    assert answer.state == BootstrapState.FAILED
    assert answer.error_message == "DigitalOcean refused (while starting)."
    assert answer.message == f"Provisioning failed: {answer.error_message}"
    assert any("POST" in step and "/api/bootstrap" in step for step in answer.next_steps)
    assert any(str(job_id) in step for step in answer.next_steps)  # paid: quote the id
    assert any("could not be removed" in step for step in answer.next_steps)


def test_ready_without_tailscale_says_ssh_is_on_the_public_address(ready_job: UUID) -> None:
    # Stub mode without Tailscale joins no tailnet: no tailnet name, no tailnet claim
    answer = status(ready_job)
    assert answer.node_ip
    assert answer.tailscale_hostname is None
    assert any(f"root@{answer.node_ip}" in step for step in answer.next_steps)
    assert not any("tailnet" in step for step in answer.next_steps)
    assert any("Stub provisioner" in step for step in answer.next_steps)


def test_ready_with_tailscale_says_ssh_is_only_on_the_tailnet(tailnet_job: UUID) -> None:
    answer = status(tailnet_job)
    assert answer.tailscale_hostname
    ssh_step = next(step for step in answer.next_steps if "ssh -i" in step)
    assert "only on the tailnet" in ssh_step
    assert f"root@{answer.tailscale_hostname}" in ssh_step


def test_the_key_is_saved_where_the_readme_saves_it(ready_job: UUID) -> None:
    # The README saves the key to ~/.ssh/timmy-node-<the job id's first 8 characters>
    key_file = f"~/.ssh/timmy-node-{str(ready_job)[:8]}"
    answer = status(ready_job)
    assert any(f"to {key_file} " in step for step in answer.next_steps)
    assert any(f"ssh -i {key_file} " in step for step in answer.next_steps)
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert '"~/.ssh/timmy-node-" + job["bootstrap_job_id"][:8]' in readme
