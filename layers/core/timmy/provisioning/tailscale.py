"""Tailscale API v2 client: mint a pre-authorized auth key for a new node to join the tailnet.

Shape (tailscale/tailscale-client-go-v2 keys.go, Tailscale OpenAPI): ``POST
/api/v2/tailnet/{tailnet}/keys`` with ``{"capabilities": {"devices": {"create": {"reusable",
"ephemeral", "preauthorized", "tags"}}}, "expirySeconds", "description"}`` → 200 with the key
object; its secret ``key`` field is returned only in this answer. API access tokens are accepted
as a Bearer token. Errors are ``{"message": ...}``. Same retry/error policy as DigitalOcean
(:mod:`timmy.provisioning.http`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote

from timmy import upstream
from timmy.provisioning import http
from timmy.provisioning.errors import ProvisioningFailed

if TYPE_CHECKING:  # httpx is loaded with the first client, not with this module
    import httpx

DEFAULT_BASE_URL = "https://api.tailscale.com"
_TAG_RE = re.compile(r"^tag:[A-Za-z0-9][A-Za-z0-9-]*$")
# Auth keys live at most 90 days.
_MAX_EXPIRY_SECONDS = 90 * 24 * 3600


class TailscaleApi(Protocol):
    """What the provisioning workflow needs; implemented by the real and the stub client."""

    def create_auth_key(
        self,
        *,
        description: str,
        tags: Sequence[str],
        expiry_seconds: int,
        reusable: bool = False,
        ephemeral: bool = False,
        preauthorized: bool = True,
    ) -> str: ...


class TailscaleClient:
    """Synchronous Tailscale client. Raises ProvisioningUnavailable (retryable) or
    ProvisioningFailed (final), from :mod:`timmy.provisioning.errors`."""

    service = "Tailscale"

    def __init__(
        self,
        api_key: str,
        tailnet: str,
        *,
        client: httpx.Client | None = None,
        base_url: str = DEFAULT_BASE_URL,
        max_retries: int = 4,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_key:
            raise ValueError("a Tailscale API access token is required")
        if not tailnet:
            raise ValueError('tailnet is required ("-" means the token\'s default tailnet)')
        self._api_key = api_key
        self._tailnet = tailnet
        self._owns_client = client is None
        self._client = client or upstream.new_client(timeout=20.0)
        self._base_url = base_url.rstrip("/")
        self._policy = http.policy(max_retries, sleep)

    def __repr__(self) -> str:
        return f"TailscaleClient(tailnet={self._tailnet!r})"

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> TailscaleClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

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
        """Create an auth key and return its secret (``tskey-auth-…``); shown only this once.

        Raises ValueError for arguments Tailscale would refuse anyway.
        """
        check_auth_key_request(description, tags, expiry_seconds)
        body = {
            "capabilities": {
                "devices": {
                    "create": {
                        "reusable": reusable,
                        "ephemeral": ephemeral,
                        "preauthorized": preauthorized,
                        "tags": list(tags),
                    }
                }
            },
            "expirySeconds": expiry_seconds,
            "description": description,
        }
        path = f"/api/v2/tailnet/{quote(self._tailnet, safe='')}/keys"
        headers = {
            "Authorization": f"Bearer {self._api_key}",
            "Accept": "application/json",
            "User-Agent": http.USER_AGENT,
        }

        request = self._client.build_request(
            "POST", self._base_url + path, json=body, headers=headers
        )
        # A duplicate key from a repeated POST is harmless: unused, single-use and expiring.
        response = http.call(
            self._client, request, service=self.service, policy=self._policy, idempotent=True
        )
        if response.status_code != 200:
            raise http.upstream_error(response, service=self.service, secrets=(self._api_key,))
        key = http.parse_json_object(response, service=self.service).get("key")
        if not isinstance(key, str) or not key:
            raise ProvisioningFailed(
                f"{self.service} created a key but returned no secret",
                upstream_status=response.status_code,
            )
        return key


def check_auth_key_request(description: str, tags: Sequence[str], expiry_seconds: int) -> None:
    """Raise ValueError for an auth-key request Tailscale would refuse (shared with the stub)."""
    if not description.isprintable():
        raise ValueError("description must be printable text on one line")
    for tag in tags:
        if not _TAG_RE.fullmatch(tag):
            raise ValueError(f"tag {tag!r} must look like 'tag:name'")
    if not 0 < expiry_seconds <= _MAX_EXPIRY_SECONDS:
        raise ValueError(f"expiry_seconds must be between 1 and {_MAX_EXPIRY_SECONDS}")
