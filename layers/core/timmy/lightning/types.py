"""The Lightning backend contract: value types, the backend protocol and its errors.

Every backend (LNbits, the local stub) returns these small frozen values, never the upstream's
own JSON, so nothing an upstream says reaches a caller unchecked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from timmy.errors import BadRequest, UpstreamBadGateway, UpstreamUnavailable


@dataclass(frozen=True, slots=True)
class CreatedInvoice:
    """An invoice the backend issued for us to show to a customer."""

    payment_hash: str  # 64 lowercase hex
    payment_request: str  # the BOLT11 string
    amount_sats: int
    expires_at: datetime  # timezone-aware, UTC


@dataclass(frozen=True, slots=True)
class InvoiceStatus:
    """Whether the backend has settled a payment hash.

    ``preimage`` is only ever set when ``paid`` is true and it hashes to the payment hash.
    """

    paid: bool
    preimage: str | None


@dataclass(frozen=True, slots=True)
class PaymentResult:
    """The outcome of paying an invoice that did not definitely fail.

    ``preimage`` set (and verified against the hash): the payment settled.
    ``preimage`` None: the payment is in flight; confirm later with ``check(payment_hash)``.
    """

    payment_hash: str
    preimage: str | None


class LightningBackend(Protocol):
    """What the API and the workflows need from a Lightning node."""

    mode: str

    def create_invoice(
        self, amount_sats: int, memo: str, expiry: int, webhook_url: str | None = None
    ) -> CreatedInvoice: ...

    def check(self, payment_hash: str) -> InvoiceStatus: ...

    def pay(self, bolt11: str) -> PaymentResult: ...

    def reachable(self, timeout_seconds: float) -> bool:
        """Whether the node answers with our key now (the health check); never raises."""
        ...


class LightningUnavailable(UpstreamUnavailable):
    """The Lightning backend could not be reached or failed; nothing changed, retry later."""

    code = "lightning_unavailable"


class LightningBadResponse(UpstreamBadGateway):
    """The Lightning backend answered with something we cannot trust or use."""

    code = "lightning_bad_response"


class InvalidInvoice(BadRequest):
    """A BOLT11 string (or payment hash) that is malformed, unsigned or unsupported."""

    code = "invalid_invoice"


class PaymentFailed(UpstreamBadGateway):
    """The backend definitely did not pay the invoice (no funds moved)."""

    code = "payment_failed"
