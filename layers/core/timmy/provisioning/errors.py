"""The provisioning capability's errors (DigitalOcean, Tailscale and their stubs raise these).

Their class names are what the bootstrap workflow's Retry/Catch match: keep them stable.
"""

from __future__ import annotations

from timmy.errors import UpstreamBadGateway, UpstreamUnavailable


class ProvisioningUnavailable(UpstreamUnavailable):
    """The cloud API could not be reached or kept failing; nothing was decided. Retry later."""

    code = "provisioner_unavailable"
    retryable = True


class ProvisioningOutcomeUnknown(ProvisioningUnavailable):
    """A create request may or may not have taken effect (the answer was lost).

    Still retryable, but look for the resource first (e.g. droplets by tag) to avoid a duplicate.
    """

    code = "provisioner_outcome_unknown"


class ProvisioningFailed(UpstreamBadGateway):
    """The cloud API refused the request (4xx) or answered nonsense: retrying will not help."""

    code = "provisioning_failed"
    retryable = False

    def __init__(
        self, message: str, *, upstream_status: int | None = None, upstream_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.upstream_status = upstream_status
        self.upstream_id = upstream_id
