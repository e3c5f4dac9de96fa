"""Reading the Lightning backend's payment webhook: a hint naming a payment hash, never proof.

Kept apart from the LNbits client so the webhook handler does not import an HTTP client it
only needs when it asks the backend.
"""

from __future__ import annotations

import json
import re
from typing import Final

MAX_WEBHOOK_BYTES: Final = 256 * 1024
_HEX64_RE: Final = re.compile(r"[0-9a-fA-F]{64}")


def parse_webhook_body(raw: str | bytes) -> str | None:
    """The payment hash named by an LNbits payment webhook, or None; never raises.

    LNbits posts ``json=payment.json()``: the body is a JSON *string* whose content is the
    payment object, so it is decoded twice. A plain JSON object is accepted too. The hash is
    only a hint: confirm it with the backend's ``check`` before acting on it.
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
        if candidate is None and isinstance(value.get("details"), dict):
            candidate = value["details"].get("payment_hash")
        if isinstance(candidate, str) and _HEX64_RE.fullmatch(candidate):
            return candidate.lower()
        return None
    except Exception:  # noqa: BLE001 - garbage in any shape is simply "no hint"
        return None
