"""GET / and GET /app/{version}/{asset}: the web app, files packaged with this function.

The page at ``/`` names its assets under ``/app/<version>/``, where the version is a digest of
every file: an asset URL never changes meaning, so browsers may keep it for a year, and a
deploy is picked up at the next page load (the page itself is revalidated every time).
Served by a function behind the same HTTP API rather than from S3 + CloudFront: one origin for
the page and the API (no CORS, one Content-Security-Policy of 'self'), nothing more to deploy
or pay for, and `make dev` serves it exactly as AWS does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Final

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path as PathParam

from timmy.api import HttpApi, header, make_handler, response_doc
from timmy.errors import NotFound

app = HttpApi()

HERE = Path(__file__).resolve().parent
# web/ (the sources) and openapi.json (the API page's document) are links in the repository,
# copied into the package by `sam build`.
WEB_DIR = HERE / "web"
OPENAPI_FILE = HERE / "openapi.json"
VERSION_PLACEHOLDER: Final = "__ASSET_VERSION__"

CONTENT_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
}

# No inline script or style anywhere; the QR codes are images of this origin.
CONTENT_SECURITY_POLICY: Final = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
IMMUTABLE: Final = "public, max-age=31536000, immutable"
REVALIDATE: Final = "no-cache"


@dataclass(frozen=True, slots=True)
class Asset:
    body: str
    content_type: str
    etag: str


@dataclass(frozen=True, slots=True)
class Site:
    version: str
    index: Asset
    assets: dict[str, Asset]


def _asset(body: str, name: str) -> Asset:
    digest = hashlib.sha256(body.encode()).hexdigest()[:20]
    return Asset(body, CONTENT_TYPES[Path(name).suffix], f'"{digest}"')


@cache
def site() -> Site:
    """Every file, read once per container (on the first request, not at import)."""
    files = {
        path.name: path.read_text("utf-8")
        for path in sorted(WEB_DIR.iterdir())
        if path.is_file() and path.suffix in CONTENT_TYPES
    }
    files["openapi.json"] = OPENAPI_FILE.read_text("utf-8")
    digest = hashlib.sha256()
    for name, text in sorted(files.items()):
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    version = digest.hexdigest()[:12]
    index = files.pop("index.html").replace(VERSION_PLACEHOLDER, version)
    return Site(version, _asset(index, "index.html"), {n: _asset(t, n) for n, t in files.items()})


def _serve(asset: Asset, cache_control: str) -> Response[str]:
    headers = {**SECURITY_HEADERS, "Cache-Control": cache_control, "ETag": asset.etag}
    if header(app, "if-none-match") == asset.etag:
        return Response(304, None, "", headers=headers)
    return Response(200, asset.content_type, asset.body, headers=headers)


def _text_response(description: str, *media_types: str) -> dict[str, object]:
    return {
        "description": description,
        "content": {
            media: {"schema": {"type": "object" if media.endswith("json") else "string"}}
            for media in media_types
        },
    }


@app.get(
    "/",
    summary="The web app",
    description=(
        "The single page of the web app, revalidated on every load (304 to a matching"
        " If-None-Match)."
    ),
    tags=["web"],
    responses={
        200: _text_response("The page", "text/html"),  # type: ignore[dict-item]
    },
)
def index() -> Response[str]:
    return _serve(site().index, REVALIDATE)


@app.get(
    "/app/<version>/<asset>",
    summary="A file of the web app",
    description=(
        "Scripts, styles, images and the OpenAPI document the page names. Under the current"
        " version they are immutable; under another one they are served revalidated. 304 to"
        " a matching If-None-Match."
    ),
    tags=["web"],
    responses={
        200: _text_response(  # type: ignore[dict-item]
            "The file",
            "text/javascript",
            "text/css",
            "image/svg+xml",
            "application/json",
        ),
        404: response_doc("not_found: no such file"),
    },
)
def web_asset(
    version: Annotated[str, PathParam(description="The asset version the page names")],
    asset: Annotated[str, PathParam(description="File name")],
) -> Response[str]:
    current = site()
    found = current.assets.get(asset)
    if found is None:
        raise NotFound("No such file.", code="not_found")
    return _serve(found, IMMUTABLE if version == current.version else REVALIDATE)


handler = make_handler(app)
