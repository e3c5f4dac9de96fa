"""The errors an L402 caller can meet.

Forged, tampered or unknown credentials are 401 ``invalid_l402``. Everything else that stops a
genuine credential (expired, spent, short, for another route, its invoice unpaid) is a fresh
402 challenge, never a 400: lnget and Alby pay again only on a 402.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from timmy.errors import PaymentRequired, Unauthorized


class InvalidL402(Unauthorized):
    code = "invalid_l402"


@dataclass(frozen=True, slots=True)
class Challenge:
    """A minted, unpaid credential and its invoice: what a 402 offers."""

    macaroon: str  # standard base64 of the v2 binary
    invoice: str
    payment_hash: str
    amount_sats: int
    expires_at: datetime  # the invoice's
    header: str  # the WWW-Authenticate value (LSAT, then L402)

    def body(self) -> dict[str, Any]:
        return {
            "macaroon": self.macaroon,
            "invoice": self.invoice,
            "payment_hash": self.payment_hash,
            "amount_sats": self.amount_sats,
            "expires_at": self.expires_at.isoformat().replace("+00:00", "Z"),
        }


class L402Challenge(PaymentRequired):
    """402 with ``WWW-Authenticate`` (LSAT and L402), ``Cache-Control: no-store`` and the
    ``l402`` object beside ``error``."""

    code = "payment_required"

    def __init__(self, message: str, *, challenge: Challenge) -> None:
        super().__init__(message)
        self.challenge = challenge

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": self.challenge.header, "Cache-Control": "no-store"}

    @property
    def body_fields(self) -> dict[str, Any]:
        return {"l402": self.challenge.body()}


class CredentialUnusable(Exception):
    """A genuine credential that cannot pay this request (expired, spent, short, another
    route, unpaid). Not an HTTP answer by itself: the route answers it with a fresh challenge
    for this request's price (:func:`timmy.l402.service.challenge`)."""

    def __init__(self, reason: str, *, account_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.account_id = account_id  # the account a marketplace credential was bound to
