"""Checks every HTTP Lightning backend applies alike: what we send, and what we believe."""

from __future__ import annotations

import re
from typing import Final, TypeGuard

from timmy.lightning.bolt11 import decode_invoice, preimage_matches
from timmy.lightning.errors import InvalidInvoice, LightningBadResponse
from timmy.lightning.types import CreatedInvoice

HEX64_RE: Final = re.compile(r"[0-9a-fA-F]{64}")


def is_int(value: object) -> TypeGuard[int]:
    """A JSON integer (booleans are ints to Python, never to us)."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_create_args(
    amount_sats: int,
    memo: str,
    expiry: int,
    webhook_url: str | None,
    *,
    max_memo_bytes: int | None = None,
) -> None:
    if not is_int(amount_sats) or amount_sats < 1:
        raise ValueError("amount_sats must be a positive integer")
    if not isinstance(memo, str):
        raise ValueError("memo must be a string")
    if max_memo_bytes is not None and len(memo.encode("utf-8")) > max_memo_bytes:
        raise ValueError(f"memo must be a string of at most {max_memo_bytes} UTF-8 bytes")
    if not is_int(expiry) or expiry < 1:
        raise ValueError("expiry must be a positive integer")
    if webhook_url is not None and (
        not isinstance(webhook_url, str) or not webhook_url.startswith(("https://", "http://"))
    ):
        raise ValueError("webhook_url must be an http(s) URL")


def normalise_hash(payment_hash: str) -> str:
    # Validated before it is put in a URL path, so it can never reach another endpoint.
    if not isinstance(payment_hash, str) or not HEX64_RE.fullmatch(payment_hash):
        raise InvalidInvoice("payment hash must be 64 hex characters")
    return payment_hash.lower()


def proven_preimage(preimage: object, payment_hash: str) -> str | None:
    """``preimage`` (lower case) if it hashes to ``payment_hash``, else None."""
    if isinstance(preimage, str) and preimage_matches(preimage, payment_hash):
        return preimage.lower()
    return None


def created_invoice(
    backend: str, payment_hash: object, bolt11: object, amount_sats: int
) -> CreatedInvoice:
    """Trust a created invoice only if its BOLT11 says what the backend claims and we asked."""
    if not isinstance(payment_hash, str) or not HEX64_RE.fullmatch(payment_hash):
        raise LightningBadResponse(f"{backend} returned an invoice without a valid payment hash")
    if not isinstance(bolt11, str):
        raise LightningBadResponse(f"{backend} returned an invoice without a BOLT11 string")
    try:
        decoded = decode_invoice(bolt11)
    except InvalidInvoice:
        raise LightningBadResponse(f"{backend} returned an invoice that does not decode") from None
    if decoded.payment_hash != payment_hash.lower():
        raise LightningBadResponse(f"{backend} returned an invoice for a different payment hash")
    if decoded.amount_sats != amount_sats:
        raise LightningBadResponse(f"{backend} returned an invoice for a different amount")
    return CreatedInvoice(
        payment_hash=decoded.payment_hash,
        payment_request=bolt11,
        amount_sats=amount_sats,
        expires_at=decoded.expires_at,
    )
