"""Which DigitalOcean and Tailscale clients the workflow steps talk to.

Real clients when ``DO_API_TOKEN`` is set (Tailscale's when ``TAILSCALE_API_KEY`` and
``TAILSCALE_TAILNET`` are set too); otherwise the stub provisioner, which also stands in for
Tailscale when Tailscale is configured (the node then shows a fake tailnet name). A node with
no Tailscale configured, stub or real, joins no tailnet: it has no tailnet name and SSH is open
on its public address (key-only).

Tests replace the HTTP transport underneath the real clients (:func:`use_http_transport`), so
the workflow runs the real client code against a fake API at the HTTP layer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from timmy.provisioning.cloudinit import node_hostname
from timmy.provisioning.digitalocean import DigitalOceanApi, DigitalOceanClient
from timmy.provisioning.settings import ProvisioningSettings, provisioning_settings
from timmy.provisioning.stub import StubDigitalOcean, StubTailscale, stub_tailnet_hostname
from timmy.provisioning.tailscale import TailscaleApi, TailscaleClient


@dataclass
class _HttpOverride:
    transport: httpx.BaseTransport
    sleep: Callable[[float], None]


_override: _HttpOverride | None = None


def use_http_transport(
    transport: httpx.BaseTransport | None, *, sleep: Callable[[float], None] = time.sleep
) -> None:
    """Test seam: real clients send through ``transport`` (None restores the network)."""
    global _override
    _override = None if transport is None else _HttpOverride(transport, sleep)


def _http_client() -> httpx.Client | None:
    if _override is None:
        return None
    return httpx.Client(transport=_override.transport)


def _sleep() -> Callable[[float], None]:
    return time.sleep if _override is None else _override.sleep


def digitalocean(
    settings: ProvisioningSettings | None = None,
) -> DigitalOceanClient | StubDigitalOcean:
    settings = settings or provisioning_settings()
    if settings.mode == "stub":
        return StubDigitalOcean()
    return DigitalOceanClient(
        settings.do_api_token.get_secret_value(),
        client=_http_client(),
        max_retries=settings.do_client_retries,
        sleep=_sleep(),
    )


def tailscale(
    settings: ProvisioningSettings | None = None,
) -> TailscaleClient | StubTailscale | None:
    """The Tailscale client for new nodes, or None when nodes do not join a tailnet."""
    settings = settings or provisioning_settings()
    if not settings.tailscale_configured:
        return None
    if settings.mode == "stub":
        return StubTailscale()
    return TailscaleClient(
        settings.tailscale_api_key.get_secret_value(),
        settings.tailscale_tailnet,
        client=_http_client(),
        max_retries=settings.do_client_retries,
        sleep=_sleep(),
    )


def tailnet_hostname(job_id: str, settings: ProvisioningSettings | None = None) -> str:
    """The node's name on the tailnet: MagicDNS resolves the short host name on tailnet
    devices; the stub invents a full ``*.ts.net`` name."""
    settings = settings or provisioning_settings()
    if settings.mode == "stub":
        return stub_tailnet_hostname(job_id)
    return node_hostname(job_id)


def close(client: DigitalOceanApi | TailscaleApi | None) -> None:
    closer = getattr(client, "close", None)
    if callable(closer):
        closer()
