"""The Lightning backend contract: value types and the backend protocol (errors: ``errors``).

Every backend (LNbits, phoenixd, the local stub) returns these small frozen values, never the
upstream's own JSON, so nothing an upstream says reaches a caller unchecked.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


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


class PaymentState(enum.StrEnum):
    """What is known about an outgoing payment."""

    PAID = "paid"  # settled: the payee has the money
    PENDING = "pending"  # may have been sent and may still settle: ask again later
    FAILED = "failed"  # definitely not paid, and it never will be: no money moved
    UNKNOWN = "unknown"  # (status checks only) the node has no record of the payment


@dataclass(frozen=True, slots=True)
class PaymentResult:
    """The outcome of paying an invoice, or of checking an outgoing payment.

    ``pay`` answers PAID, PENDING or FAILED, never raising for an outcome: FAILED only when no
    money can have moved (the node refused it, or was never reached), PENDING whenever the
    payment may have been sent (a timeout after sending, a 5xx, a dropped connection).
    ``check_payment`` may also answer UNKNOWN: the node never heard of the payment.
    ``preimage`` is set only when PAID and it hashes to the payment hash. ``fee_sats`` is the
    routing fee the node charged, rounded up to whole sats, when PAID and the node says.
    """

    payment_hash: str
    state: PaymentState
    preimage: str | None = None
    fee_sats: int | None = None


class LightningBackend(Protocol):
    """What the API and the workflows need from a Lightning node."""

    mode: str
    network: str  # the BOLT11 network it pays on: "bc", "tb", "tbs" or "bcrt"

    def create_invoice(
        self, amount_sats: int, memo: str, expiry: int, webhook_url: str | None = None
    ) -> CreatedInvoice: ...

    def check(self, payment_hash: str) -> InvoiceStatus: ...

    def pay(self, bolt11: str) -> PaymentResult: ...

    def reachable(self, timeout_seconds: float) -> bool:
        """Whether the node answers with our key now (the health check); never raises."""
        ...

    def check_payment(self, payment_hash: str) -> PaymentResult: ...
