"""What the DigitalOcean and Tailscale clients share: one call through :mod:`timmy.upstream`
mapped onto the provisioning errors, and the reading of their answers.

Both APIs answer errors as JSON with a ``message`` (DigitalOcean adds an ``id``), rate-limit
with 429 and ``retry-after``, and take a Bearer token that an error message may echo back.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any, Final

from timmy import upstream
from timmy.provisioning.errors import (
    ProvisioningFailed,
    ProvisioningOutcomeUnknown,
    ProvisioningUnavailable,
)

if TYPE_CHECKING:
    import httpx

USER_AGENT: Final = "timmy-provisioner/1"
_MAX_MESSAGE_LEN: Final = 300


def policy(max_retries: int, sleep: Callable[[float], None]) -> upstream.RetryPolicy:
    """Exponential backoff 0.5, 1, 2, 4… s (8 s at most); a ``retry-after`` up to 30 s."""
    return upstream.RetryPolicy(
        attempts=max_retries + 1, base_delay=0.5, max_delay=8.0, max_retry_after=30.0, sleep=sleep
    )


def call(
    client: httpx.Client,
    request: httpx.Request,
    *,
    service: str,
    policy: upstream.RetryPolicy,
    idempotent: bool | None = None,
) -> httpx.Response:
    """The first answer that is not worth retrying.

    Raises ProvisioningOutcomeUnknown when a request that must not be repeated lost its answer,
    ProvisioningUnavailable when attempts ran out on network failures, 429 or 5xx.
    """
    import httpx

    safe = idempotent if idempotent is not None else request.method in upstream.IDEMPOTENT_METHODS
    try:
        response = upstream.send(client, request, policy=policy, idempotent=safe, service=service)
    except httpx.HTTPError as exc:
        # `from None`: the transport exception's text could carry request details.
        if upstream.may_have_been_sent(exc) and not safe:
            raise ProvisioningOutcomeUnknown(
                f"{service} did not answer ({type(exc).__name__}); the request may have "
                "taken effect"
            ) from None
        raise ProvisioningUnavailable(
            f"{service} is unavailable: {type(exc).__name__} after {policy.attempts} attempts"
        ) from None
    status = response.status_code
    if status == 429 or status >= 500:
        if not safe and status != 429:
            raise ProvisioningOutcomeUnknown(
                f"{service} answered HTTP {status}; the request may have taken effect"
            )
        raise ProvisioningUnavailable(
            f"{service} is unavailable: HTTP {status} after {policy.attempts} attempts"
        )
    return response


def upstream_error(
    response: httpx.Response, *, service: str, secrets: Collection[str] = ()
) -> ProvisioningFailed:
    """A ProvisioningFailed carrying the upstream's own ``message`` (redacted and shortened)."""
    body = upstream.json_object(response)
    upstream_message = body.get("message")
    upstream_id = body.get("id")
    detail = upstream_message if isinstance(upstream_message, str) else ""
    detail = upstream.redact(detail, secrets)[:_MAX_MESSAGE_LEN]
    message = f"{service} refused the request (HTTP {response.status_code})"
    if detail:
        message += f": {detail}"
    return ProvisioningFailed(
        message,
        upstream_status=response.status_code,
        upstream_id=upstream_id if isinstance(upstream_id, str) else None,
    )


def parse_json_object(response: httpx.Response, *, service: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ProvisioningFailed(
            f"{service} answered HTTP {response.status_code} without a JSON object",
            upstream_status=response.status_code,
        )
    return body
