"""Typed domain exceptions.

Each exception carries its HTTP status and machine code, so the mapping to HTTP happens in
exactly one place (``timmy.api``) and nothing ever chooses a status by matching message text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class TimmyError(Exception):
    """Base of every error the API turns into a JSON error envelope.

    ``param`` names the request field at fault (OpenAI's ``param`` on ``/v1/*``); ``fields``
    are further members of the error object a client acts on (a ``topup_url``).
    """

    status: int = 500
    code: str = "internal_error"
    param: str | None = None

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        fields: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if param is not None:
            self.param = param
        self.fields: dict[str, str] = dict(fields or {})

    @property
    def public_message(self) -> str:
        """What the caller is told; ``message`` (kept for logs) may say more."""
        return self.message

    @property
    def body_fields(self) -> dict[str, Any]:
        """Fields the answer carries at the top level beside ``error`` (none by default): the
        peer's clients read some there (a new account's ``token``, a ``topup_url``)."""
        return {}

    @property
    def headers(self) -> dict[str, str]:
        """Headers the answer carries (none by default)."""
        return {}


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

    State must be left unchanged so that the caller can retry. The caller is told a generic
    sentence: which provider failed and how (an exception class, an HTTP status) is for the
    logs only.
    """

    status = 503
    code = "upstream_unavailable"

    @property
    def public_message(self) -> str:
        return (
            "A service this request depends on is unavailable right now; nothing changed."
            " Try again shortly."
        )


class UpstreamBadGateway(TimmyError):
    """An upstream answered with something unusable or refused the operation."""

    status = 502
    code = "bad_gateway"

    @property
    def public_message(self) -> str:
        return "A service this request depends on could not complete it; nothing changed."


class ConfigurationError(TimmyError):
    """The deployment's configuration is invalid or incomplete (never the caller's fault).

    The only configuration error: settings validation raises it at start-up, and code that
    finds something missing later (a state machine ARN) raises it too. The message names the
    environment variables at fault and why, never their values (some are secrets).
    """

    status = 500
    code = "configuration_error"

    def __init__(self, *problems: str) -> None:
        self.problems = problems
        super().__init__("Invalid configuration: " + "; ".join(problems) + ".")
