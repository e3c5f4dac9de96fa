"""Identity settings: validation, the token key derivation, tier thresholds."""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal

import pytest
from pydantic import ValidationError

from timmy.errors import ConfigurationError
from timmy.identity import TIERS
from timmy.identity.login import public_request_url
from timmy.identity.settings import IdentitySettings, token_secret
from timmy.runtime import reset_caches
from timmy.server_secret import KeyLabel, derive_key

LOCAL = {"STAGE": "local"}


def test_defaults() -> None:
    config = IdentitySettings.from_env(LOCAL)
    assert config.identity_challenge_ttl_seconds == 300
    assert config.nostr_token_ttl_seconds == 86_400
    assert config.nostr_event_max_age_seconds == 300
    assert config.nostr_event_max_future_seconds == 60
    assert config.nip98_window_seconds == 60
    rules = config.rules
    assert (rules.established, rules.trusted, rules.elite) == (10, 50, 200)
    assert rules.decay_period_seconds == 30 * 86_400
    assert rules.decay_keep == Decimal("0.9")
    assert (rules.sats_per_point, rules.max_points_per_day) == (10, 20)
    assert config.trust_failure_points == 10


def test_env_names() -> None:
    config = IdentitySettings.from_env(
        {
            **LOCAL,
            "TRUST_THRESHOLD_ESTABLISHED": "3",
            "TRUST_THRESHOLD_TRUSTED": "6",
            "TRUST_THRESHOLD_ELITE": "9",
            "TRUST_SATS_PER_POINT": "7",
            "TRUST_MAX_POINTS_PER_DAY": "3",
            "TRUST_FAILURE_POINTS": "4",
            "TRUST_DECAY_AFTER_DAYS": "2",
            "TRUST_DECAY_PCT": "12.5",
        }
    )
    assert [config.rules.threshold(tier) for tier in TIERS] == [0, 3, 6, 9]
    assert config.rules.decay_period_seconds == 2 * 86_400
    assert config.rules.decay_keep == Decimal("0.875")
    assert (config.rules.sats_per_point, config.rules.max_points_per_day) == (7, 3)
    assert config.trust_failure_points == 4


@pytest.mark.parametrize(
    "env",
    [
        {"TRUST_THRESHOLD_ESTABLISHED": "50", "TRUST_THRESHOLD_TRUSTED": "50"},
        {"TRUST_THRESHOLD_ELITE": "40"},
        {"TRUST_SATS_PER_POINT": "0"},
        {"TRUST_MAX_POINTS_PER_DAY": "0"},
        {"TRUST_FAILURE_POINTS": "0"},
        {"TRUST_SATS_PER_POINT": "ten"},
        {"TRUST_DECAY_PCT": "101"},
        {"TRUST_DECAY_AFTER_DAYS": "0"},
        {"NOSTR_TOKEN_TTL_SECONDS": "0"},
    ],
)
def test_inconsistent_settings_are_refused(env: dict[str, str]) -> None:
    assert IdentitySettings.from_env(LOCAL)
    with pytest.raises(ValidationError):
        IdentitySettings.from_env({**LOCAL, **env})


def test_the_token_key_is_derived_for_this_purpose_only(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "server-secret-0123456789abcdef"
    monkeypatch.setenv("STAGE", "prod")
    monkeypatch.setenv("SERVER_SECRET", secret)
    reset_caches()
    key = token_secret()
    assert key == hmac.new(secret.encode(), b"timmy/nostr-token", hashlib.sha256).digest()
    assert key == derive_key(KeyLabel.NOSTR_TOKEN)


def test_no_token_key_without_a_server_secret_outside_development(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STAGE", "prod")
    monkeypatch.delenv("DEV_MODE", raising=False)
    monkeypatch.delenv("SERVER_SECRET", raising=False)
    reset_caches()
    with pytest.raises(ConfigurationError, match="SERVER_SECRET must be set"):
        token_secret()


def test_public_request_url_from_the_request_context(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    reset_caches()
    url = public_request_url(
        domain_name="abc.execute-api.us-east-1.amazonaws.com",
        forwarded_proto=None,
        raw_path="/api/identity/verify",
        raw_query="a=1&b=2",
    )
    assert url == "https://abc.execute-api.us-east-1.amazonaws.com/api/identity/verify?a=1&b=2"
    plain = public_request_url(
        domain_name="127.0.0.1:3000", forwarded_proto="http", raw_path="/x", raw_query=""
    )
    assert plain == "http://127.0.0.1:3000/x"

    monkeypatch.setenv("PUBLIC_BASE_URL", "https://timmy.example/")
    reset_caches()
    configured = public_request_url(
        domain_name="ignored", forwarded_proto="http", raw_path="/x", raw_query=""
    )
    assert configured == "https://timmy.example/x"
