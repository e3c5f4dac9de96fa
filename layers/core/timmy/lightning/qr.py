"""QR codes of our Lightning invoices, drawn here (no third-party service sees the invoice).

Only a well-formed, signed BOLT11 is drawn: the route is not a general QR generator. The code
holds the ``lightning:`` URI in upper case, which QR's alphanumeric mode packs densest and
every wallet reads (BIP 21 / BOLT11 allow either case).
"""

from __future__ import annotations

import io
from typing import Final

from timmy.lightning.bolt11 import decode_invoice

_URI_SCHEME: Final = "lightning:"


def invoice_qr_svg(bolt11: str) -> str:
    """An SVG drawing of ``lightning:<BOLT11>``; InvalidInvoice for anything else."""
    import segno  # lazily: only this route draws

    invoice = decode_invoice(bolt11)
    code = segno.make_qr((_URI_SCHEME + invoice.bolt11).upper(), error="m")
    out = io.BytesIO()
    # A white quiet zone of 4 modules, as scanners need; a viewBox so that CSS sizes it.
    code.save(
        out,
        kind="svg",
        scale=1,
        border=4,
        xmldecl=False,
        svgns=True,
        svgclass=None,
        lineclass=None,
        omitsize=True,
        dark="#000",
        light="#fff",
    )
    return out.getvalue().decode("ascii")
