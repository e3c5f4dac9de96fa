"""NIP-98 HTTP Auth headers, signed with real keys."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from nostr_keys import NostrKey, encode_event

from timmy.errors import TimmyError
from timmy.nostr.events import InvalidEventId, InvalidSignature, StaleEvent
from timmy.nostr.nip98 import (
    MAX_HEADER_CHARS,
    InvalidAuthHeader,
    MethodMismatch,
    PayloadMismatch,
    UrlMismatch,
    WrongKind,
    verify_http_auth,
    verify_http_auth_event,
)

NOW = 1_700_000_000
URL = "https://api.timmy.example/api/identity/me?verbose=1&x=a%20b"
BODY = b'{"request":"hello"}'

# The Authorization header printed in NIP-98 (nostr-protocol/nips 98.md). Its event names the
# URL tag "url" rather than "u", so it authenticates but binds no URL.
SPEC_HEADER = (
    "Nostr eyJpZCI6ImZlOTY0ZTc1ODkwMzM2MGYyOGQ4NDI0ZDA5MmRhODQ5NGVkMjA3Y2JhODIzMTEwYmUzYTU3ZGZl"
    "NGI1Nzg3MzQiLCJwdWJrZXkiOiI2M2ZlNjMxOGRjNTg1ODNjZmUxNjgxMGY4NmRkMDllMThiZmQ3NmFhYmMyNGEw"
    "MDgxY2UyODU2ZjMzMDUwNGVkIiwiY29udGVudCI6IiIsImtpbmQiOjI3MjM1LCJjcmVhdGVkX2F0IjoxNjgyMzI3"
    "ODUyLCJ0YWdzIjpbWyJ1cmwiLCJodHRwczovL2FwaS5zbm9ydC5zb2NpYWwvYXBpL3YxL241c3AvbGlzdCJdLFsi"
    "bWV0aG9kIiwiR0VUIl1dLCJzaWciOiI1ZWQ5ZDhlYzk1OGJjODU0Zjk5N2JkYzI0YWMzMzdkMDA1YWYzNzIzMjQ3"
    "NDdlZmU0YTAwZTI0ZjRjMzA0MzdmZjRkZDgzMDg2ODRiZWQ0NjdkOWQ2YmUzZTVhNTE3YmI0M2IxNzMyY2M3ZDMz"
    "OTQ5YTNhYWY4NjcwNWMyMjE4NCJ9"
)


@pytest.fixture(scope="module")
def key() -> NostrKey:
    return NostrKey()


def verify(header: str, *, url: str = URL, method: str = "GET", body: bytes | None = None) -> str:
    return verify_http_auth(header, url=url, method=method, body=body, now=NOW)


def header_for(key: NostrKey, tags: list[list[str]], kind: int = 27235, at: int = NOW) -> str:
    return "Nostr " + encode_event(key.sign_event(kind, "", tags, created_at=at))


def test_valid_get_returns_the_signer_pubkey(key: NostrKey) -> None:
    header = key.nip98_header(URL, "GET", created_at=NOW)
    assert verify(header) == key.pubkey_hex


def test_valid_post_with_payload_returns_the_signer_pubkey(key: NostrKey) -> None:
    header = key.nip98_header(URL, "POST", body=BODY, created_at=NOW)
    assert verify(header, method="POST", body=BODY) == key.pubkey_hex


def test_the_authenticated_event_is_available_for_replay_tracking(key: NostrKey) -> None:
    header = key.nip98_header(URL, "GET", created_at=NOW)
    event = verify_http_auth_event(header, url=URL, method="GET", body=None, now=NOW)
    assert event.kind == 27235
    assert event.pubkey == key.pubkey_hex
    assert len(event.id) == 64


def test_unpadded_base64_and_lowercase_scheme_are_accepted(key: NostrKey) -> None:
    token = key.nip98_header(URL, "GET", created_at=NOW).split(" ", 1)[1].rstrip("=")
    assert verify("nostr " + token) == key.pubkey_hex


def test_the_spec_example_authenticates_but_binds_no_u_tag() -> None:
    # Given the header a real client produced for the spec, checked at its own time
    # Then it decodes and its signature verifies, but it has no "u" tag for our URL
    with pytest.raises(UrlMismatch):
        verify_http_auth(
            SPEC_HEADER,
            url="https://api.snort.social/api/v1/n5sp/list",
            method="GET",
            body=None,
            now=1682327852,
        )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Nostr",
        "Nostr ",
        "Bearer abc",
        "NostrX " + b64(b"{}"),
        "Nostr !!!not-base64!!!",
        "Nostr " + b64(b"not json"),
        "Nostr " + b64(b"\xff\xfe\x00garbage"),
        "Nostr " + b64(b"[1, 2, 3]"),
        "Nostr " + b64(b'{"kind": 27235}'),
        "Nostr " + b64(b"[" * 5000 + b"]" * 5000),
        "Nostr é",
        "Nostr " + "A" * (MAX_HEADER_CHARS + 1),
    ],
)
def test_undecodable_headers_are_invalid_auth_header(header: str) -> None:
    with pytest.raises(InvalidAuthHeader) as info:
        verify(header)
    assert info.value.status == 401
    assert info.value.code == "invalid_auth_header"


def test_wrong_kind(key: NostrKey) -> None:
    header = header_for(key, [["u", URL], ["method", "GET"]], kind=1)
    with pytest.raises(WrongKind) as info:
        verify(header)
    assert info.value.code == "wrong_kind"


@pytest.mark.parametrize(
    "signed_url",
    [
        "https://api.timmy.example/api/identity/me",  # query dropped
        "https://api.timmy.example/api/identity/me?x=a%20b&verbose=1",  # query reordered
        "https://api.timmy.example/api/identity/me/?verbose=1&x=a%20b",
        "http://api.timmy.example/api/identity/me?verbose=1&x=a%20b",
        "https://evil.example/api/identity/me?verbose=1&x=a%20b",
    ],
)
def test_url_must_match_exactly(key: NostrKey, signed_url: str) -> None:
    header = key.nip98_header(signed_url, "GET", created_at=NOW)
    with pytest.raises(UrlMismatch) as info:
        verify(header)
    assert info.value.code == "url_mismatch"


@pytest.mark.parametrize(
    "tags",
    [
        [["method", "GET"]],  # no u tag
        [["u", URL], ["u", "https://other.example/"], ["method", "GET"]],  # ambiguous
        [["u"], ["method", "GET"]],  # u tag without a value
    ],
)
def test_missing_or_repeated_u_tag_is_url_mismatch(key: NostrKey, tags: list[list[str]]) -> None:
    with pytest.raises(UrlMismatch):
        verify(header_for(key, tags))


def test_method_must_match(key: NostrKey) -> None:
    header = key.nip98_header(URL, "GET", created_at=NOW)
    with pytest.raises(MethodMismatch) as info:
        verify(header, method="POST", body=None)
    assert info.value.code == "method_mismatch"


def test_missing_method_tag_is_method_mismatch(key: NostrKey) -> None:
    with pytest.raises(MethodMismatch):
        verify(header_for(key, [["u", URL]]))


def test_method_case_is_forgiven(key: NostrKey) -> None:
    header = key.nip98_header(URL, "post", body=BODY, created_at=NOW)
    assert verify(header, method="POST", body=BODY) == key.pubkey_hex


def test_body_without_payload_tag_is_payload_mismatch(key: NostrKey) -> None:
    header = key.nip98_header(URL, "POST", created_at=NOW)
    with pytest.raises(PayloadMismatch) as info:
        verify(header, method="POST", body=BODY)
    assert info.value.code == "payload_mismatch"


def test_payload_of_another_body_is_payload_mismatch(key: NostrKey) -> None:
    header = key.nip98_header(URL, "POST", body=b'{"request":"other"}', created_at=NOW)
    with pytest.raises(PayloadMismatch):
        verify(header, method="POST", body=BODY)


def test_signed_body_cannot_be_dropped_in_transit(key: NostrKey) -> None:
    header = key.nip98_header(URL, "POST", body=BODY, created_at=NOW)
    with pytest.raises(PayloadMismatch):
        verify(header, method="POST", body=None)


def test_empty_body_needs_no_payload_tag(key: NostrKey) -> None:
    header = key.nip98_header(URL, "POST", created_at=NOW)
    assert verify(header, method="POST", body=b"") == key.pubkey_hex


def test_payload_tag_hex_case_is_forgiven(key: NostrKey) -> None:
    digest = hashlib.sha256(BODY).hexdigest().upper()
    header = header_for(key, [["u", URL], ["method", "POST"], ["payload", digest]])
    assert verify(header, method="POST", body=BODY) == key.pubkey_hex


@pytest.mark.parametrize("offset", [-61, 61])
def test_outside_the_window_is_stale(key: NostrKey, offset: int) -> None:
    header = key.nip98_header(URL, "GET", created_at=NOW + offset)
    with pytest.raises(StaleEvent):
        verify(header)


@pytest.mark.parametrize("offset", [-60, 60])
def test_window_edges_are_accepted(key: NostrKey, offset: int) -> None:
    header = key.nip98_header(URL, "GET", created_at=NOW + offset)
    assert verify(header) == key.pubkey_hex


def test_custom_window(key: NostrKey) -> None:
    header = key.nip98_header(URL, "GET", created_at=NOW - 100)
    pubkey = verify_http_auth(header, url=URL, method="GET", body=None, now=NOW, window_seconds=120)
    assert pubkey == key.pubkey_hex


def decoded(header: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(base64.b64decode(header.split(" ", 1)[1]))
    return event


def test_retargeting_a_signed_event_breaks_its_id(key: NostrKey) -> None:
    # Given an attacker who captured a header for another URL and rewrote its u tag
    event = decoded(key.nip98_header("https://api.timmy.example/other", "GET", created_at=NOW))
    event["tags"][0] = ["u", URL]
    with pytest.raises(InvalidEventId):
        verify("Nostr " + encode_event(event))


def test_signature_by_another_key_is_invalid_signature(key: NostrKey) -> None:
    event = decoded(key.nip98_header(URL, "GET", created_at=NOW))
    event["sig"] = NostrKey().sign_id(event["id"])
    with pytest.raises(InvalidSignature):
        verify("Nostr " + encode_event(event))


def test_signature_is_checked_before_the_request_binding(key: NostrKey) -> None:
    # Given a forged event for the wrong URL: the forgery, not the URL, is reported
    event = decoded(key.nip98_header("https://elsewhere.example/", "GET", created_at=NOW))
    event["sig"] = "00" * 64
    with pytest.raises(InvalidSignature):
        verify("Nostr " + encode_event(event))


def test_all_codes_are_distinct_401s() -> None:
    classes = [
        InvalidAuthHeader,
        WrongKind,
        UrlMismatch,
        MethodMismatch,
        PayloadMismatch,
        InvalidEventId,
        InvalidSignature,
        StaleEvent,
    ]
    errors: list[TimmyError] = [cls("x") for cls in classes]
    assert {e.status for e in errors} == {401}
    assert len({e.code for e in errors}) == len(classes)
