"""HTTP concerns shared by every handler: the error envelope, JSON responses, request context.

Domain code raises :class:`timmy.errors.TimmyError` subclasses; this module is the one place
that turns them (and request validation failures) into ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel

from timmy.errors import TimmyError
from timmy.observability import logger, metrics
from timmy.runtime import check_configuration
from timmy.settings import ConfigurationError, public_base_url


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorEnvelope(BaseModel):
    error: ErrorBody


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def ok_doc(description: str, model: type[BaseModel]) -> OpenAPIResponse:
    """An OpenAPI response entry with a body model (for a route's ``responses=``)."""
    return {"description": description, "content": {"application/json": {"model": model}}}


def error_doc(description: str) -> OpenAPIResponse:
    """An OpenAPI response entry whose body is the error envelope (not the success model)."""
    return ok_doc(description, ErrorEnvelope)


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    if isinstance(body, BaseModel):
        text = body.model_dump_json(exclude_none=False)
    else:
        text = json.dumps(body, default=_default, separators=(",", ":"))
    return Response(status, "application/json", text, headers=headers)


def error_response(status: int, code: str, message: str, details: Any = None) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return json_response(status, {"error": error})


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    details = []
    for item in exc.errors():
        loc = [str(part) for part in item.get("loc", ())]
        details.append({"field": ".".join(loc), "message": str(item.get("msg", "invalid"))})
    return details


def install_error_handlers(app: APIGatewayHttpResolver) -> APIGatewayHttpResolver:
    """Map validation errors, domain errors and everything else onto the error envelope."""

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response:
        details = _validation_details(exc)
        fields = ", ".join(d["field"] for d in details) or "request"
        return error_response(400, "invalid_request", f"Invalid request: {fields}.", details)

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported(_exc: RequestUnsupportedContentType) -> Response:
        return error_response(
            415, "unsupported_media_type", "Send the request body as application/json."
        )

    @app.exception_handler(TimmyError)
    def _domain(exc: TimmyError) -> Response:
        if exc.status >= 500:
            # The detail (which upstream, what it said) goes to the logs, not to the caller.
            logger.warning("upstream failure", extra={"code": exc.code, "detail": exc.message})
        return error_response(exc.status, exc.code, exc.public_message)

    @app.not_found
    def _not_found(_exc: Exception) -> Response:
        return error_response(404, "route_not_found", "No such route.")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        logger.exception("unhandled error")
        return error_response(500, "internal_error", "Internal error.")

    return app


def new_app() -> APIGatewayHttpResolver:
    """Not used by handlers (they construct the resolver themselves so OpenAPI discovery
    finds it); kept for tests that need a throwaway resolver with the same error mapping."""
    return install_error_handlers(APIGatewayHttpResolver(enable_validation=True))


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


def make_handler(app: APIGatewayHttpResolver) -> Any:
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
