from __future__ import annotations

from typing import Any

from local import openapi
from local.template import Template


def test_committed_openapi_document_is_current() -> None:
    expected = openapi.render(openapi.generate())
    assert openapi.OUTPUT.read_text() == expected, (
        "shared/openapi.json is stale: run `make openapi`"
    )


def test_every_http_route_in_the_template_is_documented() -> None:
    template = Template(openapi.ROOT / "template.yaml", {"DevMode": "true"})
    documented = {
        (method.upper(), path)
        for path, operations in openapi.generate()["paths"].items()
        for method in operations
    }
    for route in template.routes():
        assert (route.method, route.path) in documented, route.route_key


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = document["components"]["schemas"][name]
    return schema


def _operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    ]


# Routes whose answer is always the peer's payment challenge (402), never a 2xx.
ALWAYS_402 = {"POST /api/v1/topup"}


def test_every_operation_documents_its_success() -> None:
    document = openapi.generate()
    for key, operation in _operations(document):
        if key in ALWAYS_402:
            assert "402" in operation["responses"], key
            continue
        assert any(status.startswith("2") for status in operation["responses"]), key


def test_every_error_response_is_an_error_envelope() -> None:
    """A 4xx/5xx documented with the success model (Powertools' default) is a lie.

    The deliberate exceptions: a degraded health check answers 503 with its full report
    (monitors read which dependency is down), and a top-up's 402 is the peer's challenge body
    (its clients read the invoice from it); each is documented so.
    """
    document = openapi.generate()
    for key, operation in _operations(document):
        for status, response in operation["responses"].items():
            if not status.startswith(("4", "5")):
                continue
            schema = _resolve(document, response["content"]["application/json"]["schema"])
            if (key, status) == ("GET /api/healthz", "503"):
                assert {"status", "database", "lightning"} <= set(schema["required"])
                continue
            if key in ALWAYS_402 and status == "402":
                assert {"invoice", "payment_hash", "claim_url"} <= set(schema["required"])
                continue
            assert "error" in schema.get("required", []), (key, status)
            error = _resolve(document, schema["properties"]["error"])
            assert {"code", "message"} <= set(error.get("required", [])), (key, status)


def test_every_operation_with_a_body_documents_the_415() -> None:
    document = openapi.generate()
    for key, operation in _operations(document):
        if "requestBody" in operation:
            assert "415" in operation["responses"], key
