"""The errors an account caller can meet, with the peer's codes where the peer had one."""

from __future__ import annotations

from timmy.errors import BadRequest, Forbidden, PaymentRequired, Unauthorized


class MissingToken(Unauthorized):
    code = "missing_token"


class InvalidToken(Unauthorized):
    """A token that names no account (forged, mistyped or malformed): nothing is revealed."""

    code = "invalid_token"


class WrongAccount(Forbidden):
    """The invoice is bound to another account than the token's."""

    code = "wrong_account"


class InvalidPayment(BadRequest):
    """The preimage is malformed or pays no top-up of ours."""

    code = "invalid_payment"


class PaymentPending(PaymentRequired):
    code = "payment_pending"


class TopupOutOfRange(BadRequest):
    code = "amount_out_of_range"
