"""GET /api/qr.svg?data=<BOLT11>: the QR code of one of our invoices, as SVG."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from timmy.api import HttpApi, make_handler, response_doc
from timmy.lightning.bolt11 import MAX_INVOICE_CHARS
from timmy.lightning.qr import invoice_qr_svg

app = HttpApi()

SVG_HEADERS = {
    # The drawing depends on the query alone: caches may keep it as long as they like.
    "Cache-Control": "public, max-age=86400, immutable",
    "X-Content-Type-Options": "nosniff",
    # Opened on its own, the SVG may run nothing and load nothing.
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


@app.get(
    "/api/qr.svg",
    summary="QR code of a Lightning invoice (SVG)",
    description=(
        "Draws lightning:<BOLT11> as an SVG QR code. Only a well-formed, signed BOLT11 invoice"
        " is drawn (upper or lower case, an optional lightning: prefix); anything else is a"
        " 400 invalid_invoice."
    ),
    tags=["web"],
    responses={
        200: {
            "description": "The QR code",
            "content": {"image/svg+xml": {"schema": {"type": "string"}}},
        },
        400: response_doc("invalid_request: data missing; invalid_invoice: not a BOLT11"),
    },
)
def qr_svg(
    data: Annotated[
        str,
        Query(
            description="The BOLT11 invoice (bech32, an optional lightning: prefix)",
            min_length=1,
            max_length=MAX_INVOICE_CHARS + len("lightning:"),
            pattern=r"^[A-Za-z0-9:]+$",
        ),
    ],
) -> Response[str]:
    return Response(200, "image/svg+xml", invoice_qr_svg(data), headers=SVG_HEADERS)


handler = make_handler(app)
