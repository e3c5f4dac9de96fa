"""The caller's identity comes from one token: the X-Nostr-Token header or the body field."""

from __future__ import annotations

import pytest

from timmy import identity
from timmy.errors import Unauthorized
from timmy.runtime import reset_caches

ALICE = "a1" * 32
BOB = "b0" * 32


@pytest.fixture(autouse=True)
def _dev_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEV_MODE", "true")
    reset_caches()


def test_no_token_is_anonymous() -> None:
    assert identity.caller(None, None) is None
    assert identity.caller("", "") is None


def test_the_token_may_come_from_the_header_or_the_body() -> None:
    token, _ = identity.issue_token(ALICE)
    assert identity.caller(token, None) == ALICE
    assert identity.caller(None, token) == ALICE
    assert identity.caller(token, token) == ALICE


def test_two_different_tokens_are_a_400() -> None:
    alice, _ = identity.issue_token(ALICE)
    bob, _ = identity.issue_token(BOB)
    with pytest.raises(identity.ConflictingTokens) as caught:
        identity.caller(alice, bob)
    assert (caught.value.status, caught.value.code) == (400, "conflicting_tokens")


def test_a_present_but_bad_token_is_never_anonymous() -> None:
    with pytest.raises(Unauthorized) as caught:
        identity.caller("v1.garbage", None)
    assert caught.value.status == 401
