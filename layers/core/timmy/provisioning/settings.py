"""Provisioning settings: DigitalOcean, Tailscale and the node's image and pruning."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator

from timmy.provisioning.cloudinit import DEFAULT_BITCOIN_IMAGE, DEFAULT_PRUNE_MB, MIN_PRUNE_MB
from timmy.settings import EnvSettings, load

# How long the workflow waits before the first look at the droplet, and between looks, when
# not configured. A stub droplet is "active" at once, so stub mode need not wait long.
_DEFAULT_BOOT_WAIT_SECONDS = {"digitalocean": 30, "stub": 1}
_DEFAULT_POLL_INTERVAL_SECONDS = {"digitalocean": 10, "stub": 1}


class ProvisioningSettings(EnvSettings):
    # "stub" forces the stub even when a DigitalOcean token is configured (the template's
    # ProvisionerMode parameter); "digitalocean" and "auto" use DigitalOcean when a token is set.
    provisioner_mode: Literal["auto", "stub", "digitalocean"] = "auto"
    do_api_token: SecretStr = SecretStr("")
    do_region: str = "nyc3"
    do_size: str = "s-2vcpu-4gb"
    do_image: str = "ubuntu-24-04-x64"
    # Retries inside one step (short backoff); Step Functions retries the step after that.
    do_client_retries: int = Field(default=2, ge=0, le=6)
    tailscale_api_key: SecretStr = SecretStr("")
    tailscale_tailnet: str = ""
    # ACL tags for the node (comma-separated `tag:name`); the tailnet policy must own them.
    tailscale_tags: tuple[str, ...] = ()
    # The auth key only has to survive until the droplet's first boot has joined the tailnet.
    tailscale_auth_key_expiry_seconds: int = Field(default=3600, ge=300, le=90 * 24 * 3600)

    # Bootstrap: the price and the workflow's pacing.
    bootstrap_fee_sats: int = Field(default=10_000, ge=1)
    bootstrap_state_machine_arn: str = ""
    bootstrap_boot_wait_seconds: int | None = Field(default=None, ge=0, le=3600)
    bootstrap_poll_interval_seconds: int | None = Field(default=None, ge=0, le=600)
    bootstrap_ip_poll_attempts: int = Field(default=30, ge=1, le=500)

    # What the node runs.
    bitcoin_image: str = DEFAULT_BITCOIN_IMAGE
    # 0 keeps the whole chain (needs a disk of 1 TB or more); otherwise MiB of blocks to keep.
    bitcoin_prune_mb: int = Field(default=DEFAULT_PRUNE_MB, ge=0)

    @field_validator("tailscale_tags", mode="before")
    @classmethod
    def _split_tags(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("bitcoin_prune_mb")
    @classmethod
    def _prune_floor(cls, value: int) -> int:
        if 0 < value < MIN_PRUNE_MB:
            raise ValueError(f"must be 0 (no pruning) or at least {MIN_PRUNE_MB}")
        return value

    @property
    def mode(self) -> str:
        if self.provisioner_mode == "stub" or not self.do_api_token.get_secret_value():
            return "stub"
        return "digitalocean"

    @property
    def tailscale_configured(self) -> bool:
        return bool(self.tailscale_api_key.get_secret_value() and self.tailscale_tailnet)

    @property
    def boot_wait_seconds(self) -> int:
        if self.bootstrap_boot_wait_seconds is not None:
            return self.bootstrap_boot_wait_seconds
        return _DEFAULT_BOOT_WAIT_SECONDS[self.mode]

    @property
    def poll_interval_seconds(self) -> int:
        if self.bootstrap_poll_interval_seconds is not None:
            return self.bootstrap_poll_interval_seconds
        return _DEFAULT_POLL_INTERVAL_SECONDS[self.mode]

    @property
    def prune_mb(self) -> int | None:
        return self.bitcoin_prune_mb or None


def provisioning_settings() -> ProvisioningSettings:
    return load(ProvisioningSettings)


def provisioner_mode() -> str:
    return provisioning_settings().mode
