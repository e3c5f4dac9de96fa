"""BOLT11 invoices: strict decoding, signed encoding and payment preimages.

Built on the PyPI ``bolt11`` package (bech32 + tagged fields + coincurve signatures), with the
reader checks that package leaves out: mixed case, sub-millisatoshi amounts, unknown required
feature bits, whitespace and a ``lightning:`` URI prefix. The package is imported lazily so that
importing this module stays cheap on a Lambda cold start.

Amounts: ``DecodedInvoice.amount_msat`` is exact. ``amount_sats`` is set only when the amount is
a whole number of sats; it is None for an invoice without an amount *and* for one such as
``1500 msat``. Refunds must pay an exact number of sats, so callers that need sats reject None.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from timmy.lightning.errors import InvalidInvoice

if TYPE_CHECKING:
    from bolt11 import Bolt11

NETWORKS: Final = frozenset({"bc", "tb", "tbs", "bcrt"})
MIN_FINAL_CLTV_EXPIRY: Final = 18  # the BOLT11 default, written out explicitly as required
MAX_DESCRIPTION_BYTES: Final = 639  # a tagged field holds at most 1023 x 5 bits
# The bolt11 package shortens 1000 BTC to "1" (it divides once too often), so the encoder stays
# below that; no Lightning payment comes anywhere near it.
MAX_ENCODE_SATS: Final = 100_000_000_000 - 1
MAX_INVOICE_CHARS: Final = 7089  # the largest QR code; real invoices are far shorter
MAX_EXPIRY_SECONDS: Final = 2**31 - 1

_MSAT_PER_BTC: Final = 100_000_000_000
_MAX_MSAT: Final = 21_000_000 * _MSAT_PER_BTC
# Millisatoshis per unit of each multiplier, times 10 so that pico (0.1 msat) stays integral.
_DECI_MSAT_PER_UNIT: Final = {
    "": _MSAT_PER_BTC * 10,
    "m": 1_000_000_000,
    "u": 1_000_000,
    "n": 1_000,
    "p": 1,
}
_HRP_RE: Final = re.compile(r"ln(bcrt|bc|tbs|tb)(?:(\d+)([munp]?))?")
_HEX64_RE: Final = re.compile(r"[0-9a-f]{64}")
_URI_PREFIX: Final = "lightning:"
# Even (required) feature bits BOLT 9 allows in invoices: var_onion_optin, payment_secret,
# basic_mpp, option_route_blinding, option_attribution_data, option_payment_metadata.
_KNOWN_REQUIRED_FEATURE_BITS: Final = frozenset({8, 14, 16, 24, 36, 48})


@dataclass(frozen=True, slots=True)
class DecodedInvoice:
    """The fields of a verified BOLT11 invoice that Timmy uses."""

    bolt11: str  # the bare lower-case invoice (no "lightning:" prefix): what to store or pay
    payment_hash: str  # 64 lowercase hex
    amount_msat: int | None  # None: the invoice lets the payer choose
    amount_sats: int | None  # None: no amount, or not a whole number of sats
    network: str  # "bc", "tb", "tbs" or "bcrt"
    timestamp: int  # creation time, seconds since the epoch
    expiry: int  # seconds after ``timestamp``
    expires_at: datetime  # UTC
    description: str | None  # None when the invoice commits to a description hash instead
    description_hash: str | None
    payee: str  # 33-byte compressed node public key, hex
    min_final_cltv_expiry: int

    @property
    def created_at(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp, UTC)

    def is_expired(self, now: datetime | None = None) -> bool:
        return (now or datetime.now(UTC)) >= self.expires_at


def new_preimage() -> tuple[str, str]:
    """A fresh random preimage and its payment hash, both as lowercase hex."""
    preimage = secrets.token_bytes(32)
    return preimage.hex(), hashlib.sha256(preimage).hexdigest()


def preimage_matches(preimage: object, payment_hash: object) -> bool:
    """True when ``preimage`` is 32 bytes of hex whose sha256 is ``payment_hash``; never raises."""
    if not isinstance(preimage, str) or not isinstance(payment_hash, str):
        return False
    if not _HEX64_RE.fullmatch(preimage.lower()) or not _HEX64_RE.fullmatch(payment_hash.lower()):
        return False
    digest = hashlib.sha256(bytes.fromhex(preimage)).hexdigest()
    return secrets.compare_digest(digest, payment_hash.lower())


def decode_invoice(bolt11: str) -> DecodedInvoice:
    """Decode and verify a BOLT11 invoice.

    Accepts upper or lower case and a ``lightning:`` prefix. Raises :class:`InvalidInvoice`
    for anything else that is not a well-formed, correctly signed invoice with a payment hash,
    a payment secret and a description (or description hash).
    """
    text = _normalise(bolt11)
    network, amount_msat = _parse_hrp(text[: text.rfind("1")])
    parsed = _decode_with_library(text)

    features = parsed.features
    if features is not None:
        _check_feature_bits(int(features.data.uint))

    expiry = int(parsed.expiry)
    timestamp = int(parsed.date)
    try:
        expires_at = datetime.fromtimestamp(timestamp + expiry, UTC)
    except (OverflowError, ValueError, OSError):
        raise InvalidInvoice("invalid BOLT11 invoice: expiry is out of range") from None

    payee = parsed.payee
    if not isinstance(payee, str):  # the library always sets it; keep mypy and us honest
        raise InvalidInvoice("invalid BOLT11 invoice: no payee public key")

    return DecodedInvoice(
        bolt11=text,
        payment_hash=parsed.payment_hash,
        amount_msat=amount_msat,
        amount_sats=_whole_sats(amount_msat),
        network=network,
        timestamp=timestamp,
        expiry=expiry,
        expires_at=expires_at,
        description=parsed.description,
        description_hash=parsed.description_hash,
        payee=payee,
        min_final_cltv_expiry=int(parsed.min_final_cltv_expiry),
    )


def encode_invoice(
    *,
    payment_hash: bytes,
    amount_sats: int,
    description: str,
    expiry: int,
    signing_key: bytes,
    network: str = "bcrt",
    timestamp: int | None = None,
) -> str:
    """A signed BOLT11 invoice that standard decoders and wallets accept.

    It carries one ``p``, one random ``s`` (payment secret), ``d``, ``x``, ``c`` and features
    var_onion_optin + payment_secret (both required). Raises ValueError for bad arguments.
    """
    _check_encode_args(payment_hash, amount_sats, description, expiry, network)
    created = int(time.time()) if timestamp is None else timestamp
    if isinstance(created, bool) or not isinstance(created, int) or not 0 <= created < 2**35:
        raise ValueError("timestamp must be an integer in [0, 2**35)")

    from coincurve import PrivateKey

    if not isinstance(signing_key, bytes) or len(signing_key) != 32:
        raise ValueError("signing_key must be a 32-byte secp256k1 secret")
    try:
        payee = PrivateKey(signing_key).public_key.format(compressed=True).hex()
    except Exception:  # noqa: BLE001 - coincurve rejects zero and keys >= the curve order
        raise ValueError("signing_key is not a valid secp256k1 secret") from None

    from bolt11 import (
        Bolt11,
        Feature,
        Features,
        FeatureState,
        MilliSatoshi,
        TagChar,
        Tags,
        encode,
    )

    tags = Tags()
    tags.add(TagChar.payment_hash, payment_hash.hex())
    tags.add(TagChar.payment_secret, secrets.token_bytes(32).hex())
    tags.add(TagChar.description, description)
    tags.add(TagChar.expire_time, expiry)
    tags.add(TagChar.min_final_cltv_expiry, MIN_FINAL_CLTV_EXPIRY)
    tags.add(
        TagChar.features,
        Features.from_feature_list(
            {
                Feature.var_onion_optin: FeatureState.required,
                Feature.payment_secret: FeatureState.required,
            }
        ),
    )
    invoice = Bolt11(
        currency=network,
        date=created,
        tags=tags,
        amount_msat=MilliSatoshi(amount_sats * 1000),
    )
    text: str = encode(invoice, signing_key.hex(), strict=True)

    # Read our own output back: a wrong amount or hash here would cost real money.
    check = decode_invoice(text)
    if (
        check.payment_hash != payment_hash.hex()
        or check.amount_sats != amount_sats
        or check.description != description
        or check.expiry != expiry
        or check.payee != payee
    ):
        raise RuntimeError("the BOLT11 encoder produced an inconsistent invoice")
    return text


def _check_encode_args(
    payment_hash: bytes, amount_sats: int, description: str, expiry: int, network: str
) -> None:
    if not isinstance(payment_hash, bytes) or len(payment_hash) != 32:
        raise ValueError("payment_hash must be 32 bytes")
    if isinstance(amount_sats, bool) or not isinstance(amount_sats, int):
        raise ValueError("amount_sats must be an integer")
    if not 1 <= amount_sats <= MAX_ENCODE_SATS:
        raise ValueError(f"amount_sats must be between 1 and {MAX_ENCODE_SATS}")
    if not isinstance(description, str):
        raise ValueError("description must be a string")
    if len(description.encode("utf-8")) > MAX_DESCRIPTION_BYTES:
        raise ValueError(f"description must be at most {MAX_DESCRIPTION_BYTES} UTF-8 bytes")
    if isinstance(expiry, bool) or not isinstance(expiry, int):
        raise ValueError("expiry must be an integer")
    if not 1 <= expiry <= MAX_EXPIRY_SECONDS:
        raise ValueError(f"expiry must be between 1 and {MAX_EXPIRY_SECONDS} seconds")
    if network not in NETWORKS:
        raise ValueError(f"network must be one of {sorted(NETWORKS)}")


def _normalise(bolt11: object) -> str:
    """The bare lower-case bech32 string, or InvalidInvoice."""
    if not isinstance(bolt11, str):
        raise InvalidInvoice("invoice must be a string")
    if not bolt11:
        raise InvalidInvoice("invoice is empty")
    if len(bolt11) > MAX_INVOICE_CHARS + len(_URI_PREFIX):
        raise InvalidInvoice("invoice is too long")
    if any(char.isspace() for char in bolt11):
        raise InvalidInvoice("invoice must not contain whitespace")
    text = bolt11
    if text[: len(_URI_PREFIX)].lower() == _URI_PREFIX:
        text = text[len(_URI_PREFIX) :]
    if not text:
        raise InvalidInvoice("invoice is empty")
    if not text.isascii():
        raise InvalidInvoice("invoice must be ASCII bech32")
    # Bech32 allows all upper or all lower case, never a mix.
    if text != text.lower() and text != text.upper():
        raise InvalidInvoice("invoice mixes upper and lower case")
    text = text.lower()
    if text.rfind("1") < 1:
        raise InvalidInvoice("invoice is not bech32 (no separator)")
    return text


def _parse_hrp(hrp: str) -> tuple[str, int | None]:
    """(network, amount in msat or None) from the human-readable part, exactly."""
    match = _HRP_RE.fullmatch(hrp)
    if match is None:
        raise InvalidInvoice("invalid BOLT11 invoice: unknown prefix or malformed amount")
    network, digits, multiplier = match.groups()
    if digits is None:
        return network, None
    deci_msat = int(digits) * _DECI_MSAT_PER_UNIT[multiplier]
    if deci_msat % 10:
        raise InvalidInvoice("invalid BOLT11 invoice: amount has sub-millisatoshi precision")
    amount_msat = deci_msat // 10
    if not 0 < amount_msat <= _MAX_MSAT:
        raise InvalidInvoice("invalid BOLT11 invoice: amount out of range")
    return network, amount_msat


def _whole_sats(amount_msat: int | None) -> int | None:
    if amount_msat is None or amount_msat % 1000:
        return None
    return amount_msat // 1000


def _decode_with_library(text: str) -> Bolt11:
    from bolt11 import Bolt11Exception, decode

    try:
        return decode(text)
    except Bolt11Exception as exc:
        # The package's messages are fixed strings ("Must include 'payment_secret'").
        raise InvalidInvoice(f"invalid BOLT11 invoice: {exc}") from None
    except Exception:  # noqa: BLE001 - every other decoder failure means "not a valid invoice"
        # Bad bit streams, undecodable UTF-8, unrecoverable or invalid signatures.
        raise InvalidInvoice("invalid BOLT11 invoice: malformed data or signature") from None


def _check_feature_bits(bits: int) -> None:
    """BOLT11: a reader must fail on an unknown even (required) feature bit."""
    for position in range(0, bits.bit_length(), 2):
        if (bits >> position) & 1 and position not in _KNOWN_REQUIRED_FEATURE_BITS:
            raise InvalidInvoice(f"invalid BOLT11 invoice: unknown required feature bit {position}")
