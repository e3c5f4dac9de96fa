"""503 and 502 answers name no provider and no exception class; the detail stays in the logs."""

from __future__ import annotations

import importlib
import json
import pkgutil
from typing import Any

import pytest

import timmy
from timmy.api import HttpApi
from timmy.errors import TimmyError, UpstreamBadGateway, UpstreamUnavailable

PROVIDER_WORDS = (
    "LNbits",
    "Anthropic",
    "openai",
    "coinbase",
    "kraken",
    "DigitalOcean",
    "Tailscale",
    "Secrets Manager",
    "ConnectError",
    "HTTP 5",
)


def upstream_errors() -> list[type[TimmyError]]:
    for module in pkgutil.walk_packages(timmy.__path__, "timmy."):
        importlib.import_module(module.name)
    found: list[type[TimmyError]] = []
    pending: list[type[TimmyError]] = [UpstreamUnavailable, UpstreamBadGateway]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def http_event(path: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": f"GET {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {},
        "requestContext": {
            "domainName": "api.test",
            "http": {"method": "GET", "path": path, "sourceIp": "127.0.0.1"},
            "requestId": "r",
            "routeKey": f"GET {path}",
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }


@pytest.mark.parametrize("error_class", upstream_errors(), ids=lambda cls: cls.__name__)
def test_the_caller_gets_a_generic_sentence(error_class: type[TimmyError]) -> None:
    detail = "LNbits answered HTTP 500 (ConnectError) from Anthropic, coinbase, DigitalOcean"
    app = HttpApi()

    @app.get("/boom")
    def boom() -> None:
        raise error_class(detail)

    response = app.resolve(http_event("/boom"), None)
    body = json.loads(response["body"])
    assert response["statusCode"] == error_class.status
    assert body["error"]["code"] == error_class.code
    message = body["error"]["message"]
    assert message
    for word in PROVIDER_WORDS:
        assert word.lower() not in message.lower(), (error_class, message)
    assert error_class.__name__ not in response["body"]


def test_there_are_upstream_errors_to_check() -> None:
    names = {cls.__name__ for cls in upstream_errors()}
    assert {"LightningUnavailable", "RetryableAIError", "PriceFeedError"} <= names
    assert {"ProvisioningUnavailable", "SecretStoreUnavailable", "PaymentFailed"} <= names
