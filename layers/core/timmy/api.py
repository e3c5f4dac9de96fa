"""HTTP concerns shared by every handler: the resolver, request bodies, the error envelope,
JSON responses, request context.

Domain code raises :class:`timmy.errors.TimmyError` subclasses; this module is the one place
that turns them (and request validation failures) into ``{"error": {"code", "message"}}``.
Every handler's resolver is an :class:`HttpApi`, so every request body is decoded by
:func:`decode_body_text` and :func:`parse_json_body` and nothing a caller sends is a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
    OpenAPIRequestValidationMiddleware,
)
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from pydantic import BaseModel, Field

from timmy.errors import BadRequest, TimmyError
from timmy.l402.views import L402ChallengeBody
from timmy.observability import logger, metrics
from timmy.runtime import check_configuration
from timmy.settings import ConfigurationError, public_base_url

ModelT = TypeVar("ModelT", bound=BaseModel)


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] | None = None
    type: str | None = Field(
        default=None, description="On /v1/* only: OpenAI's error type (invalid_request_error…)"
    )
    param: str | None = Field(
        default=None, description="On /v1/* only: the request field at fault, or null"
    )
    topup_url: str | None = Field(
        default=None, description="insufficient_balance: where the account is topped up"
    )


class ErrorEnvelope(BaseModel):
    error: ErrorBody


class L402ChallengeEnvelope(BaseModel):
    """A 402 of a route that takes L402: the error and the challenge (also in the
    ``WWW-Authenticate`` header); the marketplace adds a new account's ``token``."""

    error: ErrorBody
    l402: L402ChallengeBody | None = None
    token: str | None = Field(default=None, description="Marketplace: a new account's token")
    account_id: str | None = Field(default=None, description="Marketplace: that account")
    topup_url: str | None = Field(default=None, description="Marketplace: where to top it up")


# -- request bodies ---------------------------------------------------------------------------


def _invalid_body(message: str) -> BadRequest:
    return BadRequest(message, code="invalid_request")


def request_body_bytes(body: str | None, *, is_base64_encoded: bool) -> bytes:
    """The body's bytes as the caller sent them (API Gateway base64-encodes non-text bodies)."""
    if not body:
        return b""
    if not is_base64_encoded:
        # "surrogatepass" keeps a lone surrogate for decode_body_text to refuse.
        return body.encode("utf-8", "surrogatepass")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as error:
        raise _invalid_body("The request body is not valid base64.") from error


def decode_body_text(raw: bytes) -> str:
    """The body as text: UTF-8 only (RFC 8259 §8.1); UTF-16 or stray bytes are a 400."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _invalid_body("The request body is not UTF-8 text.") from error


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e999 overflows to infinity, which JSON cannot carry
        raise ValueError(f"{text[:20]} is out of range")
    return number


def parse_json_body(text: str | None) -> Any:
    """The JSON value of a request body (None when empty); anything unparseable is a 400.

    Python's parser raises ValueError past its integer-digit limit and RecursionError on deep
    nesting, and accepts NaN, Infinity, overflowing exponents and lone surrogates: all are the
    caller's error here.
    """
    if not text:
        return None
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as error:
        raise _invalid_body("The request body is not valid JSON.") from error
    if not _strings_are_unicode(value):
        raise _invalid_body("The request body holds a lone surrogate (\\ud800-\\udfff).")
    return value


def _strings_are_unicode(value: Any) -> bool:
    """True when every string (keys too) encodes to UTF-8; iterative, however deep the value."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return True


class HttpApiEvent(APIGatewayProxyEventV2):
    """The HTTP API event, its body decoded once and strictly: bad bytes are the caller's 400.

    Powertools' own properties raise UnicodeDecodeError, ValueError or RecursionError (500s)
    on hostile bodies; its request validation and every handler read these instead.
    """

    @cached_property
    def raw_body(self) -> bytes:
        return request_body_bytes(self.body, is_base64_encoded=bool(self.is_base64_encoded))

    @cached_property
    def decoded_body(self) -> str | None:
        return decode_body_text(self.raw_body) if self.body else None

    @cached_property
    def json_body(self) -> Any:
        return parse_json_body(self.decoded_body)


def is_json_media_type(content_type: str | None) -> bool:
    """A body with no Content-Type is read as JSON, as Powertools does."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type in ("", "application/json")


class _JsonBodyValidation(OpenAPIRequestValidationMiddleware):
    """Request validation that reads JSON bodies only.

    Powertools also parses form and multipart bodies (a multipart type without a boundary is
    a ValueError there, so a 500); no route here takes them: any other type is a 415.
    """

    def _get_body(self, app: Any) -> dict[str, Any]:
        if not is_json_media_type(app.current_event.headers.get("content-type")):
            raise RequestUnsupportedContentType("Unsupported content type", errors=[])
        return self._parse_json_data(app)


class HttpApi(APIGatewayHttpResolver):
    """The resolver of every HTTP handler: request validation, strict bodies, the envelope.

    ``openai_errors``: the routes under ``/v1/`` (OpenAI's clients) add OpenAI's ``type`` and
    ``param`` to every error object.
    """

    current_event: HttpApiEvent

    def __init__(self, *, openai_errors: bool = False) -> None:
        super().__init__(enable_validation=True)
        self.openai_errors = openai_errors
        self._request_validation_middleware = _JsonBodyValidation()
        install_error_handlers(self)

    def _to_proxy_event(self, event: dict[str, Any]) -> HttpApiEvent:
        return HttpApiEvent(event)


# -- responses ------------------------------------------------------------------------------


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def response_doc(description: str, model: type[BaseModel] = ErrorEnvelope) -> OpenAPIResponse:
    """The one way to document a route's response (an entry of its ``responses=``): a success
    names its body model; an error's body is the error envelope, the default."""
    return {"description": description, "content": {"application/json": {"model": model}}}


def created(body: ModelT, headers: dict[str, str] | None = None) -> Response[ModelT]:
    """The one way to answer 201 Created. The status travels in the Response itself, not in
    the route's ``status_code`` (which Powertools reads back from resolver state); the route
    documents it with ``responses={201: response_doc(...)}``."""
    return Response(201, "application/json", body, headers=headers)


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    if isinstance(body, BaseModel):
        text = body.model_dump_json(exclude_none=False)
    else:
        text = json.dumps(body, default=_default, separators=(",", ":"))
    return Response(status, "application/json", text, headers=headers)


# OpenAI's error ``type`` by status (openai-python maps statuses, not types, to exceptions).
_OPENAI_TYPES = {
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "not_found_error",
}


def openai_error_type(status: int) -> str:
    if status >= 500:
        return "api_error"
    return _OPENAI_TYPES.get(status, "invalid_request_error")


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    *,
    openai: bool = False,
    param: str | None = None,
    fields: dict[str, str] | None = None,
    body_fields: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The error envelope; ``openai`` adds OpenAI's ``type`` and ``param`` (``/v1/*``).

    ``fields`` join the error object (a ``topup_url``); ``body_fields`` sit beside it at the
    top level, where the peer's clients read them (a new account's ``token``)."""
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    if openai:
        error["type"] = openai_error_type(status)
        error["param"] = param
    error.update(fields or {})
    return json_response(status, {"error": error, **(body_fields or {})}, headers or None)


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    details = []
    for item in exc.errors():
        loc = [str(part) for part in item.get("loc", ())]
        details.append({"field": ".".join(loc), "message": str(item.get("msg", "invalid"))})
    return details


def install_error_handlers(app: APIGatewayHttpResolver) -> APIGatewayHttpResolver:
    """Map validation errors, domain errors and everything else onto the error envelope."""
    if not isinstance(app, HttpApi):
        # A plain resolver would parse hostile bodies with Powertools' raising properties.
        raise TypeError("construct the resolver with timmy.api.HttpApi(), which installs these")

    openai = app.openai_errors

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response:
        details = _validation_details(exc)
        fields = ", ".join(d["field"] for d in details) or "request"
        first = details[0]["field"] if details else ""
        param = first.removeprefix("body").lstrip(".") or None
        return error_response(
            400,
            "invalid_request",
            f"Invalid request: {fields}.",
            details,
            openai=openai,
            param=param,
        )

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported(_exc: RequestUnsupportedContentType) -> Response:
        return error_response(
            415,
            "unsupported_media_type",
            "Send the request body as application/json.",
            openai=openai,
        )

    @app.exception_handler(TimmyError)
    def _domain(exc: TimmyError) -> Response:
        if exc.status >= 500:
            # The detail (which upstream, what it said) goes to the logs, not to the caller.
            logger.warning("upstream failure", extra={"code": exc.code, "detail": exc.message})
        return error_response(
            exc.status,
            exc.code,
            exc.public_message,
            openai=openai,
            param=exc.param,
            fields=exc.fields,
            body_fields=exc.body_fields,
            headers=exc.headers,
        )

    @app.not_found
    def _not_found(_exc: Exception) -> Response:
        return error_response(404, "route_not_found", "No such route.", openai=openai)

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        logger.exception("unhandled error")
        return error_response(500, "internal_error", "Internal error.", openai=openai)

    return app


def base_url(app: APIGatewayHttpResolver) -> str:
    """The public base URL for this request (:func:`timmy.settings.public_base_url`)."""
    return public_base_url(
        app.current_event.request_context.domain_name, header(app, "x-forwarded-proto")
    )


def header(app: APIGatewayHttpResolver, name: str) -> str | None:
    headers = app.current_event.headers or {}
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return str(value)
    return None


def make_handler(app: HttpApi) -> Any:
    """The Lambda entry point for a resolver: every imported settings model validated before
    routing (:func:`timmy.runtime.check_configuration`), request id as correlation id, metrics
    flushed."""
    from aws_lambda_powertools.logging import correlation_paths

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    @metrics.log_metrics(raise_on_empty_metrics=False)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            # Before routing: a misconfigured function answers every request the same way.
            check_configuration()
        except ConfigurationError as exc:
            body = {"error": {"code": exc.code, "message": exc.message}}
            return {
                "statusCode": exc.status,
                "headers": {"Content-Type": "application/json"},
                "body": json.dumps(body, separators=(",", ":")),
                "isBase64Encoded": False,
            }
        return app.resolve(event, context)

    return handler
