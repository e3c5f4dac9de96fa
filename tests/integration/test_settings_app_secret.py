"""Secrets from Secrets Manager (moto) merged into settings in one place: the app secret fills
what the environment leaves unset, the database's managed secret gives its credentials."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any

import boto3
import pytest

from timmy.db.connection import connect_kwargs
from timmy.errors import ConfigurationError
from timmy.runtime import reset_caches
from timmy.server_secret import KeyLabel, derive_key, server_secret_settings
from timmy.settings import CoreSettings, core, validate_all

FROM_SECRET = "server-secret-from-the-app-secret-0123"


@pytest.fixture
def put_secret(stack: Any) -> Any:
    """Store a secret (in the stack's moto) under a new name: Parameters caches by name."""
    client = boto3.client("secretsmanager", region_name="us-east-1")

    def put(value: str) -> str:
        name = f"timmy/test/app-{uuid.uuid4().hex[:8]}"
        return str(client.create_secret(Name=name, SecretString=value)["ARN"])

    return put


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAGE", "prod")
    monkeypatch.delenv("DEV_MODE", raising=False)
    monkeypatch.delenv("SERVER_SECRET", raising=False)


@pytest.mark.usefixtures("production")
def test_the_app_secret_fills_what_the_environment_leaves_unset(
    monkeypatch: pytest.MonkeyPatch, put_secret: Any
) -> None:
    arn = put_secret(json.dumps({"SERVER_SECRET": FROM_SECRET, "LNBITS_ADMIN_KEY": ""}))
    monkeypatch.setenv("TIMMY_SECRET_ARN", arn)
    reset_caches()
    validate_all()
    assert server_secret_settings().server_secret.get_secret_value() == FROM_SECRET
    expected = hmac.new(FROM_SECRET.encode(), b"timmy/nostr-token", hashlib.sha256).digest()
    assert derive_key(KeyLabel.NOSTR_TOKEN) == expected
    # An empty value in the secret is no value: the default stays.
    assert core().lnbits_admin_key.get_secret_value() == ""

    # An empty variable is unset too, so the secret's value is used...
    monkeypatch.setenv("SERVER_SECRET", "")
    reset_caches()
    assert server_secret_settings().server_secret.get_secret_value() == FROM_SECRET
    # ...and a set one wins over it.
    monkeypatch.setenv("SERVER_SECRET", "server-secret-from-the-environment")
    reset_caches()
    assert server_secret_settings().server_secret.get_secret_value() == (
        "server-secret-from-the-environment"
    )


@pytest.mark.usefixtures("production")
@pytest.mark.parametrize("stored", ["not json", '["a list"]', '"a string"'])
def test_an_app_secret_that_is_not_a_json_object_is_named(
    monkeypatch: pytest.MonkeyPatch, put_secret: Any, stored: str
) -> None:
    monkeypatch.setenv("TIMMY_SECRET_ARN", put_secret(stored))
    reset_caches()
    with pytest.raises(ConfigurationError) as raised:
        validate_all()
    assert raised.value.problems == ("TIMMY_SECRET_ARN: the secret must hold a JSON object",)


def test_the_database_credentials_come_from_its_managed_secret(put_secret: Any) -> None:
    arn = put_secret(json.dumps({"username": "app_user", "password": "pw-from-secret"}))
    settings = CoreSettings(db_host="proxy.example", db_secret_arn=arn)
    kwargs = connect_kwargs(settings)
    assert (kwargs["host"], kwargs["user"], kwargs["password"]) == (
        "proxy.example",
        "app_user",
        "pw-from-secret",
    )
    assert kwargs["ssl_context"]  # DB_SSL defaults to true: verified TLS
