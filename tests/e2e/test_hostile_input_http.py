"""Hostile input over real HTTP: every route answers a 4xx error envelope and changes nothing.

The routes come from template.yaml, so a new endpoint is covered the day it is added.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from urllib.parse import urlsplit

import httpx
import pytest
from hire_ledger import funded_account
from paid_sessions import paid_session

from local.stack import ROOT
from local.template import Route, Template
from timmy.db.connection import db
from timmy.hire import service as hire

ROUTES = Template(ROOT / "template.yaml", {"DevMode": "true"}).routes()
BODY_ROUTES = [route for route in ROUTES if route.method in ("POST", "PUT", "PATCH")]
GET_ROUTES = [route for route in ROUTES if route.method == "GET"]
# Nesting far past Python's recursion limit, digits far past its int conversion limit.
DEEP = 50_000
DIGITS = 5_000

HOSTILE_BODIES: dict[str, bytes] = {
    "not_utf8": b'{"request": "\xff\xfe\xfd", "amount_sats": 1000, "invoice": "\xc3\x28"}',
    "utf16_with_bom": json.dumps({"request": "hello", "amount_sats": 1000}).encode("utf-16"),
    "utf16le_without_bom": json.dumps({"request": "hi", "amount_sats": 1}).encode("utf-16-le"),
    "utf8_bom": b"\xef\xbb\xbf" + json.dumps({"request": "hello", "amount_sats": 1000}).encode(),
    "huge_integer": b'{"amount_sats": ' + b"9" * DIGITS + b', "request": "hi"}',
    "huge_negative_integer": b'{"amount_sats": -' + b"9" * DIGITS + b"}",
    "nested_arrays": b"[" * DEEP + b"]" * DEEP,
    "nested_below_the_recursion_limit": b"[" * 500 + b"]" * 500,
    "nested_objects": b'{"a":' * DEEP + b"1" + b"}" * DEEP,
    "nested_in_a_field": b'{"request": "hi", "nostr_token": ' + b"[" * DEEP + b"]" * DEEP + b"}",
    "lone_surrogate": b'{"request": "\\ud800", "amount_sats": 1000, "invoice": "\\udfff"}',
    "truncated": b'{"request": "hel',
    "not_an_object": b'"just a string"',
    "nan": b'{"amount_sats": NaN, "request": NaN}',
    "infinity": b'{"amount_sats": Infinity, "request": -Infinity}',
    "huge_exponent": b'{"amount_sats": 1e999999, "request": 1e-999999}',
}

# The routes that read a body: those the OpenAPI document gives one, and the webhook, which
# reads its (undocumented, LNbits-shaped) body itself.
_OPENAPI = json.loads((ROOT / "shared" / "openapi.json").read_text())
BODY_READERS = {
    f"{method.upper()} {path}"
    for path, operations in _OPENAPI["paths"].items()
    for method, operation in operations.items()
    if "requestBody" in operation
} | {"POST /api/webhooks/lightning"}

# A path parameter that names something that exists, so a 400 cannot hide behind a 404.
PARAMETER_KINDS = {
    "session_id": "session",
    "job_id": "job",
    "payment_hash": "invoice",
    "version": "asset_version",
    "asset": "asset",
    "task_id": "hire_task",
    "quote_id": "hire_quote",
}
# Routes whose success is not JSON: the web app's page and files, llms.txt (errors: envelopes).
NOT_JSON_ROUTES = {"GET /", "GET /app/{version}/{asset}", "GET /llms.txt"}


def _snapshot() -> dict[str, str]:
    """Every table's full content, hashed: proof that a refused request changed nothing."""
    tables = [
        row["tablename"]
        for row in db().all("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    ]
    snapshot = {}
    for table in tables:
        row = db().one(
            f"SELECT count(*) AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
            f' AS digest FROM "{table}" t'
        )
        snapshot[table] = f"{row['n']}:{row['digest']}"
    return snapshot


@pytest.fixture
def existing(api: httpx.Client) -> dict[str, str]:
    """Ids of a real session, job and unpaid invoice for the routes' path parameters."""
    session = api.post("/api/sessions", json={"amount_sats": 1_000})
    assert session.status_code == 201, session.text
    job = api.post("/api/jobs", json={"request": "Say hello."})
    assert job.status_code == 201, job.text
    _wait_for_task_token(job.json()["eval_invoice"]["payment_hash"])
    page = api.get("/")
    assert page.status_code == 200, page.text
    buyer, _ = funded_account(100)
    contractor, _ = funded_account(100)
    task = hire.create_task(buyer, title="t", description="d", budget_sats=50, base_url="")
    quote = hire.create_quote(
        contractor, task.id, price_sats=20, description="", delivery_hours=None, base_url=""
    )
    return {
        "session": session.json()["session_id"],
        "job": job.json()["job_id"],
        "invoice": session.json()["invoice"]["payment_hash"],
        "asset_version": page.text.split("/app/", 1)[1].split("/", 1)[0],
        "asset": "main.js",
        "hire_task": task.id,
        "hire_quote": quote.id,
    }


def _wait_for_task_token(payment_hash: str) -> None:
    """The job's workflow parks on its invoice; after that nothing changes in the background."""
    deadline = time.monotonic() + 30
    while not db().one(
        "SELECT task_token IS NOT NULL AS parked FROM invoices WHERE payment_hash = :h",
        h=payment_hash,
    )["parked"]:
        assert time.monotonic() < deadline, "the job workflow never reached its payment wait"
        time.sleep(0.05)


def _path(route: Route, existing: dict[str, str]) -> str:
    path = route.path
    for name in route.param_names:
        path = path.replace("{" + name + "}", existing[PARAMETER_KINDS[name]])
    return path


def _assert_envelope(
    response: httpx.Response, case: str, *, statuses: tuple[int, ...] = (400,)
) -> None:
    assert response.status_code in statuses, (case, response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json"), response.headers
    error = response.json()["error"]
    assert isinstance(error["code"], str)
    assert error["code"]
    assert isinstance(error["message"], str)


@pytest.mark.parametrize("route", BODY_ROUTES, ids=lambda r: r.route_key)
def test_hostile_json_bodies_get_a_400_envelope_and_change_nothing(
    api: httpx.Client, existing: dict[str, str], route: Route
) -> None:
    path = _path(route, existing)
    for name, body in HOSTILE_BODIES.items():
        before = _snapshot()
        response = api.request(
            route.method, path, content=body, headers={"content-type": "application/json"}
        )
        # Routes that read no body ignore one they cannot parse, and answer as if it were
        # empty; never with a 5xx and never by acting on it.
        assert response.status_code < 500, (name, response.status_code, response.text[:300])
        if route.route_key in BODY_READERS:
            _assert_envelope(response, name)
            assert _snapshot() == before, name


NON_JSON_CONTENT_TYPES = [
    "multipart/form-data",  # no boundary: Powertools raised ValueError, a 500
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded",
    "text/plain",
    "application/xml",
]


@pytest.mark.parametrize(
    "route",
    [r for r in BODY_ROUTES if r.route_key in BODY_READERS and "webhooks" not in r.path],
    ids=lambda r: r.route_key,
)
def test_bodies_that_are_not_json_get_a_415_envelope_and_change_nothing(
    api: httpx.Client, existing: dict[str, str], route: Route
) -> None:
    for content_type in NON_JSON_CONTENT_TYPES:
        before = _snapshot()
        response = api.request(
            route.method,
            _path(route, existing),
            content=b"--x\r\nrequest=hi&amount_sats=1000&invoice=lnbc1\r\n--x--\r\n",
            headers={"content-type": content_type},
        )
        _assert_envelope(response, content_type, statuses=(415,))
        assert _snapshot() == before, content_type


@pytest.mark.parametrize("route", BODY_ROUTES, ids=lambda r: r.route_key)
def test_nul_characters_in_every_text_field_never_get_a_5xx(
    api: httpx.Client, existing: dict[str, str], route: Route
) -> None:
    """Valid JSON, but PostgreSQL text cannot hold NUL: refused, never a database error."""
    nul = "a\x00b"
    body = {"request": nul, "invoice": nul, "nostr_token": nul, "pubkey": nul, "amount_sats": 1}
    response = api.request(route.method, _path(route, existing), json=body)
    assert response.status_code < 500, (response.status_code, response.text[:300])


def test_a_nul_character_in_a_paid_session_request_is_refused(
    api: httpx.Client, existing: dict[str, str]
) -> None:
    session_id = paid_session(1_000)
    macaroon = api.get(f"/api/sessions/{session_id}").json()["macaroon"]
    before = _snapshot()
    response = api.post(
        f"/api/sessions/{session_id}/request",
        json={"request": "a\x00b"},
        headers={"authorization": f"Bearer {macaroon}"},
    )
    _assert_envelope(response, "nul in a session request")
    assert _snapshot() == before


def test_every_body_reader_is_a_route_of_the_template() -> None:
    assert {route.route_key for route in BODY_ROUTES} >= BODY_READERS
    assert len(BODY_READERS) >= 8


HOSTILE_QUERY_STRINGS = {
    "not_utf8": "request=%ff%fe%fd",
    "encoded_surrogate": "request=%ed%a0%80",
    "nul_character": "request=a%00b",
    "huge_integer": "request=" + "9" * DIGITS,
    "repeated": "&".join(["request=x"] * 500),
    "long_value": "request=" + "a" * 60_000,
    "bare_percent": "request=%zz%",
}

HOSTILE_SEGMENTS = {
    "not_utf8": "%ff%fe",
    "nul_character": "a%00b",
    "encoded_surrogate": "%ed%a0%80",
    "dot_segments": "..%2f..%2fetc",
    "long": "a" * 8_000,
    "almost_a_uuid": str(uuid.uuid4())[:-1] + "g",
    "uuid_with_nul": str(uuid.uuid4()) + "%00",
    "hash_like": "f" * 63 + "%00",
}


@pytest.mark.parametrize("route", GET_ROUTES, ids=lambda r: r.route_key)
def test_hostile_query_strings_never_get_a_5xx_and_change_nothing(
    api: httpx.Client, existing: dict[str, str], route: Route
) -> None:
    path = _path(route, existing)
    for name, query in HOSTILE_QUERY_STRINGS.items():
        before = _snapshot()
        response = api.get(f"{path}?{query}")
        assert response.status_code < 500, (name, response.status_code, response.text[:300])
        if response.status_code >= 400 or route.route_key not in NOT_JSON_ROUTES:
            assert response.headers["content-type"].startswith("application/json")
        if response.status_code >= 400:
            _assert_envelope(response, name, statuses=(response.status_code,))
        if route.path != "/api/sessions/{session_id}" and route.path != "/api/jobs/{job_id}":
            # Reading a session or a job may confirm its pending payment: not a change
            # caused by the hostile query.
            assert _snapshot() == before, name


@pytest.mark.parametrize("route", [r for r in ROUTES if r.param_names], ids=lambda r: r.route_key)
def test_hostile_path_parameters_get_a_4xx_envelope_and_change_nothing(
    api: httpx.Client, existing: dict[str, str], route: Route
) -> None:
    for name, segment in HOSTILE_SEGMENTS.items():
        path = route.path
        for parameter in route.param_names:
            path = path.replace("{" + parameter + "}", segment)
        before = _snapshot()
        body = {"request": "hi", "amount_sats": 1_000, "invoice": "lnbc1"}
        response = api.request(route.method, path, json=body if route.method == "POST" else None)
        _assert_envelope(response, name, statuses=(400, 404))
        assert _snapshot() == before, name


# -- the local gateway itself ----------------------------------------------------------------


def _raw_exchange(gateway_url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read one response: for requests httpx refuses to build."""
    parts = urlsplit(gateway_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    length = int(headers.get("content-length", len(body)))
    return int(status_line.split()[1]), headers, body[:length]


def _assert_raw_envelope(status: int, headers: dict[str, str], body: bytes, expected: int) -> None:
    assert status == expected, (status, body[:300])
    assert headers["content-type"].startswith("application/json"), headers
    error = json.loads(body)["error"]
    assert error["code"]
    assert error["message"]


GATEWAY_CASES: dict[str, tuple[bytes, int]] = {
    "trace": (b"TRACE /api/healthz HTTP/1.1\r\nHost: x\r\n\r\n", 405),
    "unknown_method": (b"BREW /api/healthz HTTP/1.1\r\nHost: x\r\n\r\n", 405),
    "too_many_headers": (
        b"GET /api/healthz HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-H%d: v\r\n" % i for i in range(200))
        + b"\r\n",
        431,
    ),
    "header_too_large": (
        b"GET /api/healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n",
        431,
    ),
    "request_line_too_long": (b"GET /api/healthz?" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414),
    "malformed_request_line": (b"GET\r\n\r\n", 400),
    "bad_content_length": (
        b"POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: lots\r\n\r\n{}",
        400,
    ),
    "negative_content_length": (
        b"POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n{}",
        400,
    ),
    "unicode_digit_content_length": (
        b"POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: \xb2\r\n\r\n{}",
        400,
    ),
    "chunked": (
        b"POST /api/jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\n{}\r\n0\r\n\r\n",
        411,
    ),
    "body_too_large": (
        b"POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n\r\n{}",
        413,
    ),
}


@pytest.mark.parametrize("case", GATEWAY_CASES, ids=str)
def test_the_local_gateway_answers_malformed_requests_with_the_envelope(
    gateway_url: str, case: str
) -> None:
    request, expected = GATEWAY_CASES[case]
    _assert_raw_envelope(*_raw_exchange(gateway_url, request), expected)
