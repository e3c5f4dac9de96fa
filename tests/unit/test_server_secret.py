"""SERVER_SECRET and derive_key: one key per label, stable, the dev secret only in development."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from pydantic import SecretStr, ValidationError

from timmy.errors import ConfigurationError
from timmy.runtime import reset_caches
from timmy.server_secret import KeyLabel, ServerSecretSettings, derive_key

SECRET = "a-production-server-secret-0123456789"


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAGE", "prod")
    monkeypatch.setenv("SERVER_SECRET", SECRET)
    monkeypatch.delenv("DEV_MODE", raising=False)
    monkeypatch.delenv("TIMMY_SECRET_ARN", raising=False)
    reset_caches()


@pytest.mark.usefixtures("production")
def test_each_label_gets_its_own_key_and_none_is_the_secret() -> None:
    keys = {label: derive_key(label) for label in KeyLabel}
    assert len(set(keys.values())) == len(KeyLabel) >= 2
    for label, key in keys.items():
        assert len(key) == 32
        assert key == hmac.new(SECRET.encode(), label.value.encode(), hashlib.sha256).digest()
        assert SECRET.encode() not in key


@pytest.mark.usefixtures("production")
def test_a_key_is_stable_across_calls_and_reloads() -> None:
    first = derive_key(KeyLabel.SESSION_MACAROON)
    assert derive_key(KeyLabel.SESSION_MACAROON) == first
    reset_caches()
    assert derive_key(KeyLabel.SESSION_MACAROON) == first


@pytest.mark.usefixtures("production")
def test_another_server_secret_gives_other_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    before = {label: derive_key(label) for label in KeyLabel}
    monkeypatch.setenv("SERVER_SECRET", SECRET + "x")
    reset_caches()
    for label in KeyLabel:
        assert derive_key(label) != before[label]


@pytest.mark.parametrize(
    "env",
    [{"STAGE": "local"}, {"STAGE": "prod", "DEV_MODE": "true"}],
    ids=["local-stage", "dev-mode"],
)
def test_development_uses_one_fixed_key_per_label(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    monkeypatch.delenv("SERVER_SECRET", raising=False)
    monkeypatch.delenv("DEV_MODE", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_caches()
    local = ServerSecretSettings(stage="local")
    for label in KeyLabel:
        assert derive_key(label) == derive_key(label, local)
    assert derive_key(KeyLabel.NOSTR_TOKEN) != derive_key(KeyLabel.SESSION_MACAROON)


@pytest.mark.parametrize(
    "env", [{"STAGE": "prod"}, {"STAGE": "dev", "DEV_MODE": "false"}, {"STAGE": "dev"}]
)
def test_no_server_secret_outside_development_is_refused(env: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="SERVER_SECRET must be set"):
        ServerSecretSettings.from_env(env)


def test_a_short_server_secret_is_refused_even_locally() -> None:
    with pytest.raises(ValidationError, match="at least 16 characters"):
        ServerSecretSettings.from_env({"STAGE": "local", "SERVER_SECRET": "short"})


def test_derive_key_refuses_a_model_that_skipped_validation() -> None:
    for unchecked in (
        ServerSecretSettings.model_construct(stage="prod", server_secret=SecretStr("")),
        ServerSecretSettings.model_construct(stage="local", server_secret=SecretStr("short")),
    ):
        with pytest.raises(ConfigurationError, match="SERVER_SECRET") as caught:
            derive_key(KeyLabel.NOSTR_TOKEN, unchecked)
        assert (caught.value.status, caught.value.code) == (500, "configuration_error")


def test_the_dev_secret_is_written_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    import timmy

    layer = Path(timmy.__file__).parent
    holders = [
        path.relative_to(layer).as_posix()
        for path in layer.rglob("*.py")
        if "timmy-dev-server-secret" in path.read_text()
    ]
    assert holders == ["server_secret.py"]
