"""The session macaroon key, the bearer header, and the session settings."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from pydantic import ValidationError

from timmy import macaroons
from timmy.errors import ConfigurationError
from timmy.runtime import reset_caches
from timmy.sessions import auth
from timmy.sessions.errors import MissingMacaroon
from timmy.sessions.settings import SessionSettings

SECRET = "a-production-server-secret-0123456789"


def test_the_key_is_derived_from_the_server_secret_for_this_purpose_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STAGE", "prod")
    monkeypatch.setenv("SERVER_SECRET", SECRET)
    reset_caches()
    key = auth.macaroon_secret()
    assert key == hmac.new(SECRET.encode(), b"timmy/session-macaroon", hashlib.sha256).digest()
    # Never the raw secret, never the identity tokens' key.
    assert SECRET.encode() not in key
    assert key != hmac.new(SECRET.encode(), b"timmy/nostr-token", hashlib.sha256).digest()


def test_a_deployment_without_a_server_secret_refuses_to_mint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STAGE", "prod")
    monkeypatch.delenv("DEV_MODE", raising=False)
    monkeypatch.delenv("SERVER_SECRET", raising=False)
    reset_caches()
    with pytest.raises(ConfigurationError, match="SERVER_SECRET must be set") as caught:
        auth.macaroon_secret()
    assert caught.value.status == 500


@pytest.mark.parametrize("header", [None, "", "   "])
def test_no_header_means_a_missing_macaroon(header: str | None) -> None:
    with pytest.raises(MissingMacaroon):
        auth.bearer_token(header)


@pytest.mark.parametrize("header", ["Bearer", "Bearer   ", "Basic abc", "Token abc", "abc"])
def test_another_scheme_or_no_token_is_an_invalid_macaroon(header: str) -> None:
    with pytest.raises(macaroons.InvalidMacaroon):
        auth.bearer_token(header)


@pytest.mark.parametrize("header", ["Bearer abc", "bearer abc", "BEARER  abc ", " Bearer abc"])
def test_the_bearer_token_is_extracted(header: str) -> None:
    assert auth.bearer_token(header) == "abc"


def test_settings_are_read_from_the_environment() -> None:
    config = SessionSettings.from_env(
        {
            "SESSION_MIN_DEPOSIT_SATS": "500",
            "SESSION_MAX_DEPOSIT_SATS": "5000",
            "SESSION_MIN_REQUEST_SATS": "7",
            "SESSION_LIFETIME_SECONDS": "3600",
            "SESSION_IDLE_SECONDS": "600",
        }
    )
    assert config.session_min_deposit_sats == 500
    assert config.session_max_deposit_sats == 5000
    assert config.session_min_request_sats == 7
    assert config.session_lifetime_seconds == 3600
    assert config.session_idle_seconds == 600


@pytest.mark.parametrize(
    "environ",
    [
        {"SESSION_MIN_DEPOSIT_SATS": "2000", "SESSION_MAX_DEPOSIT_SATS": "1000"},
        {"SESSION_MIN_DEPOSIT_SATS": "0"},
        {"SESSION_MIN_REQUEST_SATS": "0"},
        {"SESSION_LIFETIME_SECONDS": "10"},
        {"SESSION_IDLE_SECONDS": "abc"},
    ],
)
def test_inconsistent_settings_are_refused(environ: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        SessionSettings.from_env(environ)
