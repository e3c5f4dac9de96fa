"""L402 credentials without I/O: the identifier, minting, the headers, and verification.

* **Identifier** (Aperture's layout, which lnget decodes): uint16 big-endian version 0 ‖
  payment hash (32 bytes) ‖ token id (32 random bytes).
* **Caveats** (first-party, ``cond=value``): ``services=timmy:0``,
  ``timmy_capabilities=<capability>``, ``timmy_valid_until=<unix>``. Anyone holding a macaroon
  can append caveats, so each one only ever narrows: every ``services`` caveat must name
  ``timmy:0``, every ``timmy_capabilities`` caveat must list the route's capability, every
  ``timmy_valid_until`` must lie in the future. Other conditions (``account_id=…``) are ignored
  and grant nothing; a third-party caveat can never be discharged here, so it is refused.
* **Verify** (Aperture's order): the identifier decodes → sha256(preimage) is the payment hash
  → (the caller finds the token's root key) → the HMAC chain → the caveats. Whether the invoice
  is really settled is the service's business (:mod:`timmy.l402.service`).
"""

from __future__ import annotations

import binascii
import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from timmy import macaroons
from timmy.l402.errors import InvalidL402

VERSION: Final = 0
IDENTIFIER_BYTES: Final = 2 + 32 + 32
SERVICE: Final = "timmy"
SERVICE_TIER: Final = 0
SCHEMES: Final = ("L402", "LSAT")  # LSAT: the legacy name Alby's fetchWithL402 sends
_CHALLENGE_ORDER: Final = ("LSAT", "L402")  # Aperture's order; Alby takes the first it finds

_SERVICES = b"services"
_CAPABILITIES = (SERVICE + "_capabilities").encode()
_VALID_UNTIL = (SERVICE + "_valid_until").encode()
_OUR_SERVICE = f"{SERVICE}:{SERVICE_TIER}".encode()
_PREIMAGE_HEX_CHARS = 64
_BAD_PREIMAGE = "The L402 preimage must be 64 hexadecimal characters."
_MAX_UNIX_DIGITS = 16


@dataclass(frozen=True, slots=True)
class Identifier:
    payment_hash: bytes
    token_id: bytes

    def encode(self) -> bytes:
        return VERSION.to_bytes(2, "big") + self.payment_hash + self.token_id

    @classmethod
    def decode(cls, raw: bytes) -> Identifier:
        """Aperture's layout; anything else (a hex-string identifier, another version) is
        not one of ours."""
        if len(raw) != IDENTIFIER_BYTES or raw[0] != 0 or raw[1] != VERSION:
            raise InvalidL402("The L402 macaroon's identifier is not one this service issued.")
        return cls(raw[2:34], raw[34:])


@dataclass(frozen=True, slots=True)
class Presented:
    """An ``Authorization: L402|LSAT <macaroon>:<preimage>`` whose preimage matches the
    identifier's payment hash; the signature is not checked yet (it needs the root key)."""

    scheme: str
    macaroon: macaroons.Macaroon
    identifier: Identifier


class Verdict(StrEnum):
    """What a genuine credential's caveats say about this request."""

    GRANTED = "granted"
    EXPIRED = "expired"  # some timmy_valid_until has passed
    WRONG_ROUTE = "wrong_route"  # another service, or a capability this route is not


def mint(
    root_key: bytes, identifier: Identifier, *, capability: str, valid_until: int
) -> macaroons.Macaroon:
    macaroon = macaroons.mint(root_key, identifier.encode())
    for condition in (
        _SERVICES + b"=" + _OUR_SERVICE,
        _CAPABILITIES + b"=" + capability.encode("ascii"),
        _VALID_UNTIL + b"=" + str(valid_until).encode("ascii"),
    ):
        macaroon = macaroons.add_first_party_caveat(macaroon, condition)
    return macaroon


def challenge_header(macaroon_b64: str, invoice: str) -> str:
    """Both challenges, the legacy one first (as Aperture sends them), ``", "`` between.

    API Gateway's HTTP API answers one value per header name, so the two challenges travel
    comma-separated in one ``WWW-Authenticate`` line, as RFC 9110 §11.6.1 allows; lnget's and
    Alby's parsers both read the first match.
    """
    return ", ".join(
        f'{name} macaroon="{macaroon_b64}", invoice="{invoice}"' for name in _CHALLENGE_ORDER
    )


def is_l402(authorization: str | None) -> bool:
    """True when the Authorization header uses the L402 or LSAT scheme (any case)."""
    if not authorization:
        return False
    scheme = authorization.lstrip().partition(" ")[0]
    return scheme.upper() in SCHEMES


def present(authorization: str) -> Presented:
    """Decode an L402/LSAT credential and check its preimage against its payment hash.

    401 ``invalid_l402`` for anything malformed, several macaroons, an identifier of another
    layout, or a preimage that does not hash to the payment hash.
    """
    scheme, _, token = authorization.strip().partition(" ")
    macaroon_b64, colon, preimage_hex = token.strip().rpartition(":")
    if not colon or not macaroon_b64 or "," in macaroon_b64:
        raise InvalidL402(f"Authorization must be: {SCHEMES[0]} <macaroon>:<preimage>.")
    if len(preimage_hex) != _PREIMAGE_HEX_CHARS:
        raise InvalidL402(_BAD_PREIMAGE)
    try:  # a2b_hex takes ASCII hexadecimal digits only, so 64 of them is [0-9a-fA-F]{64}
        preimage = binascii.a2b_hex(preimage_hex)
    except ValueError:
        raise InvalidL402(_BAD_PREIMAGE) from None
    try:
        macaroon = macaroons.from_base64(macaroon_b64)
    except macaroons.MacaroonFormatError:
        raise InvalidL402("The L402 macaroon could not be decoded.") from None
    identifier = Identifier.decode(macaroon.identifier)
    if hashlib.sha256(preimage).digest() != identifier.payment_hash:
        raise InvalidL402("The L402 preimage does not pay this macaroon's invoice.")
    return Presented(scheme.upper(), macaroon, identifier)


def check_signature(macaroon: macaroons.Macaroon, root_key: bytes) -> None:
    """The HMAC chain from the token's root key; 401 ``invalid_l402`` when forged or tampered."""
    if not macaroons.has_valid_signature(macaroon, root_key):
        raise InvalidL402("The L402 macaroon's signature is not valid.")


def verify(macaroon: macaroons.Macaroon, root_key: bytes, *, capability: str, now: int) -> Verdict:
    """The HMAC chain (401 ``invalid_l402`` when forged or tampered), then the caveats."""
    check_signature(macaroon, root_key)
    return caveat_verdict(macaroon.caveats, capability=capability, now=now)


def caveat_verdict(caveats: tuple[macaroons.Caveat, ...], *, capability: str, now: int) -> Verdict:
    """Every caveat narrows; the server's own three are always among them (the signature
    covers them, so none can be removed)."""
    wanted = capability.encode("ascii")
    verdict = Verdict.GRANTED
    for caveat in caveats:
        if caveat.verification_id:
            raise InvalidL402("The L402 macaroon carries a third-party caveat.")
        name, equals, value = caveat.identifier.partition(b"=")
        if not equals:
            continue  # not a condition of this service: ignored, grants nothing
        if name == _VALID_UNTIL:
            # An unreadable expiry cannot be shown to hold: it denies.
            if not _is_unix(value) or int(value) <= now:
                return Verdict.EXPIRED
        elif (name == _CAPABILITIES and wanted not in _items(value)) or (
            name == _SERVICES and _OUR_SERVICE not in _items(value)
        ):
            verdict = Verdict.WRONG_ROUTE
    return verdict


def _is_unix(value: bytes) -> bool:
    """``0|[1-9][0-9]{0,15}``: ASCII digits, no leading zero, at most 16 of them."""
    return (
        value.isdigit()  # bytes: ASCII digits only, and not empty
        and len(value) <= _MAX_UNIX_DIGITS
        and (value[0] != ord("0") or len(value) == 1)
    )


def _items(value: bytes) -> list[bytes]:
    return [item.strip() for item in value.split(b",")]
