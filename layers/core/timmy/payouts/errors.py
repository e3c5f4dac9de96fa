"""The errors a payout can meet before any money moves, each with its status and code."""

from __future__ import annotations

from timmy.errors import BadRequest, Conflict, PaymentRequired, TimmyError


class AmountRequired(BadRequest):
    """The invoice lets the payer choose the amount (or asks for a fraction of a sat)."""

    code = "amount_required"


class AmountMismatch(BadRequest):
    code = "amount_mismatch"


class WrongNetwork(BadRequest):
    """The invoice is for another Bitcoin network than the one our node pays on."""

    code = "wrong_network"


class OwnInvoice(BadRequest):
    """The invoice is one Timmy issued: paying it would pay ourselves."""

    code = "own_invoice"


class InvoiceExpired(BadRequest):
    code = "invoice_expired"


class InvoiceAlreadyUsed(Conflict):
    """Some payout (of any source) already used this payment hash: it is paid once only."""

    code = "invoice_already_used"


class InsufficientBalance(PaymentRequired):
    code = "insufficient_balance"


class UnknownPayoutSource(TimmyError):
    """A payout row names a source kind no module registers (a deployment bug)."""

    status = 500
    code = "internal_error"
