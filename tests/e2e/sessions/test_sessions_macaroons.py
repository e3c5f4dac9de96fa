"""Only the session's own, genuine, unexpired macaroon spends its balance."""

from __future__ import annotations

import base64
import time
from typing import TYPE_CHECKING, Any

import pytest

from timmy import macaroons
from timmy.runtime import reset_caches
from timmy.sessions import auth

if TYPE_CHECKING:
    from conftest import Sessions


def call(sessions: Sessions, session_id: str, headers: dict[str, str]) -> Any:
    return sessions.api.post(
        f"/api/sessions/{session_id}/request", json={"request": "hello"}, headers=headers
    )


def flip_last_byte(token: str) -> str:
    raw = bytearray(base64.b64decode(token))
    raw[-1] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def with_caveat(token: str, condition: str) -> str:
    """What any holder can do: append a first-party caveat (no key needed)."""
    narrowed = macaroons.add_first_party_caveat(macaroons.from_base64(token), condition.encode())
    return macaroons.to_base64(narrowed)


@pytest.mark.parametrize(
    ("make_headers", "status", "code"),
    [
        (lambda m: {}, 401, "missing_macaroon"),
        (lambda m: {"Authorization": ""}, 401, "missing_macaroon"),
        (lambda m: {"Authorization": "Bearer"}, 401, "invalid_macaroon"),
        (lambda m: {"Authorization": f"Basic {m}"}, 401, "invalid_macaroon"),
        (lambda m: {"Authorization": f"L402 {m}"}, 401, "invalid_macaroon"),
        (lambda m: {"Authorization": "Bearer not-base64!!"}, 401, "invalid_macaroon"),
        (lambda m: {"Authorization": "Bearer " + "A" * 5000}, 401, "invalid_macaroon"),
        (lambda m: {"Authorization": f"Bearer {m[:-8]}"}, 401, "invalid_macaroon"),
        (lambda m: {"Authorization": f"Bearer {flip_last_byte(m)}"}, 401, "invalid_macaroon"),
        (
            lambda m: {"Authorization": f"Bearer {with_caveat(m, 'tier = elite')}"},
            401,
            "invalid_macaroon",
        ),
        (
            lambda m: {"Authorization": f"Bearer {with_caveat(m, 'expires = 1')}"},
            401,
            "macaroon_expired",
        ),
    ],
    ids=[
        "no-header",
        "empty-header",
        "bearer-without-token",
        "basic-scheme",
        "l402-scheme",
        "garbled",
        "oversized",
        "truncated",
        "forged-signature",
        "unknown-caveat",
        "narrowed-to-the-past",
    ],
)
def test_a_bad_credential_is_refused_and_nothing_changes(
    sessions: Sessions, make_headers: Any, status: int, code: str
) -> None:
    session_id, macaroon = sessions.open_paid(1_000)
    response = call(sessions, session_id, make_headers(macaroon))
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert sessions.balance(session_id) == 1_000
    assert sessions.request_rows(session_id) == []


def test_another_sessions_macaroon_is_forbidden(sessions: Sessions) -> None:
    mine, _ = sessions.open_paid(1_000)
    _, theirs = sessions.open_paid(1_000)
    response = call(sessions, mine, {"Authorization": f"Bearer {theirs}"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "macaroon_wrong_session"
    assert sessions.balance(mine) == 1_000


def test_an_expired_macaroon_is_refused(sessions: Sessions) -> None:
    session_id, _ = sessions.open_paid(1_000)
    expired = auth.mint(session_id, int(time.time()) - 1)
    response = call(sessions, session_id, {"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "macaroon_expired"
    assert sessions.balance(session_id) == 1_000


def test_a_macaroon_minted_under_another_server_secret_is_refused(
    sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    session_id, _ = sessions.open_paid(1_000)
    monkeypatch.setenv("SERVER_SECRET", "another-server-secret-0123456789")
    reset_caches()
    foreign = auth.mint(session_id, int(time.time()) + 3600)
    monkeypatch.delenv("SERVER_SECRET")
    reset_caches()
    response = call(sessions, session_id, {"Authorization": f"Bearer {foreign}"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_macaroon"


def test_a_holder_may_narrow_the_macaroon_and_it_still_works(sessions: Sessions) -> None:
    # Given a macaroon attenuated by its holder to expire in an hour (before the session does)
    session_id, macaroon = sessions.open_paid(1_000)
    narrowed = with_caveat(macaroon, f"expires = {int(time.time()) + 3600}")
    assert narrowed != macaroon

    # Then it still authorizes requests on this session
    response = call(sessions, session_id, {"Authorization": f"Bearer {narrowed}"})
    assert response.status_code == 200


def test_the_scheme_is_case_insensitive_and_url_safe_base64_is_accepted(
    sessions: Sessions,
) -> None:
    session_id, macaroon = sessions.open_paid(1_000)
    url_safe = macaroon.replace("+", "-").replace("/", "_").rstrip("=")
    response = call(sessions, session_id, {"Authorization": f"bearer {url_safe}"})
    assert response.status_code == 200


def test_the_macaroon_expires_with_the_session_lifetime(sessions: Sessions) -> None:
    session_id, macaroon = sessions.open_paid(1_000)
    decoded = macaroons.from_base64(macaroon)
    conditions = [caveat.identifier.decode() for caveat in decoded.caveats]
    assert conditions[0] == f"session_id = {session_id}"
    expires = int(conditions[1].removeprefix("expires = "))
    # Default lifetime: 7 days from payment.
    assert abs(expires - (time.time() + 7 * 86_400)) < 120
