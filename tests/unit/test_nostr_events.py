"""NIP-01 event ids, BIP-340 signatures and freshness, with real coincurve keys."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nostr_keys import NostrKey, nip01_id

from timmy.errors import BadRequest, Unauthorized
from timmy.nostr.events import (
    InvalidEventId,
    InvalidSignature,
    MalformedEvent,
    NostrEvent,
    StaleEvent,
    event_id,
    parse_event,
    verify_event,
)

NOW = 1_700_000_000
WINDOW = {"max_age_seconds": 300, "max_future_seconds": 60}

# The example event printed in NIP-98 (nostr-protocol/nips 98.md), signed by a real client.
# Its base64 header form carries the tag name "url", which is what the id and signature cover.
SPEC_EVENT: dict[str, Any] = {
    "id": "fe964e758903360f28d8424d092da8494ed207cba823110be3a57dfe4b578734",
    "pubkey": "63fe6318dc58583cfe16810f86dd09e18bfd76aabc24a0081ce2856f330504ed",
    "content": "",
    "kind": 27235,
    "created_at": 1682327852,
    "tags": [["url", "https://api.snort.social/api/v1/n5sp/list"], ["method", "GET"]],
    "sig": "5ed9d8ec958bc854f997bdc24ac337d005af372324747efe4a00e24f4c30437f"
    "f4dd8308684bed467d9d6be3e5a517bb43b1732cc7d33949a3aaf86705c22184",
}


@pytest.fixture(scope="module")
def key() -> NostrKey:
    return NostrKey()


def signed(key: NostrKey, **overrides: Any) -> dict[str, Any]:
    event = key.sign_event(1, "nonce-123", [["t", "timmy"]], created_at=NOW)
    event.update(overrides)
    return event


def check(event: dict[str, Any], now: int = NOW) -> None:
    verify_event(parse_event(event), now=now, **WINDOW)


def test_valid_event_verifies(key: NostrKey) -> None:
    # Given an event signed by a freshly generated key
    event = signed(key)
    # When it is parsed and verified, Then nothing is raised and the fields survive
    check(event)
    assert parse_event(event).pubkey == key.pubkey_hex


def test_event_id_matches_an_event_signed_by_a_real_client() -> None:
    event = parse_event(SPEC_EVENT)
    assert event_id(event) == SPEC_EVENT["id"]
    verify_event(event, now=SPEC_EVENT["created_at"], **WINDOW)


def test_event_id_serialization_escapes_as_nip01_says(key: NostrKey) -> None:
    # Given content with every character NIP-01 escapes, plus non-ASCII kept verbatim
    content = 'line\nquote" back\\ cr\r tab\t é 😀'
    event = parse_event(key.sign_event(1, content, [["p", "x"]], created_at=5))
    # Then the id is the sha256 of exactly this hand-written serialization
    expected = (
        f'[0,"{key.pubkey_hex}",5,1,[["p","x"]],"line\\nquote\\" back\\\\ cr\\r tab\\t é 😀"]'
    ).encode()
    assert event_id(event) == hashlib.sha256(expected).hexdigest()


@settings(max_examples=40, deadline=None)
@given(content=st.text(), tags=st.lists(st.lists(st.text(), max_size=3), max_size=3))
def test_any_text_signed_by_a_client_verifies(key: NostrKey, content: str, tags: Any) -> None:
    try:
        event = key.sign_event(1, content, tags, created_at=NOW)
    except UnicodeEncodeError:
        return  # lone surrogates: no client can sign these, covered separately
    check(event)


def test_tampered_content_is_invalid_event_id(key: NostrKey) -> None:
    with pytest.raises(InvalidEventId) as info:
        check(signed(key, content="nonce-999"))
    assert info.value.status == 401
    assert info.value.code == "invalid_event_id"


def test_tampered_id_is_invalid_event_id(key: NostrKey) -> None:
    other_id = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(InvalidEventId):
        check(signed(key, id=other_id))


def test_tampered_tags_are_invalid_event_id(key: NostrKey) -> None:
    with pytest.raises(InvalidEventId):
        check(signed(key, tags=[["t", "other"]]))


def test_signature_by_another_key_is_invalid_signature(key: NostrKey) -> None:
    # Given an event claiming key's pubkey with a correct id, but signed by someone else
    event = signed(key)
    event["sig"] = NostrKey().sign_id(event["id"])
    # Then the signature check fails
    with pytest.raises(InvalidSignature) as info:
        check(event)
    assert info.value.status == 401
    assert info.value.code == "invalid_signature"


def test_flipped_signature_bit_is_invalid_signature(key: NostrKey) -> None:
    event = signed(key)
    sig = bytearray.fromhex(event["sig"])
    sig[10] ^= 0x01
    with pytest.raises(InvalidSignature):
        check(signed(key, sig=sig.hex()))


@pytest.mark.parametrize("pubkey", ["00" * 32, "ff" * 32])
def test_pubkey_that_is_not_a_curve_point_is_401_not_500(key: NostrKey, pubkey: str) -> None:
    # Given a well-formed event whose pubkey has no point on secp256k1 (and a matching id)
    event = signed(key, pubkey=pubkey)
    event["id"] = nip01_id(pubkey, event["created_at"], 1, event["tags"], event["content"])
    with pytest.raises(InvalidSignature):
        check(event)


@pytest.mark.parametrize("sig", ["00" * 64, "ff" * 64])
def test_garbage_signature_is_invalid_signature(key: NostrKey, sig: str) -> None:
    with pytest.raises(InvalidSignature):
        check(signed(key, sig=sig))


def test_unvalidated_event_with_short_fields_never_reaches_libsecp(key: NostrKey) -> None:
    # Given an event built without validation, with a truncated signature and pubkey
    data = signed(key)
    data["sig"] = data["sig"][:20]
    event = NostrEvent.model_construct(**data)
    with pytest.raises(InvalidSignature):
        verify_event(event, now=NOW, **WINDOW)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("pubkey", "not-hex"),
        ("pubkey", "AB" * 32),  # uppercase is not NIP-01 hex
        ("pubkey", "ab" * 31),
        ("id", "ab" * 32 + "\n"),
        ("sig", "ab" * 63),
        ("created_at", "1700000000"),  # strings must not become numbers
        ("created_at", -1),
        ("kind", True),
        ("kind", 70000),
        ("tags", [["t", 1]]),
        ("tags", "t"),
        ("content", None),
    ],
)
def test_malformed_events_are_400(key: NostrKey, field: str, value: Any) -> None:
    with pytest.raises(MalformedEvent) as info:
        parse_event(signed(key, **{field: value}))
    assert isinstance(info.value, BadRequest)
    assert info.value.code == "malformed_event"
    assert field in info.value.message


def test_missing_field_is_400(key: NostrKey) -> None:
    event = signed(key)
    del event["sig"]
    with pytest.raises(MalformedEvent):
        parse_event(event)


def test_lone_surrogate_in_content_is_rejected_not_crashing(key: NostrKey) -> None:
    # Given content that only a JSON decoder (never a real client) can produce
    event = parse_event(signed(key, content="\ud800"))
    with pytest.raises(InvalidEventId):
        verify_event(event, now=NOW, **WINDOW)


def test_stale_event_is_rejected_and_the_boundary_accepted(key: NostrKey) -> None:
    oldest = NOW - WINDOW["max_age_seconds"]
    check(key.sign_event(1, "x", created_at=oldest))
    with pytest.raises(StaleEvent) as info:
        check(key.sign_event(1, "x", created_at=oldest - 1))
    assert info.value.status == 401
    assert info.value.code == "stale_event"


def test_future_event_is_rejected_and_the_boundary_accepted(key: NostrKey) -> None:
    latest = NOW + WINDOW["max_future_seconds"]
    check(key.sign_event(1, "x", created_at=latest))
    with pytest.raises(StaleEvent):
        check(key.sign_event(1, "x", created_at=latest + 1))


def test_checks_run_in_order_id_then_signature_then_time(key: NostrKey) -> None:
    stale = key.sign_event(1, "x", created_at=NOW - 10_000)
    bad_sig = dict(stale, sig="00" * 64)
    with pytest.raises(InvalidSignature):
        check(bad_sig)
    with pytest.raises(InvalidEventId):
        check(dict(bad_sig, content="y"))


def test_all_verification_errors_are_unauthorized() -> None:
    codes = {cls.code for cls in (InvalidEventId, InvalidSignature, StaleEvent)}
    assert len(codes) == 3
    assert all(
        issubclass(cls, Unauthorized) for cls in (InvalidEventId, InvalidSignature, StaleEvent)
    )
