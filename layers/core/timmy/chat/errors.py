"""The errors a ``/v1/*`` caller can meet. Payment problems are 402, never 429 or 409: the
OpenAI SDKs retry those, and paying is not something a retry fixes."""

from __future__ import annotations

from timmy.errors import BadRequest, PaymentRequired


class ModelNotSupported(BadRequest):
    code = "model_not_supported"
    param = "model"


class MaxTokensTooLarge(BadRequest):
    code = "max_tokens_too_large"


class ConversationTooLong(BadRequest):
    code = "request_too_long"
    param = "messages"


class InsufficientBalance(PaymentRequired):
    """The payer cannot cover the request's maximum cost; ``topup_url`` says where to refill."""

    code = "insufficient_balance"


class SessionUnusable(PaymentRequired):
    """A session whose deposit is unpaid (``session_not_paid``) or that has expired
    (``session_expired``): a 402 here, since the SDKs retry the 409 the session routes use."""

    code = "session_not_paid"
