"""Reading the Lightning backend's payment webhook: a hint naming a payment hash, never proof.

Kept apart from the backend clients so the webhook handler does not import an HTTP client it
only needs when it asks the backend. phoenixd signs its webhooks (``X-Phoenix-Signature``: the
hex HMAC-SHA256 of the raw body with its webhook secret); with that backend an unsigned or
badly signed webhook is refused before anything is looked up. A valid signature still proves
nothing about payment: the handler confirms the hash with the backend either way.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Final

from timmy.lightning.errors import InvalidWebhookSignature
from timmy.settings import core

MAX_WEBHOOK_BYTES: Final = 256 * 1024
PHOENIX_SIGNATURE_HEADER: Final = "x-phoenix-signature"
_HEX64_RE: Final = re.compile(r"[0-9a-fA-F]{64}")


def phoenix_signature_valid(raw: bytes, signature: str | None, secret: str) -> bool:
    """Whether ``signature`` is the hex HMAC-SHA256 of ``raw`` under ``secret``; never raises."""
    if not secret or not isinstance(signature, str):
        return False
    expected = hmac.new(secret.encode("utf-8"), raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.strip().lower())


def check_webhook_signature(raw: str | bytes, headers: Mapping[str, str] | None) -> None:
    """Refuse a webhook the configured backend did not sign (phoenixd only: LNbits and the
    stub do not sign theirs). Raises :class:`InvalidWebhookSignature`."""
    settings = core()
    if settings.lightning_mode != "phoenixd":
        return
    body = raw.encode("utf-8") if isinstance(raw, str) else raw
    signature = next(
        (
            value
            for name, value in (headers or {}).items()
            if name.lower() == PHOENIX_SIGNATURE_HEADER
        ),
        None,
    )
    secret = settings.phoenixd_webhook_secret.get_secret_value()
    if not phoenix_signature_valid(body, signature, secret):
        raise InvalidWebhookSignature("The webhook signature is missing or wrong.")


def parse_webhook_body(raw: str | bytes) -> str | None:
    """The payment hash named by an LNbits or phoenixd payment webhook, or None; never raises.

    LNbits posts ``json=payment.json()``: the body is a JSON *string* whose content is the
    payment object, so it is decoded twice. A plain JSON object is accepted too. phoenixd posts
    ``{"type": "payment_received", "paymentHash": ...}``. The hash is only a hint: confirm it
    with the backend's ``check`` before acting on it.
    """
    try:
        if isinstance(raw, bytes):
            if len(raw) > MAX_WEBHOOK_BYTES:
                return None
            raw = raw.decode("utf-8")
        if not isinstance(raw, str) or len(raw) > MAX_WEBHOOK_BYTES:
            return None
        value: object = json.loads(raw)
        if isinstance(value, str):
            value = json.loads(value)
        if not isinstance(value, dict):
            return None
        candidate = value.get("payment_hash")
        if candidate is None:
            candidate = value.get("paymentHash")
        if candidate is None and isinstance(value.get("details"), dict):
            candidate = value["details"].get("payment_hash")
        if isinstance(candidate, str) and _HEX64_RE.fullmatch(candidate):
            return candidate.lower()
        return None
    except Exception:  # noqa: BLE001 - garbage in any shape is simply "no hint"
        return None
