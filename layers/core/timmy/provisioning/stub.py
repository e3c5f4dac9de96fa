"""Stand-ins for DigitalOcean and Tailscale, used when DO_API_TOKEN is not configured.

They have the same methods as the real clients, so the provisioning workflow runs the same code
in both modes. Each workflow step is its own Lambda invocation, so nothing here can rely on state
from an earlier step: every answer is derived from its inputs (ids from names and keys, addresses
from ids). State kept in memory lasts for one client object only, to mimic deletes within a call.

Addresses come from the RFC 5737 documentation ranges, which are never routed on the internet,
so a stub node can never be mistaken for, or collide with, a real machine.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from timmy.provisioning.cloudinit import check_user_data_size, node_hostname
from timmy.provisioning.digitalocean import Droplet
from timmy.provisioning.errors import ProvisioningFailed
from timmy.provisioning.tailscale import check_auth_key_request

# RFC 5737: TEST-NET-1, TEST-NET-2, TEST-NET-3.
DOCUMENTATION_NETWORKS = ("192.0.2", "198.51.100", "203.0.113")
STUB_TAILNET_DOMAIN = "tail-stub.ts.net"
_STUB_PRIVATE_NETWORK = "10.10"  # Private (RFC 1918) addresses as a VPC would hand out.


def stub_node_ip(job_id: str) -> str:
    """A stable documentation-range IPv4 address for ``job_id`` (host part 1-254)."""
    digest = _digest(job_id)
    network = DOCUMENTATION_NETWORKS[digest[0] % len(DOCUMENTATION_NETWORKS)]
    return f"{network}.{1 + digest[1] % 254}"


def stub_tailnet_hostname(job_id: str) -> str:
    """The MagicDNS-style name the node would have on a tailnet: ``timmy-node-<short>.<domain>``."""
    return f"{node_hostname(job_id)}.{STUB_TAILNET_DOMAIN}"


@dataclass
class StubDigitalOcean:
    """Answers like DigitalOcean: droplets are immediately ``active`` with a stub address."""

    _ssh_keys: dict[int, str] = field(default_factory=dict, init=False, repr=False)
    _deleted_droplets: set[int] = field(default_factory=set, init=False, repr=False)

    def create_ssh_key(self, name: str, public_key: str) -> int:
        if not name or not public_key.strip():
            raise ProvisioningFailed(
                "DigitalOcean refused the request (HTTP 422): name and public_key are required",
                upstream_status=422,
            )
        key_id = _stub_id("ssh-key", public_key)
        self._ssh_keys[key_id] = public_key
        return key_id

    def delete_ssh_key(self, key_id: int) -> None:
        self._ssh_keys.pop(key_id, None)

    def create_droplet(
        self,
        *,
        name: str,
        region: str,
        size: str,
        image: str,
        ssh_key_ids: Sequence[int],
        user_data: str,
        tags: Sequence[str],
    ) -> int:
        # The real API refuses oversize user_data; so does the stub, so stub mode finds the bug.
        check_user_data_size(user_data)
        if not (name and region and size and image):
            raise ProvisioningFailed(
                "DigitalOcean refused the request (HTTP 422): name, region, size and image "
                "are required",
                upstream_status=422,
            )
        droplet_id = _stub_id("droplet", name)
        self._deleted_droplets.discard(droplet_id)
        return droplet_id

    def get_droplet(self, droplet_id: int) -> Droplet:
        if droplet_id in self._deleted_droplets:
            raise ProvisioningFailed(
                "DigitalOcean refused the request (HTTP 404): The resource you were accessing "
                "could not be found.",
                upstream_status=404,
                upstream_id="not_found",
            )
        return _stub_droplet(droplet_id)

    def list_droplets_by_tag(self, tag: str) -> list[Droplet]:
        # Nothing outlives a call in stub mode, so no earlier droplet can carry the tag.
        return []

    def delete_droplet(self, droplet_id: int) -> None:
        self._deleted_droplets.add(droplet_id)

    def close(self) -> None:
        """Nothing to release; present so both clients can be closed alike."""


@dataclass
class StubTailscale:
    """Answers like Tailscale: returns a fresh, obviously fake auth key."""

    tailnet: str = STUB_TAILNET_DOMAIN

    def create_auth_key(
        self,
        *,
        description: str,
        tags: Sequence[str],
        expiry_seconds: int,
        reusable: bool = False,
        ephemeral: bool = False,
        preauthorized: bool = True,
    ) -> str:
        check_auth_key_request(description, tags, expiry_seconds)
        # Shaped like a real key (so cloud-init accepts it) but marked as a stub.
        return f"tskey-auth-stub{secrets.token_hex(4)}-{secrets.token_hex(16)}"

    def close(self) -> None:
        """Nothing to release; present so both clients can be closed alike."""


def _stub_droplet(droplet_id: int) -> Droplet:
    seed = f"droplet:{droplet_id}"
    digest = _digest(seed)
    return Droplet(
        id=droplet_id,
        status="active",
        public_ipv4=stub_node_ip(seed),
        private_ipv4=f"{_STUB_PRIVATE_NETWORK}.{digest[2]}.{1 + digest[3] % 254}",
    )


def _stub_id(kind: str, seed: str) -> int:
    """A plausible positive id (8-9 digits, like DigitalOcean's) derived from ``seed``."""
    value = int.from_bytes(_digest(f"{kind}:{seed}")[:8], "big")
    return 10_000_000 + value % 900_000_000


def _digest(seed: str) -> bytes:
    return hashlib.sha256(seed.encode("utf-8")).digest()
