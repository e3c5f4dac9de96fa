"""L402 credentials without I/O: Aperture's identifier layout, pymacaroons reading and extending
our macaroons, the challenge header as lnget parses it, and caveats that can only narrow."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import struct

import pymacaroons
import pytest
from pymacaroons.serializers import BinarySerializer

from timmy import macaroons
from timmy.l402 import credentials
from timmy.l402.credentials import Identifier, Verdict
from timmy.l402.errors import InvalidL402

NOW = 1_800_000_000
PREIMAGE = bytes(range(32))
PAYMENT_HASH = hashlib.sha256(PREIMAGE).digest()
TOKEN_ID = bytes(range(100, 132))
ROOT_KEY = os.urandom(32)
# lnget's challenge pattern (l402/header.go), applied to one WWW-Authenticate value.
LNGET_CHALLENGE = re.compile(r'(LSAT|L402)\s+macaroon="([^"]+)",\s*invoice="([^"]+)"')


def minted(*, valid_until: int = NOW + 3600, capability: str = "chat") -> macaroons.Macaroon:
    identifier = Identifier(payment_hash=PAYMENT_HASH, token_id=TOKEN_ID)
    return credentials.mint(ROOT_KEY, identifier, capability=capability, valid_until=valid_until)


def header(
    macaroon: macaroons.Macaroon | str, preimage: bytes = PREIMAGE, scheme: str = "L402"
) -> str:
    text = macaroon if isinstance(macaroon, str) else macaroons.to_base64(macaroon)
    return f"{scheme} {text}:{preimage.hex()}"


def with_pymacaroons_caveat(macaroon: macaroons.Macaroon, condition: str) -> str:
    """A client narrowing our macaroon with pymacaroons, sent back as standard base64."""
    theirs = pymacaroons.Macaroon.deserialize(
        macaroons.to_base64(macaroon), serializer=BinarySerializer()
    )
    theirs.add_first_party_caveat(condition)
    raw = base64.urlsafe_b64decode(theirs.serialize(serializer=BinarySerializer()) + "=" * 3)
    return base64.b64encode(raw).decode()


def verdict_of(authorization: str, capability: str = "chat") -> Verdict:
    presented = credentials.present(authorization)
    return credentials.verify(presented.macaroon, ROOT_KEY, capability=capability, now=NOW)


def test_the_identifier_has_aperture_s_layout() -> None:
    raw = minted().identifier
    version, payment_hash, token_id = struct.unpack(">H32s32s", raw)
    assert (version, payment_hash, token_id) == (0, PAYMENT_HASH, TOKEN_ID)
    assert Identifier.decode(raw) == Identifier(PAYMENT_HASH, TOKEN_ID)


def test_pymacaroons_reads_our_macaroon_and_its_caveats() -> None:
    theirs = pymacaroons.Macaroon.deserialize(
        macaroons.to_base64(minted(valid_until=NOW + 60)), serializer=BinarySerializer()
    )
    assert theirs.identifier_bytes == Identifier(PAYMENT_HASH, TOKEN_ID).encode()
    assert [c.caveat_id for c in theirs.first_party_caveats()] == [
        b"services=timmy:0",
        b"timmy_capabilities=chat",
        f"timmy_valid_until={NOW + 60}".encode(),
    ]
    assert theirs.signature_bytes == minted(valid_until=NOW + 60).signature.hex().encode()


def test_the_challenge_header_matches_lnget_s_pattern_with_lsat_first() -> None:
    value = credentials.challenge_header("bWFj", "lnbcrt10n1xyz")
    matches = LNGET_CHALLENGE.findall(value)
    assert matches == [("LSAT", "bWFj", "lnbcrt10n1xyz"), ("L402", "bWFj", "lnbcrt10n1xyz")]
    assert LNGET_CHALLENGE.search(value).group(1) == "LSAT"  # type: ignore[union-attr]


@pytest.mark.parametrize("scheme", ["L402", "LSAT", "l402", "lsat"])
def test_a_genuine_credential_is_granted_under_either_scheme(scheme: str) -> None:
    assert verdict_of(header(minted(), scheme=scheme)) == Verdict.GRANTED


def test_a_preimage_that_does_not_pay_the_hash_is_401() -> None:
    with pytest.raises(InvalidL402, match="preimage"):
        credentials.present(header(minted(), preimage=bytes(32)))


def test_a_forged_signature_is_401() -> None:
    forged = credentials.mint(
        os.urandom(32), Identifier(PAYMENT_HASH, TOKEN_ID), capability="chat", valid_until=NOW + 1
    )
    with pytest.raises(InvalidL402, match="signature"):
        verdict_of(header(forged))


def test_a_caveat_changed_in_place_is_401() -> None:
    genuine = minted(valid_until=NOW - 10)
    widened = macaroons.Macaroon(
        identifier=genuine.identifier,
        signature=genuine.signature,
        caveats=(
            *genuine.caveats[:2],
            macaroons.Caveat(identifier=f"timmy_valid_until={NOW + 10**6}".encode()),
        ),
    )
    with pytest.raises(InvalidL402, match="signature"):
        verdict_of(header(widened))


def test_the_peer_s_hex_string_identifier_is_401() -> None:
    # The peer's identifier was the payment hash as hex text: lnget reads it as version 25398.
    peer = macaroons.mint(ROOT_KEY, PAYMENT_HASH.hex().encode())
    with pytest.raises(InvalidL402, match="identifier"):
        credentials.present(header(peer))


@pytest.mark.parametrize(
    "authorization",
    [
        "L402 ",
        "L402 onlymacaroon",
        f"L402 :{PREIMAGE.hex()}",
        "L402 bm90IGEgbWFjYXJvb24=:" + PREIMAGE.hex(),
        "L402 abc:" + "zz" * 32,
        "L402 abc:" + PREIMAGE.hex()[:-2],
    ],
)
def test_malformed_credentials_are_401(authorization: str) -> None:
    with pytest.raises(InvalidL402):
        credentials.present(authorization)


def test_several_macaroons_are_refused() -> None:
    one = macaroons.to_base64(minted())
    with pytest.raises(InvalidL402):
        credentials.present(f"L402 {one},{one}:{PREIMAGE.hex()}")


def test_an_appended_later_expiry_widens_nothing() -> None:
    expired = minted(valid_until=NOW - 1)
    later = with_pymacaroons_caveat(expired, f"timmy_valid_until={NOW + 10**6}")
    assert verdict_of(header(later)) == Verdict.EXPIRED


def test_an_appended_earlier_expiry_narrows() -> None:
    sooner = with_pymacaroons_caveat(minted(), f"timmy_valid_until={NOW - 5}")
    assert verdict_of(header(sooner)) == Verdict.EXPIRED


def test_an_appended_capability_can_only_narrow() -> None:
    both = with_pymacaroons_caveat(minted(capability="chat"), "timmy_capabilities=chat,hire")
    assert verdict_of(header(both), "chat") == Verdict.GRANTED
    assert verdict_of(header(both), "hire") == Verdict.WRONG_ROUTE
    other = with_pymacaroons_caveat(minted(capability="chat"), "timmy_capabilities=hire")
    assert verdict_of(header(other), "chat") == Verdict.WRONG_ROUTE


def test_another_service_is_the_wrong_route() -> None:
    assert verdict_of(header(minted()), "hire") == Verdict.WRONG_ROUTE
    narrowed = with_pymacaroons_caveat(minted(), "services=loop:0")
    assert verdict_of(header(narrowed)) == Verdict.WRONG_ROUTE


def test_unknown_conditions_are_ignored_and_grant_nothing() -> None:
    victim = with_pymacaroons_caveat(minted(), "account_id=00000000-0000-0000-0000-000000000001")
    assert verdict_of(header(victim)) == Verdict.GRANTED
    presented = credentials.present(header(victim))
    assert Identifier.decode(presented.macaroon.identifier).token_id == TOKEN_ID


def test_an_unreadable_expiry_denies() -> None:
    garbled = with_pymacaroons_caveat(minted(), "timmy_valid_until=tomorrow")
    assert verdict_of(header(garbled)) == Verdict.EXPIRED


def test_a_third_party_caveat_is_401() -> None:
    theirs = pymacaroons.Macaroon.deserialize(
        macaroons.to_base64(minted()), serializer=BinarySerializer()
    )
    theirs.add_third_party_caveat("https://elsewhere", "key" * 11, "cid")
    raw = base64.urlsafe_b64decode(theirs.serialize(serializer=BinarySerializer()) + "=" * 3)
    with pytest.raises(InvalidL402):
        verdict_of("L402 " + base64.b64encode(raw).decode() + ":" + PREIMAGE.hex())
