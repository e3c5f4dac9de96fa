"""An L402 client as lnget and Alby's ``fetchWithL402`` behave, for the tests over HTTP.

* lnget keeps one token per host and sends it with every request; it pays again only on a 402
  whose ``WWW-Authenticate`` matches its pattern, decodes the macaroon's identifier with
  Aperture's layout (uint16 version ‖ payment hash ‖ token id) and refuses anything else, pays
  the invoice, and resends the same request with ``Authorization: L402 <macaroon>:<preimage>``.
* Alby (``lsat=True`` here) keeps nothing between calls, takes the first challenge it finds
  (the ``LSAT`` one comes first) and retries with the legacy ``LSAT`` scheme.

The wallet is the dev wallet (``POST /api/dev/wallet/pay``), which hands back the preimage.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
from dataclasses import dataclass, field
from typing import Any

import httpx

# lnget's pattern for one challenge (l402/header.go).
CHALLENGE = re.compile(r'(LSAT|L402)\s+macaroon="([^"]+)",\s*invoice="([^"]+)"')


@dataclass(frozen=True)
class Token:
    macaroon: str
    preimage: str
    payment_hash: bytes
    token_id: bytes

    def header(self, scheme: str = "L402") -> str:
        return f"{scheme} {self.macaroon}:{self.preimage}"


def identifier_of(macaroon_b64: str) -> tuple[int, bytes, bytes]:
    """Aperture's decoding of a v2 binary macaroon's identifier (version, hash, token id)."""
    raw = base64.b64decode(macaroon_b64)
    assert raw[0] == 2, "a v2 binary macaroon"
    # Header: optional location (type 1), then the identifier (type 2), one-byte lengths here.
    position = 1
    if raw[position] == 1:
        position += 2 + raw[position + 1]
    assert raw[position] == 2
    length = raw[position + 1]
    identifier = raw[position + 2 : position + 2 + length]
    version, payment_hash, token_id = struct.unpack(">H32s32s", identifier)
    return version, payment_hash, token_id


def parse_challenge(response: httpx.Response) -> tuple[str, str, str]:
    """(scheme, macaroon, invoice) of the first challenge, as lnget and Alby read it."""
    found = CHALLENGE.search(response.headers.get("www-authenticate", ""))
    assert found is not None, response.headers
    return found.group(1), found.group(2), found.group(3)


@dataclass
class L402Client:
    http: httpx.Client
    lsat: bool = False  # Alby: no cache, the legacy scheme
    max_cost_sats: int = 100_000  # lnget's --max-cost
    token: Token | None = None
    paid_sats: list[int] = field(default_factory=list)

    def pay(self, response: httpx.Response) -> Token:
        _, macaroon, invoice = parse_challenge(response)
        version, payment_hash, token_id = identifier_of(macaroon)
        assert version == 0, "lnget refuses any other identifier version"
        amount = int(response.json()["l402"]["amount_sats"])
        assert amount <= self.max_cost_sats, "over --max-cost: lnget would not pay"
        paid = self.http.post("/api/dev/wallet/pay", json={"invoice": invoice})
        assert paid.status_code == 200, paid.text
        preimage = paid.json()["preimage"]
        assert hashlib.sha256(bytes.fromhex(preimage)).digest() == payment_hash
        self.paid_sats.append(amount)
        return Token(macaroon, preimage, payment_hash, token_id)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; on a 402 challenge, pay it and send the same request again (once)."""
        headers = dict(kwargs.pop("headers", {}))
        scheme = "LSAT" if self.lsat else "L402"
        if self.token is not None and not self.lsat:
            headers["Authorization"] = self.token.header(scheme)
        answer = self.http.request(method, path, headers=headers, **kwargs)
        if answer.status_code != 402 or not CHALLENGE.search(
            answer.headers.get("www-authenticate", "")
        ):
            return answer
        token = self.pay(answer)
        if not self.lsat:
            self.token = token
        headers["Authorization"] = token.header(scheme)
        return self.http.request(method, path, headers=headers, **kwargs)
