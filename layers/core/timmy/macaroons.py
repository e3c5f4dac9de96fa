"""Macaroons: the libmacaroons v2 binary format, the HMAC chain, and session macaroons.

The chain is the libmacaroons/go-macaroon one, so tokens are byte-compatible with those
libraries: ``k = HMAC(b"macaroons-key-generator", root_key)``, ``sig0 = HMAC(k, identifier)``,
``sig_i = HMAC(sig_{i-1}, caveat_i)``. Anyone holding a macaroon can append caveats (that is the
point of macaroons), so caveats may only ever narrow access: every caveat must be understood,
and a repeated caveat is combined with the others by taking the narrowest value.

Session macaroons carry the identifier ``timmy-session:v1:<session_id>``; the root key of a
session is ``HMAC(server_secret, "timmy-session-root:" + session_id)``, so nothing per session is
stored; first-party caveats ``session_id = <id>`` and ``expires = <unix>``. They travel as
standard base64 of the raw v2 binary.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass, replace

from timmy.errors import Forbidden, Unauthorized

# Field types of the v2 binary format (libmacaroons doc/format.txt).
_EOS = 0
_LOCATION = 1
_IDENTIFIER = 2
_VERIFICATION_ID = 4
_SIGNATURE = 6
_VERSION_2 = 2
_SIG_LEN = 32
_MAX_VARINT = 0x7FFFFFFF
_KEY_GENERATOR = b"macaroons-key-generator"

SESSION_ID_PREFIX = b"timmy-session:v1:"
_ROOT_KEY_LABEL = b"timmy-session-root:"
# Session ids are UUIDs in practice; this charset keeps them free of spaces and " = ".
_SESSION_ID_RE = re.compile(r"[0-9A-Za-z_-]{1,64}")
_UNIX_RE = re.compile(r"0|[1-9][0-9]{0,15}")
CAVEAT_SESSION_ID = "session_id"
CAVEAT_EXPIRES = "expires"
MAX_TOKEN_CHARS = 4096
MIN_SECRET_BYTES = 16


class InvalidMacaroon(Unauthorized):
    code = "invalid_macaroon"


class MacaroonWrongSession(Forbidden):
    code = "macaroon_wrong_session"


class MacaroonExpired(Unauthorized):
    code = "macaroon_expired"


class MacaroonFormatError(ValueError):
    """The bytes are not a well-formed v2 binary macaroon."""


@dataclass(frozen=True)
class Caveat:
    identifier: bytes
    verification_id: bytes = b""  # non-empty only for third-party caveats
    location: bytes = b""

    @property
    def is_third_party(self) -> bool:
        return bool(self.verification_id)


@dataclass(frozen=True)
class Macaroon:
    identifier: bytes
    signature: bytes
    caveats: tuple[Caveat, ...] = ()
    location: bytes = b""  # a hint only: it is not covered by the signature


# --- the HMAC chain ------------------------------------------------------------------------


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def mint(root_key: bytes, identifier: bytes, *, location: bytes = b"") -> Macaroon:
    """A caveat-free macaroon signed with ``root_key`` (libmacaroons key derivation)."""
    signature = _hmac(_hmac(_KEY_GENERATOR, root_key), identifier)
    return Macaroon(identifier=identifier, signature=signature, location=location)


def add_first_party_caveat(macaroon: Macaroon, condition: bytes) -> Macaroon:
    """Append a first-party caveat; needs only the current signature, not the root key."""
    return replace(
        macaroon,
        caveats=(*macaroon.caveats, Caveat(identifier=condition)),
        signature=_hmac(macaroon.signature, condition),
    )


def has_valid_signature(macaroon: Macaroon, root_key: bytes) -> bool:
    """True when the chain over identifier and caveats reproduces the signature.

    Third-party caveats need discharge macaroons, which this service never issues, so a
    macaroon holding one is never valid here.
    """
    caveats = macaroon.caveats
    for caveat in caveats:
        if caveat.verification_id:
            return False
    digest = hmac.digest  # the one-shot OpenSSL HMAC: no hmac.HMAC object per link
    signature = digest(digest(_KEY_GENERATOR, root_key, "sha256"), macaroon.identifier, "sha256")
    for caveat in caveats:
        signature = digest(signature, caveat.identifier, "sha256")
    return hmac.compare_digest(signature, macaroon.signature)


# --- v2 binary encoding --------------------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _packet(field_type: int, data: bytes) -> bytes:
    return _varint(field_type) + _varint(len(data)) + data


def encode_v2(macaroon: Macaroon) -> bytes:
    """The libmacaroons v2 binary form (byte-identical to go-macaroon and pymacaroons)."""
    out = bytearray([_VERSION_2])
    if macaroon.location:
        out += _packet(_LOCATION, macaroon.location)
    out += _packet(_IDENTIFIER, macaroon.identifier)
    out.append(_EOS)
    for caveat in macaroon.caveats:
        if caveat.location:
            out += _packet(_LOCATION, caveat.location)
        out += _packet(_IDENTIFIER, caveat.identifier)
        if caveat.verification_id:
            out += _packet(_VERIFICATION_ID, caveat.verification_id)
        out.append(_EOS)
    out.append(_EOS)
    out += _packet(_SIGNATURE, macaroon.signature)
    return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """The varint at ``pos`` and the position after it: at most 5 bytes, at most 2**31 - 1."""
    value = 0
    for shift in range(0, 35, 7):
        if pos >= len(data):
            raise MacaroonFormatError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if value > _MAX_VARINT:
                break
            return value, pos
    raise MacaroonFormatError("varint out of range")


def decode_v2(data: bytes) -> Macaroon:
    """Parse a v2 binary macaroon; raises ``MacaroonFormatError`` on any deviation.

    One pass: sections of packets (field type, length, data), each ended by EOS, their field
    types strictly increasing; the header (identifier, optional location), the caveats (an
    identifier; a location only beside a verification id), an empty section, the 32-byte
    signature, nothing after it. A one-byte varint (every field type, any length below 128) is
    read inline, longer ones by :func:`_read_varint`; checks happen in reading order, so the first
    deviation met is the one reported.
    """
    if not data or data[0] != _VERSION_2:
        raise MacaroonFormatError("not a v2 binary macaroon")
    end = len(data)
    pos = 1
    identifier: bytes | None = None  # the header's, once read
    location = b""
    caveats: list[Caveat] = []
    try:  # IndexError: a one-byte varint read past the end
        while True:
            section_location = section_identifier = verification_id = None
            unknown = False
            previous = -1
            while True:
                field_type = data[pos]
                if field_type < 0x80:
                    pos += 1
                else:
                    field_type, pos = _read_varint(data, pos)
                if field_type == _EOS:
                    break
                length = data[pos]
                if length < 0x80:
                    pos += 1
                else:
                    length, pos = _read_varint(data, pos)
                if length > end - pos:
                    raise MacaroonFormatError("field extends past the end")
                value = data[pos : pos + length]
                pos += length
                if field_type <= previous:
                    raise MacaroonFormatError("fields out of order")
                previous = field_type
                if field_type == _IDENTIFIER:
                    section_identifier = value
                elif field_type == _LOCATION:
                    section_location = value
                elif field_type == _VERIFICATION_ID:
                    verification_id = value
                else:
                    unknown = True
            if identifier is None:
                if section_identifier is None or verification_id is not None or unknown:
                    raise MacaroonFormatError("invalid macaroon header")
                identifier = section_identifier
                location = section_location or b""
            elif previous < 0:  # the empty section that ends the caveats
                break
            elif section_identifier is None or unknown:
                raise MacaroonFormatError("invalid caveat")
            elif section_location is None and verification_id is None:
                caveats.append(Caveat(section_identifier))
            elif section_location and not verification_id:
                raise MacaroonFormatError("location not allowed in a first-party caveat")
            else:
                caveats.append(
                    Caveat(section_identifier, verification_id or b"", section_location or b"")
                )
        field_type = data[pos]
        if field_type < 0x80:
            pos += 1
        else:
            field_type, pos = _read_varint(data, pos)
        if field_type == _EOS:
            raise MacaroonFormatError("missing or malformed signature")
        length = data[pos]
        if length < 0x80:
            pos += 1
        else:
            length, pos = _read_varint(data, pos)
    except IndexError:
        raise MacaroonFormatError("truncated varint") from None
    if length > end - pos:
        raise MacaroonFormatError("field extends past the end")
    if field_type != _SIGNATURE or length != _SIG_LEN:
        raise MacaroonFormatError("missing or malformed signature")
    if pos + length != end:
        raise MacaroonFormatError("trailing bytes after the signature")
    return Macaroon(identifier, data[pos:end], tuple(caveats), location)


def to_base64(macaroon: Macaroon) -> str:
    """Standard, padded base64 of the v2 binary (the form L402 and our sessions use)."""
    return base64.b64encode(encode_v2(macaroon)).decode("ascii")


def from_base64(token: str) -> Macaroon:
    """Decode standard or URL-safe base64 (padding optional) of a v2 binary macaroon."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise MacaroonFormatError("not a macaroon token")
    text = token.strip().replace("-", "+").replace("_", "/")
    try:
        # Once padded, strict mode accepts exactly what b64decode(validate=True) does (only
        # the alphabet, padding only at the end), without its regular expression pass.
        raw = binascii.a2b_base64(text + "=" * (-len(text) % 4), strict_mode=True)
    except ValueError:  # also non-ASCII input and binascii.Error
        raise MacaroonFormatError("not valid base64") from None
    return decode_v2(raw)


# --- session macaroons ---------------------------------------------------------------------


def session_root_key(server_secret: bytes, session_id: str) -> bytes:
    """The per-session root key; derived, so nothing secret is stored per session."""
    return _hmac(server_secret, _ROOT_KEY_LABEL + session_id.encode("ascii"))


def mint_session_macaroon(session_id: str, *, server_secret: bytes, expires_at: int) -> str:
    """A base64 macaroon for ``session_id`` valid until ``expires_at`` (unix seconds).

    Raises ValueError for a programming error (bad session id, short secret, bad expiry).
    """
    if not _SESSION_ID_RE.fullmatch(session_id):
        raise ValueError("session_id must be 1-64 characters of [0-9A-Za-z_-]")
    if isinstance(expires_at, bool) or not isinstance(expires_at, int) or expires_at < 0:
        raise ValueError("expires_at must be a non-negative integer")
    _check_secret(server_secret)
    root_key = session_root_key(server_secret, session_id)
    macaroon = mint(root_key, SESSION_ID_PREFIX + session_id.encode("ascii"))
    macaroon = add_first_party_caveat(macaroon, f"{CAVEAT_SESSION_ID} = {session_id}".encode())
    macaroon = add_first_party_caveat(macaroon, f"{CAVEAT_EXPIRES} = {expires_at}".encode())
    return to_base64(macaroon)


def verify_session_macaroon(
    token: str, *, session_id: str, server_secret: bytes, now: int, check_expiry: bool = True
) -> None:
    """Accept only a genuine, unexpired macaroon minted for ``session_id``.

    ``check_expiry=False`` accepts a genuine one past its expiry (withdrawing a balance).

    Raises ``InvalidMacaroon`` (401: undecodable, forged or tampered, third-party or unknown
    caveat, contradictory session ids), ``MacaroonWrongSession`` (403: a genuine macaroon of
    another session) or ``MacaroonExpired`` (401: the earliest ``expires`` has passed).
    """
    _check_secret(server_secret)
    try:
        macaroon = from_base64(token)
    except MacaroonFormatError:
        raise InvalidMacaroon("The session macaroon could not be decoded.") from None
    bound_session = _session_of(macaroon.identifier)
    if not has_valid_signature(macaroon, session_root_key(server_secret, bound_session)):
        raise InvalidMacaroon("The session macaroon's signature is not valid.")
    expires_at = _check_caveats(macaroon.caveats, bound_session)
    if bound_session != session_id:
        raise MacaroonWrongSession("This macaroon belongs to another session.")
    if check_expiry and now >= expires_at:
        raise MacaroonExpired("The session macaroon has expired.")


def session_of_token(token: str) -> str:
    """The session a session macaroon names, before verifying it (the caller verifies it
    against that session with :func:`verify_session_macaroon`); 401 when it names none."""
    try:
        macaroon = from_base64(token)
    except MacaroonFormatError:
        raise InvalidMacaroon("The session macaroon could not be decoded.") from None
    return _session_of(macaroon.identifier)


def _session_of(identifier: bytes) -> str:
    if not identifier.startswith(SESSION_ID_PREFIX):
        raise InvalidMacaroon("The macaroon is not a session macaroon.")
    candidate = identifier[len(SESSION_ID_PREFIX) :].decode("ascii", errors="replace")
    if not _SESSION_ID_RE.fullmatch(candidate):
        raise InvalidMacaroon("The macaroon is not a session macaroon.")
    return candidate


def _check_caveats(caveats: tuple[Caveat, ...], bound_session: str) -> int:
    """Apply every caveat (all must be understood); return the earliest expiry."""
    expiries: list[int] = []
    session_caveats = 0
    for caveat in caveats:
        name, value = _split_condition(caveat.identifier)
        if name == CAVEAT_SESSION_ID:
            # Repeating the session id is harmless; naming another one cannot narrow anything.
            if value != bound_session:
                raise InvalidMacaroon("The macaroon names conflicting sessions.")
            session_caveats += 1
        elif name == CAVEAT_EXPIRES and _UNIX_RE.fullmatch(value):
            expiries.append(int(value))
        else:
            raise InvalidMacaroon("The macaroon carries a caveat this service does not accept.")
    if not session_caveats or not expiries:
        raise InvalidMacaroon("The macaroon lacks its session or expiry caveat.")
    return min(expiries)


def _split_condition(condition: bytes) -> tuple[str, str]:
    try:
        text = condition.decode("ascii")
    except UnicodeDecodeError:
        raise InvalidMacaroon(
            "The macaroon carries a caveat this service does not accept."
        ) from None
    name, separator, value = text.partition(" = ")
    if not separator:
        raise InvalidMacaroon("The macaroon carries a caveat this service does not accept.")
    return name, value


def _check_secret(secret: bytes) -> None:
    if not isinstance(secret, bytes) or len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"the server secret must be at least {MIN_SECRET_BYTES} bytes")
