"""Provisioning a Bitcoin full node: DigitalOcean, Tailscale, SSH keys, cloud-init."""

from __future__ import annotations

from pydantic import SecretStr

from timmy.settings import EnvSettings, load


class ProvisioningSettings(EnvSettings):
    do_api_token: SecretStr = SecretStr("")
    do_region: str = "nyc3"
    do_size: str = "s-2vcpu-4gb"
    do_image: str = "ubuntu-24-04-x64"
    tailscale_api_key: SecretStr = SecretStr("")
    tailscale_tailnet: str = ""


def provisioning_settings() -> ProvisioningSettings:
    return load(ProvisioningSettings)


def provisioner_mode() -> str:
    return "digitalocean" if provisioning_settings().do_api_token.get_secret_value() else "stub"
