"""The errors a marketplace caller can meet, with the peer's codes (``not_found``,
``forbidden``, ``invalid_state``, ``insufficient_balance``, ``payment_required``, …)."""

from __future__ import annotations

from typing import Any

from timmy.errors import BadRequest, Conflict, Forbidden, NotFound
from timmy.l402.errors import Challenge, L402Challenge
from timmy.payouts.errors import InsufficientBalance


class HireNotFound(NotFound):
    code = "not_found"


class HireForbidden(Forbidden):
    code = "forbidden"


class InvalidState(Conflict):
    code = "invalid_state"


class PriceChanged(Conflict):
    """The quote's price is not the ``expected_price_sats`` the buyer accepted."""

    code = "price_changed"


class TooLarge(BadRequest):
    code = "too_large"


class InvalidContent(BadRequest):
    code = "invalid_content"


class HireInsufficientBalance(InsufficientBalance):
    """The balance cannot pay a fee or an escrow; ``topup_url`` says where to refill it."""

    def __init__(self, message: str, *, topup_url: str) -> None:
        super().__init__(message)
        self.topup_url = topup_url

    @property
    def body_fields(self) -> dict[str, Any]:
        return {"topup_url": self.topup_url}


class CredentialsRequired(L402Challenge):
    """A paid marketplace POST sent no credential: the peer's auto-account creation hands the
    caller a new (empty) account's ``token`` to top up and retry with, beside an L402
    challenge bound to that account."""

    def __init__(
        self, message: str, *, challenge: Challenge, token: str, account_id: str, topup_url: str
    ) -> None:
        super().__init__(message, challenge=challenge)
        self.token = token
        self.account_id = account_id
        self.topup_url = topup_url

    @property
    def body_fields(self) -> dict[str, Any]:
        return {
            **super().body_fields,
            "token": self.token,
            "account_id": self.account_id,
            "topup_url": self.topup_url,
        }
