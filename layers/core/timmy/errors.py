"""Typed domain exceptions.

Each exception carries its HTTP status and machine code, so the mapping to HTTP happens in
exactly one place (``timmy.api``) and nothing ever chooses a status by matching message text.
"""

from __future__ import annotations


class TimmyError(Exception):
    """Base of every error the API turns into a JSON error envelope."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class BadRequest(TimmyError):
    status = 400
    code = "bad_request"


class Unauthorized(TimmyError):
    status = 401
    code = "unauthorized"


class PaymentRequired(TimmyError):
    status = 402
    code = "payment_required"


class Forbidden(TimmyError):
    status = 403
    code = "forbidden"


class NotFound(TimmyError):
    status = 404
    code = "not_found"


class Conflict(TimmyError):
    status = 409
    code = "conflict"


class UpstreamUnavailable(TimmyError):
    """An upstream (Lightning backend, AI provider, price feed, cloud API) could not be reached.

    State must be left unchanged so that the caller can retry.
    """

    status = 503
    code = "upstream_unavailable"


class UpstreamBadGateway(TimmyError):
    status = 502
    code = "bad_gateway"
