"""GET /api/v1/catalog (prices in sats and USD at the current BTC price) and GET /llms.txt
(generated from the catalog and the OpenAPI document)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import Response

from timmy.api import HttpApi, base_url, make_handler, response_doc
from timmy.catalog.service import llms_txt, priced_catalog
from timmy.catalog.views import CatalogView

app = HttpApi()

# A link to shared/openapi.json in the repository; `sam build` copies it as a file.
OPENAPI_FILE = Path(__file__).resolve().parent / "openapi.json"


@functools.cache
def _openapi() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(OPENAPI_FILE.read_text("utf-8"))
    return document


@app.get(
    "/api/v1/catalog",
    summary="Models, priced routes and marketplace fees",
    description="Free. The catalog (shared/catalog.yaml) priced in sats and USD at the current"
    " BTC price.",
    tags=["catalog"],
    responses={200: response_doc("The catalog", CatalogView)},
)
def get_catalog() -> CatalogView:
    return priced_catalog()


@app.get(
    "/llms.txt",
    summary="What Timmy is and costs, for language models (llms.txt)",
    tags=["catalog"],
    responses={
        200: {
            "description": "Plain text",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
def get_llms_txt() -> Response[str]:
    return Response(
        200,
        "text/plain; charset=utf-8",
        llms_txt(_openapi(), base_url(app)),
        headers={"Cache-Control": "public, max-age=300"},
    )


handler = make_handler(app)
