"""The session macaroon key, the bearer header, and the session settings."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from pydantic import SecretStr, ValidationError

from timmy import macaroons
from timmy.sessions import auth
from timmy.sessions.errors import MissingMacaroon, SessionConfigurationError
from timmy.sessions.settings import SessionSettings

SECRET = "a-production-server-secret-0123456789"


def test_the_key_is_derived_from_the_server_secret_for_this_purpose_only() -> None:
    config = SessionSettings(stage="prod", server_secret=SecretStr(SECRET))
    key = auth.macaroon_secret(config)
    assert key == hmac.new(SECRET.encode(), b"timmy/session-macaroon", hashlib.sha256).digest()
    # Never the raw secret, never the identity tokens' key.
    assert SECRET.encode() not in key
    assert key != hmac.new(SECRET.encode(), b"timmy/nostr-token", hashlib.sha256).digest()


def test_another_server_secret_gives_another_key() -> None:
    one = SessionSettings(stage="prod", server_secret=SecretStr(SECRET))
    two = SessionSettings(stage="prod", server_secret=SecretStr(SECRET + "x"))
    assert auth.macaroon_secret(one) != auth.macaroon_secret(two)


@pytest.mark.parametrize(
    "config",
    [SessionSettings(stage="local"), SessionSettings(stage="prod", dev_mode=True)],
    ids=["local-stage", "dev-mode"],
)
def test_development_has_a_fixed_default_key(config: SessionSettings) -> None:
    assert auth.macaroon_secret(config) == auth.macaroon_secret(SessionSettings(stage="local"))


def test_a_deployment_without_a_server_secret_refuses_to_run() -> None:
    with pytest.raises(ValidationError, match="SERVER_SECRET must be set"):
        SessionSettings.from_env({"STAGE": "prod", "DEV_MODE": "false"})
    # A model that skipped validation is still refused where the key is derived.
    unchecked = SessionSettings.model_construct(stage="prod", server_secret=SecretStr(""))
    with pytest.raises(SessionConfigurationError) as caught:
        auth.macaroon_secret(unchecked)
    assert caught.value.status == 500
    assert "SERVER_SECRET" in caught.value.message


def test_a_short_server_secret_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least 16 characters"):
        SessionSettings.from_env({"STAGE": "prod", "SERVER_SECRET": "short"})


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
            "DEV_MODE": "true",
        }
    )
    assert config.session_min_deposit_sats == 500
    assert config.session_max_deposit_sats == 5000
    assert config.session_min_request_sats == 7
    assert config.session_lifetime_seconds == 3600
    assert config.session_idle_seconds == 600
    assert config.allows_dev_secret


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
