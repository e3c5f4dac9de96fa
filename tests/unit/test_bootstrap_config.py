"""Bootstrap configuration: settings, which clients the workflow uses, failure wording."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from timmy.bootstrap import clients, steps
from timmy.data.bootstrap import BootstrapProgress
from timmy.provisioning.cloudinit import DEFAULT_BITCOIN_IMAGE
from timmy.provisioning.digitalocean import DigitalOceanClient
from timmy.provisioning.settings import ProvisioningSettings
from timmy.provisioning.stub import StubDigitalOcean, StubTailscale
from timmy.provisioning.tailscale import TailscaleClient

REAL_DO = {"DO_API_TOKEN": "dop_v1_" + "0" * 64}
REAL_TS = {"TAILSCALE_API_KEY": "tskey-api-x", "TAILSCALE_TAILNET": "example.com"}
JOB_ID = "3f2a9c1d-5b7e-4c1a-9d2f-0a1b2c3d4e5f"


@pytest.fixture(autouse=True)
def _no_transport_override() -> Iterator[None]:
    clients.use_http_transport(None)
    yield
    clients.use_http_transport(None)


# --- settings -------------------------------------------------------------------------------


def test_defaults_match_the_documented_ones() -> None:
    settings = ProvisioningSettings.from_env({})
    assert settings.bootstrap_fee_sats == 10_000
    assert (settings.do_region, settings.do_size, settings.do_image) == (
        "nyc3",
        "s-2vcpu-4gb",
        "ubuntu-24-04-x64",
    )
    assert settings.bootstrap_ip_poll_attempts == 30
    assert settings.bitcoin_image == DEFAULT_BITCOIN_IMAGE
    assert settings.prune_mb == 30_000
    assert settings.tailscale_tags == ()
    assert settings.mode == "stub"


def test_stub_mode_waits_briefly_and_real_mode_gives_the_droplet_time() -> None:
    stub = ProvisioningSettings.from_env({})
    real = ProvisioningSettings.from_env(REAL_DO)
    assert (stub.boot_wait_seconds, stub.poll_interval_seconds) == (1, 1)
    assert (real.boot_wait_seconds, real.poll_interval_seconds) == (30, 10)
    tuned = ProvisioningSettings.from_env(
        {**REAL_DO, "BOOTSTRAP_BOOT_WAIT_SECONDS": "0", "BOOTSTRAP_POLL_INTERVAL_SECONDS": "5"}
    )
    assert (tuned.boot_wait_seconds, tuned.poll_interval_seconds) == (0, 5)


def test_values_are_read_and_checked() -> None:
    settings = ProvisioningSettings.from_env(
        {
            "BOOTSTRAP_FEE_SATS": "21000",
            "TAILSCALE_TAGS": "tag:bitcoin, tag:timmy",
            "BITCOIN_PRUNE_MB": "0",
        }
    )
    assert settings.bootstrap_fee_sats == 21_000
    assert settings.tailscale_tags == ("tag:bitcoin", "tag:timmy")
    assert settings.prune_mb is None  # 0 keeps the whole chain
    for bad in (
        {"BOOTSTRAP_FEE_SATS": "0"},
        {"BITCOIN_PRUNE_MB": "100"},
        {"BOOTSTRAP_IP_POLL_ATTEMPTS": "0"},
    ):
        with pytest.raises(ValidationError):
            ProvisioningSettings.from_env(bad)


def test_tokens_never_show_in_the_settings_repr() -> None:
    settings = ProvisioningSettings.from_env({**REAL_DO, **REAL_TS})
    assert REAL_DO["DO_API_TOKEN"] not in repr(settings)
    assert REAL_TS["TAILSCALE_API_KEY"] not in repr(settings)


# --- clients --------------------------------------------------------------------------------


def test_without_a_do_token_both_upstreams_are_stubs() -> None:
    settings = ProvisioningSettings.from_env(REAL_TS)  # Tailscale alone changes nothing
    assert isinstance(clients.digitalocean(settings), StubDigitalOcean)
    assert isinstance(clients.tailscale(settings), StubTailscale)
    assert clients.tailnet_hostname(JOB_ID, settings) == "timmy-node-3f2a9c1d.tail-stub.ts.net"


def test_stub_mode_without_tailscale_configured_joins_no_tailnet() -> None:
    # The stub stands in for the Tailscale that is configured, and invents none that is not.
    assert clients.tailscale(ProvisioningSettings.from_env({})) is None
    half = ProvisioningSettings.from_env({"TAILSCALE_API_KEY": "tskey-api-x"})
    assert clients.tailscale(half) is None


def test_with_a_do_token_the_real_client_and_no_tailscale_unless_configured() -> None:
    settings = ProvisioningSettings.from_env(REAL_DO)
    assert isinstance(clients.digitalocean(settings), DigitalOceanClient)
    assert clients.tailscale(settings) is None
    half = ProvisioningSettings.from_env({**REAL_DO, "TAILSCALE_API_KEY": "tskey-api-x"})
    assert clients.tailscale(half) is None


def test_with_both_configured_the_real_tailscale_client() -> None:
    settings = ProvisioningSettings.from_env({**REAL_DO, **REAL_TS})
    assert isinstance(clients.tailscale(settings), TailscaleClient)
    assert clients.tailnet_hostname(JOB_ID, settings) == "timmy-node-3f2a9c1d"


def test_the_transport_seam_routes_the_real_client_and_its_retries() -> None:
    seen: list[httpx.Request] = []
    sleeps: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(503, json={"id": "unavailable", "message": "later"})
        return httpx.Response(204)

    clients.use_http_transport(httpx.MockTransport(answer), sleep=sleeps.append)
    do = clients.digitalocean(ProvisioningSettings.from_env(REAL_DO))
    do.delete_droplet(42)
    assert [r.url.path for r in seen] == ["/v2/droplets/42", "/v2/droplets/42"]
    assert seen[0].headers["authorization"] == f"Bearer {REAL_DO['DO_API_TOKEN']}"
    assert len(sleeps) == 1


# --- failure wording ------------------------------------------------------------------------


def row(progress: str = "create_droplet", ip_polls: int = 0) -> dict[str, Any]:
    """What describe_failure reads of the job: the step under way and the IP polls."""
    return {"progress": BootstrapProgress(progress), "ip_polls": ip_polls}


def lambda_cause(error_type: str, message: str) -> str:
    return json.dumps(
        {"errorMessage": message, "errorType": error_type, "requestId": "r", "stackTrace": []}
    )


@pytest.mark.parametrize(
    ("error", "cause", "overrides", "expected"),
    [
        ("InvoiceExpired", None, {}, "The invoice expired before it was paid."),
        (
            "DropletIpTimeout",
            "no public IPv4",
            {"ip_polls": 30, "progress": "wait_for_ip"},
            "The droplet did not get a public IP address after 30 checks; it was destroyed.",
        ),
        (
            "ProvisioningFailed",
            lambda_cause("ProvisioningFailed", "DigitalOcean refused the request (HTTP 422): x"),
            {},
            "DigitalOcean refused the request (HTTP 422): x (while creating the droplet).",
        ),
        (
            "ProvisioningUnavailable",
            lambda_cause("ProvisioningUnavailable", "Tailscale is unavailable: HTTP 503"),
            {"progress": "tailscale_key"},
            "Tailscale is unavailable: HTTP 503 (while creating the Tailscale auth key).",
        ),
        (
            "States.Timeout",
            None,
            {"progress": "upload_ssh_key"},
            "A provisioning step took too long (while uploading the SSH key).",
        ),
        (
            "ValueError",
            lambda_cause("ValueError", "secret internals /var/task"),
            {},
            "An internal error stopped provisioning (while creating the droplet).",
        ),
        (
            "ProvisioningFailed",
            "not json",
            {"progress": "awaiting_payment"},
            "The cloud provider failed.",
        ),
    ],
)
def test_failures_read_as_the_reason_and_the_step(
    error: str, cause: str | None, overrides: dict[str, Any], expected: str
) -> None:
    assert steps.describe_failure(error, cause, **row(**overrides)) == expected
