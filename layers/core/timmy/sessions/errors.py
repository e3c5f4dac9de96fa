"""The errors a session caller can meet, each with its own status and machine code."""

from __future__ import annotations

from typing import TYPE_CHECKING

from timmy.errors import BadRequest, Conflict, NotFound, PaymentRequired, Unauthorized

if TYPE_CHECKING:
    from timmy.sessions.views import SessionInvoice


class SessionNotFound(NotFound):
    """No session has this id (a malformed id included: it cannot name one either)."""

    code = "session_not_found"


class AmountOutOfRange(BadRequest):
    code = "amount_out_of_range"


class MissingMacaroon(Unauthorized):
    code = "missing_macaroon"


class SessionNotPaid(PaymentRequired):
    code = "session_not_paid"


class InsufficientBalance(PaymentRequired):
    code = "insufficient_balance"


class SessionExpired(Conflict):
    code = "session_expired"


class DepositPending(Conflict):
    """A top-up was asked for before the deposit was paid."""

    code = "deposit_pending"


class TopupPending(Conflict):
    """One top-up at a time: carries the pending invoice so the caller can pay it."""

    code = "topup_pending"

    def __init__(self, message: str, *, invoice: SessionInvoice) -> None:
        super().__init__(message)
        self.invoice = invoice
