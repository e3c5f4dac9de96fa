"""nostr_token: HMAC-signed, expiring bearer tokens naming a pubkey."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timmy.nostr.tokens import InvalidToken, TokenExpired, issue_token, verify_token

SECRET = b"s" * 32
NOW = 1_700_000_000
TTL = 3600
PUBKEY = "ab" * 32
OTHER_PUBKEY = "cd" * 32


def issue(pubkey: str = PUBKEY) -> str:
    token, _ = issue_token(pubkey, secret=SECRET, now=NOW, ttl_seconds=TTL)
    return token


def test_round_trip_names_the_pubkey() -> None:
    token, expires_at = issue_token(PUBKEY, secret=SECRET, now=NOW, ttl_seconds=TTL)
    assert expires_at == NOW + TTL
    assert verify_token(token, secret=SECRET, now=NOW) == PUBKEY


def test_format_is_versioned_and_url_safe() -> None:
    token = issue()
    assert token.startswith(f"v1.{PUBKEY}.{NOW + TTL}.")
    assert re.fullmatch(r"[A-Za-z0-9._-]+", token)


def test_tokens_differ_per_pubkey_and_secret() -> None:
    other_secret, _ = issue_token(PUBKEY, secret=b"t" * 32, now=NOW, ttl_seconds=TTL)
    assert len({issue(PUBKEY), issue(OTHER_PUBKEY), other_secret}) == 3


def test_valid_until_the_last_second_then_expired() -> None:
    token = issue()
    assert verify_token(token, secret=SECRET, now=NOW + TTL - 1) == PUBKEY
    with pytest.raises(TokenExpired) as info:
        verify_token(token, secret=SECRET, now=NOW + TTL)
    assert info.value.status == 401
    assert info.value.code == "token_expired"


def test_wrong_secret_is_invalid() -> None:
    with pytest.raises(InvalidToken) as info:
        verify_token(issue(), secret=b"x" * 32, now=NOW)
    assert info.value.status == 401
    assert info.value.code == "invalid_token"


def test_repointed_pubkey_is_invalid() -> None:
    token = issue().replace(PUBKEY, OTHER_PUBKEY)
    with pytest.raises(InvalidToken):
        verify_token(token, secret=SECRET, now=NOW)


def test_extended_expiry_is_invalid() -> None:
    token = issue().replace(f".{NOW + TTL}.", f".{NOW + TTL * 100}.")
    with pytest.raises(InvalidToken):
        verify_token(token, secret=SECRET, now=NOW)


def test_tampered_mac_is_invalid() -> None:
    token = issue()
    last = "A" if token[-1] != "A" else "B"
    with pytest.raises(InvalidToken):
        verify_token(token[:-1] + last, secret=SECRET, now=NOW)


def test_forged_expired_token_reports_invalid_not_expired() -> None:
    # The MAC is checked first: only genuine tokens learn that they expired.
    token = issue().replace(PUBKEY, OTHER_PUBKEY)
    with pytest.raises(InvalidToken):
        verify_token(token, secret=SECRET, now=NOW + TTL * 2)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t.replace("v1.", "v2.", 1),
        lambda t: t.replace(f".{NOW + TTL}.", f".0{NOW + TTL}."),  # non-canonical number
        lambda t: t.replace(f".{NOW + TTL}.", f".+{NOW + TTL}."),
        lambda t: t.upper(),
        lambda t: t + "=",
        lambda t: t + "\n",
        lambda t: " " + t,
        lambda t: t[:-1],
        lambda t: t.replace(".", ":"),
    ],
)
def test_non_canonical_variants_are_invalid(mutate: Callable[[str], str]) -> None:
    with pytest.raises(InvalidToken):
        verify_token(mutate(issue()), secret=SECRET, now=NOW)


@pytest.mark.parametrize(
    "garbage",
    ["", "v1", "v1...", "é" * 40, "v1." + "٣" * 64, "x" * 100_000, "\x00", "v1." + "a" * 300],
)
def test_garbage_is_invalid(garbage: str) -> None:
    with pytest.raises(InvalidToken):
        verify_token(garbage, secret=SECRET, now=NOW)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_arbitrary_text_only_ever_raises_invalid_token(garbage: str) -> None:
    with pytest.raises(InvalidToken):
        verify_token(garbage, secret=SECRET, now=NOW)


@pytest.mark.parametrize(
    ("kwargs", "complaint"),
    [
        ({"pubkey": "AB" * 32}, "pubkey"),
        ({"pubkey": "ab" * 31}, "pubkey"),
        ({"secret": b"short"}, "secret"),
        ({"ttl_seconds": 0}, "ttl_seconds"),
    ],
)
def test_issuing_with_bad_arguments_is_a_programming_error(
    kwargs: dict[str, object], complaint: str
) -> None:
    args: dict[str, object] = {"pubkey": PUBKEY, "secret": SECRET, "now": NOW, "ttl_seconds": TTL}
    args.update(kwargs)
    with pytest.raises(ValueError, match=complaint):
        issue_token(**args)  # type: ignore[arg-type]
