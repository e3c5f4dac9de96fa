"""DigitalOcean API v2 client: SSH keys and droplets.

Shapes follow digitalocean/openapi: Bearer token; ``POST /v2/account/keys`` → 201 ``ssh_key``;
``POST /v2/droplets`` → 202 ``droplet`` (accepted, not yet built); ``GET /v2/droplets/{id}`` →
``droplet.status`` and ``droplet.networks.v4[{ip_address, type}]``; deletes → 204. Errors carry
``{"id", "message", "request_id"}``. Rate limits are 250/min and 5000/h; a 429 says when to retry.
Retries and error mapping: :mod:`timmy.provisioning.http`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from timmy import upstream
from timmy.provisioning import http
from timmy.provisioning.cloudinit import check_user_data_size
from timmy.provisioning.errors import ProvisioningFailed

if TYPE_CHECKING:  # httpx is loaded with the first client, not with this module
    import httpx

DEFAULT_BASE_URL = "https://api.digitalocean.com"


@dataclass(frozen=True)
class Droplet:
    id: int
    status: str  # "new" | "active" | "off" | "archive"
    public_ipv4: str | None
    private_ipv4: str | None


class DigitalOceanApi(Protocol):
    """What the provisioning workflow needs; implemented by the real and the stub client."""

    def create_ssh_key(self, name: str, public_key: str) -> int: ...

    def delete_ssh_key(self, key_id: int) -> None: ...

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
    ) -> int: ...

    def get_droplet(self, droplet_id: int) -> Droplet: ...

    def list_droplets_by_tag(self, tag: str) -> list[Droplet]: ...

    def delete_droplet(self, droplet_id: int) -> None: ...


class DigitalOceanClient:
    """Synchronous DigitalOcean client. Raises ProvisioningUnavailable (retryable),
    ProvisioningOutcomeUnknown (retryable after checking) or ProvisioningFailed (final)."""

    service = "DigitalOcean"

    def __init__(
        self,
        token: str,
        *,
        client: httpx.Client | None = None,
        base_url: str = DEFAULT_BASE_URL,
        max_retries: int = 4,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not token:
            raise ValueError("a DigitalOcean API token is required")
        self._token = token
        self._owns_client = client is None
        self._client = client or upstream.new_client(timeout=20.0)
        self._base_url = base_url.rstrip("/")
        self._policy = http.policy(max_retries, sleep)

    def __repr__(self) -> str:
        return f"DigitalOceanClient(base_url={self._base_url!r})"

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> DigitalOceanClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- SSH keys ---

    def create_ssh_key(self, name: str, public_key: str) -> int:
        """Upload a public key; return its id. Safe to repeat for the same key (see below)."""
        # Repeating the POST after a lost answer gets a 422 (key already on the account); the
        # key is then found by its fingerprint, so this call may be retried like a GET.
        response = self._send(
            "POST",
            "/v2/account/keys",
            json={"name": name, "public_key": public_key},
            idempotent=True,
        )
        if response.status_code == 201:
            return self._id_in(response, "ssh_key")
        if response.status_code == 422:
            existing = self._find_ssh_key(public_key)
            if existing is not None:
                return existing
        raise self._error(response)

    def delete_ssh_key(self, key_id: int) -> None:
        """Remove a key from the account; a key that is already gone counts as removed."""
        self._expect_deleted(self._send("DELETE", f"/v2/account/keys/{int(key_id)}"))

    # --- droplets ---

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
        """Ask for a droplet; return its id. 202 means accepted: poll get_droplet for progress.

        Not repeated after a lost answer (that could buy two droplets): ProvisioningOutcomeUnknown
        tells the caller to look the droplet up by tag before trying again.
        """
        check_user_data_size(user_data)
        body = {
            "name": name,
            "region": region,
            "size": size,
            "image": image,
            "ssh_keys": [int(key_id) for key_id in ssh_key_ids],
            "user_data": user_data,
            "tags": list(tags),
        }
        response = self._send("POST", "/v2/droplets", json=body)
        if response.status_code == 202:
            return self._id_in(response, "droplet")
        raise self._error(response)

    def get_droplet(self, droplet_id: int) -> Droplet:
        response = self._send("GET", f"/v2/droplets/{int(droplet_id)}")
        if response.status_code != 200:
            raise self._error(response)
        droplet = http.parse_json_object(response, service=self.service).get("droplet")
        return self._droplet_from(droplet)

    def list_droplets_by_tag(self, tag: str) -> list[Droplet]:
        """Droplets carrying ``tag`` (first 200): how a retried create finds an earlier one."""
        response = self._send("GET", "/v2/droplets", params={"tag_name": tag, "per_page": 200})
        if response.status_code != 200:
            raise self._error(response)
        droplets = http.parse_json_object(response, service=self.service).get("droplets")
        if not isinstance(droplets, list):
            raise self._unexpected(response)
        return [self._droplet_from(item) for item in droplets]

    def delete_droplet(self, droplet_id: int) -> None:
        """Destroy a droplet; one that is already gone counts as destroyed."""
        self._expect_deleted(self._send("DELETE", f"/v2/droplets/{int(droplet_id)}"))

    # --- plumbing ---

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        headers = {
            "Authorization": f"Bearer {self._token}",
            "Accept": "application/json",
            "User-Agent": http.USER_AGENT,
        }
        request = self._client.build_request(
            method, self._base_url + path, json=json, params=params, headers=headers
        )
        return http.call(
            self._client, request, service=self.service, policy=self._policy, idempotent=idempotent
        )

    def _find_ssh_key(self, public_key: str) -> int | None:
        from timmy.provisioning.sshkeys import md5_fingerprint

        try:
            fingerprint = md5_fingerprint(public_key)
        except ValueError:
            return None
        response = self._send("GET", f"/v2/account/keys/{fingerprint}")
        if response.status_code != 200:
            return None
        key = http.parse_json_object(response, service=self.service).get("ssh_key")
        # Only adopt the account's key if it is byte-for-byte the key we meant to upload.
        if not isinstance(key, dict) or _key_material(key.get("public_key")) != _key_material(
            public_key
        ):
            return None
        key_id = key.get("id")
        return key_id if isinstance(key_id, int) and not isinstance(key_id, bool) else None

    def _expect_deleted(self, response: httpx.Response) -> None:
        if 200 <= response.status_code < 300 or response.status_code == 404:
            return
        raise self._error(response)

    def _id_in(self, response: httpx.Response, root: str) -> int:
        obj = http.parse_json_object(response, service=self.service).get(root)
        value = obj.get("id") if isinstance(obj, dict) else None
        if not isinstance(value, int) or isinstance(value, bool):
            raise self._unexpected(response)
        return value

    def _droplet_from(self, obj: Any) -> Droplet:
        if not isinstance(obj, dict) or not isinstance(obj.get("id"), int):
            raise ProvisioningFailed(f"{self.service} answered with a malformed droplet")
        networks = obj.get("networks") or {}
        v4 = networks.get("v4") if isinstance(networks, dict) else None
        return Droplet(
            id=obj["id"],
            status=str(obj.get("status", "")),
            public_ipv4=_first_ip(v4, "public"),
            private_ipv4=_first_ip(v4, "private"),
        )

    def _error(self, response: httpx.Response) -> ProvisioningFailed:
        return http.upstream_error(response, service=self.service, secrets=(self._token,))

    def _unexpected(self, response: httpx.Response) -> ProvisioningFailed:
        return ProvisioningFailed(
            f"{self.service} answered HTTP {response.status_code} in an unexpected shape",
            upstream_status=response.status_code,
        )


def _first_ip(v4: Any, kind: str) -> str | None:
    if not isinstance(v4, list):
        return None
    for net in v4:
        if isinstance(net, dict) and net.get("type") == kind:
            address = net.get("ip_address")
            if isinstance(address, str) and address:
                return address
    return None


def _key_material(public_key: Any) -> tuple[str, ...] | None:
    """Key type and blob of an OpenSSH public key line, ignoring the comment."""
    if not isinstance(public_key, str):
        return None
    return tuple(public_key.split()[:2])
