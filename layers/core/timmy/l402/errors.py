"""The errors an L402 caller can meet.

Forged, tampered or unknown credentials are 401 ``invalid_l402``. Everything else that stops a
genuine credential (expired, spent, short, for another route, its invoice unpaid) is a fresh
402 challenge, never a 400: lnget and Alby pay again only on a 402.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from timmy.errors import PaymentRequired, Unauthorized
from timmy.l402.views import L402ChallengeBody


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
        """The ``l402`` object of the 402's body, in its documented shape."""
        return L402ChallengeBody(
            macaroon=self.macaroon,
            invoice=self.invoice,
            payment_hash=self.payment_hash,
            amount_sats=self.amount_sats,
            expires_at=self.expires_at.isoformat().replace("+00:00", "Z"),
        ).model_dump()


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


class Unusable(StrEnum):
    """Why a genuine credential cannot pay a request: each is answered with a fresh 402."""

    EXPIRED = "expired"  # some timmy_valid_until has passed
    WRONG_ROUTE = "wrong_route"  # another service or capability, or no account to act as
    UNPAID = "unpaid"  # the backend says its invoice is not paid
    SHORT = "short"  # what is left cannot cover this request (spent, or spent meanwhile)


class CredentialUnusable(Exception):
    """A genuine credential that cannot pay this request. Not an HTTP answer by itself: the
    route answers it with a fresh challenge for this request's price
    (:func:`timmy.l402.service.refusal`)."""

    def __init__(self, reason: Unusable, *, account_id: str | None = None) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.account_id = account_id  # the account a marketplace credential was bound to
