from __future__ import annotations

import pytest
from pydantic import ValidationError

from timmy.settings import CoreSettings


def test_fields_are_read_from_upper_cased_environment_names() -> None:
    settings = CoreSettings.from_env(
        {"STAGE": "prod", "DEV_MODE": "true", "DB_PORT": "6543", "INVOICE_EXPIRY_SECONDS": "900"}
    )
    assert settings.stage == "prod"
    assert settings.dev_mode is True
    assert settings.db_port == 6543
    assert settings.invoice_expiry_seconds == 900


def test_empty_values_fall_back_to_defaults() -> None:
    settings = CoreSettings.from_env({"STAGE": "", "DEV_MODE": ""})
    assert settings.stage == "dev"
    assert settings.dev_mode is False


def test_lightning_mode_is_lnbits_only_with_url_and_key() -> None:
    assert CoreSettings.from_env({}).lightning_mode == "stub"
    # A URL without its key is a half-done configuration, not a quiet fallback to the stub.
    with pytest.raises(ValidationError, match="LNBITS_API_KEY"):
        CoreSettings.from_env({"LNBITS_URL": "https://ln.example"})
    both = {"LNBITS_URL": "https://ln.example", "LNBITS_API_KEY": "k"}
    assert CoreSettings.from_env(both).lightning_mode == "lnbits"


def test_secrets_never_show_in_the_settings_repr() -> None:
    settings = CoreSettings.from_env({"LNBITS_API_KEY": "super-secret-key"})
    assert "super-secret-key" not in repr(settings)
    assert "super-secret-key" not in str(settings.model_dump())


def test_invalid_values_are_rejected_clearly() -> None:
    with pytest.raises(ValidationError, match="invoice_expiry_seconds"):
        CoreSettings.from_env({"INVOICE_EXPIRY_SECONDS": "5"})
