"""Bootstrap over real HTTP through the local gateway, in stub mode: order a node, pay with the
dev stub payer, poll until ready, receive the SSH key exactly once."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from cryptography.hazmat.primitives.serialization import load_ssh_private_key

from timmy.db.connection import db
from timmy.provisioning.stub import DOCUMENTATION_NETWORKS
from timmy.runtime import reset_caches

UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"


@pytest.fixture
def fast_workflow(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("BOOTSTRAP_BOOT_WAIT_SECONDS", "0")
    monkeypatch.setenv("BOOTSTRAP_POLL_INTERVAL_SECONDS", "0")
    reset_caches()
    yield
    reset_caches()


def poll_until(api: httpx.Client, job_id: str, state: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = api.get(f"/api/bootstrap/{job_id}")
        assert response.status_code == 200, response.text
        body = response.json()
        if body["state"] == state:
            return response
        assert body["state"] in ("awaiting_payment", "provisioning"), body
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached {state}")


def secret_exists(job_id: str) -> bool:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    names = [s["Name"] for s in client.list_secrets()["SecretList"]]
    return any(job_id in name for name in names)


def test_order_pay_provision_and_receive_the_key_once(
    api: httpx.Client, fast_workflow: None
) -> None:
    # Given a new bootstrap order
    created = api.post("/api/bootstrap")
    assert created.status_code == 201, created.text
    order = created.json()
    job_id = order["bootstrap_job_id"]
    invoice = order["invoice"]
    assert order["state"] == "awaiting_payment"
    assert re.match(UUID_RE, job_id)
    assert invoice["amount_sats"] == 10_000
    assert invoice["payment_request"].startswith("lnbcrt")
    assert set(invoice) == {"payment_request", "payment_hash", "amount_sats", "expires_at"}
    # Development mode: the message names the exact URL that pays the invoice
    pay_path = f"/api/dev/stub/pay/{invoice['payment_hash']}"
    named = re.search(r"POST (\S+)$", order["message"])
    assert named
    assert named.group(1).endswith(pay_path)
    assert any(pay_path in step for step in order["next_steps"])

    # While unpaid, polling says so and shows the invoice again
    waiting = api.get(f"/api/bootstrap/{job_id}").json()
    assert waiting["state"] == "awaiting_payment"
    assert waiting["invoice"]["payment_hash"] == invoice["payment_hash"]
    assert waiting["next_steps"]
    assert waiting["ssh_private_key"] is None

    # When the invoice is paid through the dev stub payer
    paid = api.post(pay_path)
    assert paid.status_code == 200
    assert paid.json()["paid"] is True

    # Then the workflow provisions the (stub) node and the first ready answer carries the key
    first = poll_until(api, job_id, "ready")
    assert first.headers["cache-control"] == "no-store"
    ready = first.json()
    assert ready["node_ip"].rsplit(".", 1)[0] in DOCUMENTATION_NETWORKS
    assert ready["tailscale_hostname"] is None  # stub mode without Tailscale: no tailnet
    assert ready["lnbits_url"] is None
    key = ready["ssh_private_key"]
    assert key.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    load_ssh_private_key(key.encode(), password=None)  # a real, usable key
    assert "only time" in ready["ssh_key_note"]
    assert not any("tailnet" in step for step in ready["next_steps"])
    assert any(f"root@{ready['node_ip']}" in step for step in ready["next_steps"])
    assert not secret_exists(job_id)

    # And every later answer has the note instead of the key
    again = api.get(f"/api/bootstrap/{job_id}").json()
    assert again["state"] == "ready"
    assert again["ssh_private_key"] is None
    assert "earlier response" in again["ssh_key_note"]
    assert again["node_ip"] == ready["node_ip"]
    assert again["next_steps"]
    row = db().one(
        "SELECT ssh_key_delivered, ssh_secret_deleted_at IS NOT NULL AS deleted, droplet_id"
        " FROM bootstrap_jobs WHERE id = CAST(:id AS uuid)",
        id=job_id,
    )
    assert row == {"ssh_key_delivered": True, "deleted": True, "droplet_id": row["droplet_id"]}
    assert row["droplet_id"] is not None


def test_polling_alone_notices_the_payment(api: httpx.Client, fast_workflow: None) -> None:
    # Given an order whose invoice is paid on the node, with nobody telling Timmy
    order = api.post("/api/bootstrap").json()
    from timmy.lightning.backends import backend
    from timmy.lightning.stub import StubBackend

    stub = backend()
    assert isinstance(stub, StubBackend)
    stub.mark_paid(order["invoice"]["payment_hash"])
    # When the customer polls, the poll confirms the payment and provisioning proceeds
    ready = poll_until(api, order["bootstrap_job_id"], "ready").json()
    assert ready["ssh_private_key"]


def test_unknown_and_malformed_ids_are_404(api: httpx.Client) -> None:
    for job_id in ("3f2a9c1d-5b7e-4c1a-9d2f-0a1b2c3d4e5f", "not-a-uuid", "1234"):
        response = api.get(f"/api/bootstrap/{job_id}")
        assert response.status_code == 404, job_id
        assert response.json()["error"]["code"] == "bootstrap_job_not_found"


def test_fee_comes_from_configuration(api: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOOTSTRAP_FEE_SATS", "2100")
    reset_caches()
    order = api.post("/api/bootstrap").json()
    assert order["invoice"]["amount_sats"] == 2100
    assert "2100 sats" in order["message"]
    amount = db().scalar(
        "SELECT amount_sats FROM invoices WHERE payment_hash = :h",
        h=order["invoice"]["payment_hash"],
    )
    assert amount == 2100


def test_dev_pay_url_uses_the_public_base_url(
    api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUBLIC_BASE_URL", str(api.base_url).rstrip("/"))
    reset_caches()
    order = api.post("/api/bootstrap").json()
    url = f"{str(api.base_url).rstrip('/')}/api/dev/stub/pay/{order['invoice']['payment_hash']}"
    assert order["message"].endswith(f"POST {url}")
    # and that exact URL pays the invoice
    assert httpx.post(url).json()["paid"] is True


def test_links_never_follow_a_forwarded_host(
    api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    spoofed = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "javascript"}
    # Without PUBLIC_BASE_URL: the domain API Gateway reports (the local gateway's address).
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    reset_caches()
    order = api.post("/api/bootstrap", headers=spoofed).json()
    status = api.get(f"/api/bootstrap/{order['bootstrap_job_id']}", headers=spoofed).json()
    texts = [order["message"], *order["next_steps"], status["message"], *status["next_steps"]]
    assert not any("evil.example" in text or "javascript:" in text for text in texts), texts
    domain = str(api.base_url.netloc.decode())
    assert f"https://{domain}/api/bootstrap/{order['bootstrap_job_id']}" in " ".join(texts)

    # With it: PUBLIC_BASE_URL, whatever the headers say.
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://timmy.example/")
    reset_caches()
    order = api.post("/api/bootstrap", headers=spoofed).json()
    texts = [order["message"], *order["next_steps"]]
    assert "evil.example" not in " ".join(texts)
    assert f"https://timmy.example/api/bootstrap/{order['bootstrap_job_id']}" in " ".join(texts)
