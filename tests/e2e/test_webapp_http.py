"""The web app's files and the invoice QR codes over HTTP through the local gateway: content
types, caching, the Content-Security-Policy, and what is refused."""

from __future__ import annotations

import re

import httpx
import pytest

ASSET_RE = re.compile(r"/app/([0-9a-f]{12})/main\.js")


def _version(api: httpx.Client) -> str:
    page = api.get("/")
    found = ASSET_RE.search(page.text)
    assert found, page.text
    return found.group(1)


def test_the_page_is_served_with_a_strict_policy_and_revalidated(api: httpx.Client) -> None:
    page = api.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["cache-control"] == "no-cache"
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    # No inline script and no third-party origin anywhere in the page.
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text) is None
    assert "http://" not in page.text
    assert "https://" not in page.text
    again = api.get("/", headers={"If-None-Match": page.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("main.js", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
        ("openapi.json", "application/json"),
    ],
)
def test_assets_under_the_current_version_are_immutable(
    api: httpx.Client, name: str, content_type: str
) -> None:
    asset = api.get(f"/app/{_version(api)}/{name}")
    assert asset.status_code == 200
    assert asset.headers["content-type"] == content_type
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    stale = api.get(f"/app/000000000000/{name}")
    assert stale.status_code == 200
    assert stale.headers["cache-control"] == "no-cache"


def test_the_api_page_reads_the_committed_openapi_document(api: httpx.Client) -> None:
    from local.openapi import OUTPUT

    served = api.get(f"/app/{_version(api)}/openapi.json")
    assert served.json() == httpx.Response(200, content=OUTPUT.read_bytes()).json()


@pytest.mark.parametrize("name", ["nope.js", "index.html", "..%2Fapp.py", "app.py"])
def test_unknown_files_are_404(api: httpx.Client, name: str) -> None:
    missing = api.get(f"/app/{_version(api)}/{name}")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] in {"not_found", "route_not_found"}


def test_an_invoice_is_drawn_as_an_svg_qr_code(api: httpx.Client) -> None:
    challenge = api.post("/api/v1/topup", json={"amount_sats": 21}).json()
    drawn = api.get("/api/qr.svg", params={"data": challenge["invoice"]})
    assert drawn.status_code == 200
    assert drawn.headers["content-type"] == "image/svg+xml"
    assert drawn.text.startswith("<svg")
    assert "<script" not in drawn.text
    assert "sandbox" in drawn.headers["content-security-policy"]
    upper = api.get("/api/qr.svg", params={"data": "lightning:" + challenge["invoice"].upper()})
    assert upper.status_code == 200
    assert upper.text == drawn.text


@pytest.mark.parametrize(
    "data",
    ["hello", "https://example.com/", "lnbc1" + "q" * 80, "x" * 8000, ""],
    ids=["text", "url", "not-signed", "too-long", "empty"],
)
def test_anything_but_an_invoice_is_refused(api: httpx.Client, data: str) -> None:
    refused = api.get("/api/qr.svg", params={"data": data})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] in {"invalid_invoice", "invalid_request"}


def test_the_dev_wallet_probe_the_app_uses_tells_the_route_apart(api: httpx.Client) -> None:
    """The app shows "Pay with dev wallet" when an empty body is refused (400), not 404."""
    probe = api.post("/api/dev/wallet/pay", json={})
    assert probe.status_code == 400
