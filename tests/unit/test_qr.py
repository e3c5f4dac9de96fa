from __future__ import annotations

import pytest

from timmy.lightning.bolt11 import encode_invoice
from timmy.lightning.errors import InvalidInvoice
from timmy.lightning.qr import invoice_qr_svg


def _invoice() -> str:
    return encode_invoice(
        payment_hash=bytes(range(32)),
        amount_sats=21,
        description="qr",
        expiry=600,
        signing_key=bytes([7] * 32),
    )


def test_an_invoice_is_drawn_as_svg_with_a_quiet_zone() -> None:
    svg = invoice_qr_svg(_invoice())
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ')
    assert 'fill="#fff"' in svg  # the white background, quiet zone included
    assert "<script" not in svg
    assert "style=" not in svg


def test_the_code_holds_the_lightning_uri_in_upper_case() -> None:
    import segno

    invoice = _invoice()
    expected = segno.make_qr(("lightning:" + invoice).upper(), error="m")
    assert expected.mode == "alphanumeric"
    svg = invoice_qr_svg(invoice)
    size = expected.symbol_size(scale=1, border=4)[0]
    assert f'viewBox="0 0 {size} {size}"' in svg


@pytest.mark.parametrize("text", ["", "hello", "lnbcrt1qqqq", "https://example.com"])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(InvalidInvoice):
        invoice_qr_svg(text)
