"""The one path every request body takes: bytes, UTF-8 text, JSON; hostile input is a 400."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from local.stack import ROOT, load_module
from local.template import Template
from timmy.api import (
    HttpApi,
    decode_body_text,
    install_error_handlers,
    parse_json_body,
    request_body_bytes,
)
from timmy.errors import BadRequest


@pytest.mark.parametrize(
    "text",
    [
        "9" * 5_000,  # past Python's int-digit limit: ValueError
        "[" * 50_000 + "]" * 50_000,  # past its recursion limit: RecursionError
        '{"a": NaN}',
        '{"a": -Infinity}',
        '{"a": 1e999}',  # overflows to infinity
        '{"a": "\\ud800"}',  # a lone surrogate, as a value
        '{"\\udfff": 1}',  # and as a key
        '[[[["\\ud800"]]]]',
        '{"a": 1',
        "\ufeff{}",  # a byte-order mark
    ],
    ids=lambda text: text[:12],
)
def test_hostile_json_is_a_bad_request(text: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_json_body(text)
    assert (caught.value.status, caught.value.code) == (400, "invalid_request")


def test_valid_json_parses_surrogate_pairs_included() -> None:
    assert parse_json_body('{"a": "\\ud83d\\ude00", "n": 12, "x": 1.5}') == {
        "a": "😀",
        "n": 12,
        "x": 1.5,
    }
    assert parse_json_body("") is None
    assert parse_json_body(None) is None


@pytest.mark.parametrize(
    "raw",
    [b"\xff\xfe{\x00}\x00", json.dumps({"a": 1}).encode("utf-16"), b'{"a": "\xc3\x28"}'],
)
def test_bytes_that_are_not_utf8_are_a_bad_request(raw: bytes) -> None:
    with pytest.raises(BadRequest):
        decode_body_text(raw)


def test_a_base64_body_that_is_not_base64_is_a_bad_request() -> None:
    assert request_body_bytes(base64.b64encode(b"\xff").decode(), is_base64_encoded=True) == (
        b"\xff"
    )
    with pytest.raises(BadRequest):
        request_body_bytes("not base64!", is_base64_encoded=True)
    assert request_body_bytes("é", is_base64_encoded=False) == "é".encode()
    assert request_body_bytes(None, is_base64_encoded=True) == b""


def _event(body: str, *, is_base64: bool, content_type: str = "application/json") -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "POST /echo",
        "rawPath": "/echo",
        "rawQueryString": "",
        "headers": {"content-type": content_type},
        "requestContext": {
            "http": {"method": "POST", "path": "/echo", "sourceIp": "127.0.0.1"},
            "requestId": "r",
            "stage": "$default",
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


def _echo_app() -> HttpApi:
    app = HttpApi()

    @app.post("/echo")
    def echo() -> dict[str, Any]:
        return {"body": app.current_event.json_body}

    return app


@pytest.mark.parametrize(
    ("body", "is_base64"),
    [
        (base64.b64encode("{}".encode("utf-16")).decode(), True),
        ("%%%", True),
        ('{"a": ' + "1" * 5_000 + "}", False),
        ("[" * 50_000, False),
    ],
)
def test_a_handler_reading_the_body_answers_400_with_the_envelope(
    body: str, is_base64: bool
) -> None:
    result = _echo_app().resolve(_event(body, is_base64=is_base64), None)
    assert result["statusCode"] == 400
    assert json.loads(result["body"])["error"]["code"] == "invalid_request"


def test_a_plain_resolver_is_refused() -> None:
    with pytest.raises(TypeError, match="HttpApi"):
        install_error_handlers(APIGatewayHttpResolver(enable_validation=True))


def _http_functions() -> list[str]:
    template = Template(ROOT / "template.yaml", {"DevMode": "true"})
    return sorted({route.function for route in template.routes()})


@pytest.mark.parametrize("logical_id", _http_functions())
def test_every_http_handler_uses_the_shared_resolver(logical_id: str) -> None:
    spec = Template(ROOT / "template.yaml", {"DevMode": "true"}).functions()[logical_id]
    module = load_module(spec.module_file, f"resolver_check_{logical_id}")
    assert isinstance(module.app, HttpApi), logical_id


def test_openai_routes_add_type_and_param_to_the_one_envelope() -> None:
    import json as _json

    from timmy.api import error_response, openai_error_type

    plain = _json.loads(error_response(402, "insufficient_balance", "Top up.").body)
    assert plain == {"error": {"code": "insufficient_balance", "message": "Top up."}}
    openai = _json.loads(
        error_response(
            402,
            "insufficient_balance",
            "Top up.",
            openai=True,
            fields={"topup_url": "https://t.example/api/v1/topup"},
        ).body
    )
    assert openai == {
        "error": {
            "code": "insufficient_balance",
            "message": "Top up.",
            "type": "insufficient_quota",
            "param": None,
            "topup_url": "https://t.example/api/v1/topup",
        }
    }
    assert [openai_error_type(s) for s in (400, 401, 403, 404, 409, 502, 503)] == [
        "invalid_request_error",
        "authentication_error",
        "permission_error",
        "not_found_error",
        "invalid_request_error",
        "api_error",
        "api_error",
    ]
