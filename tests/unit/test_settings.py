from __future__ import annotations

import importlib
import pkgutil
import typing
from decimal import Decimal

import pytest
from pydantic import ValidationError

import timmy
from timmy.errors import ConfigurationError
from timmy.runtime import reset_caches
from timmy.settings import CoreSettings, EnvSettings, core, load, models, validate_all


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


# --- strict parsing ---------------------------------------------------------------------------


def all_settings_models() -> list[type[EnvSettings]]:
    """Every settings model of the layer (importing every module registers its models)."""
    for module in pkgutil.walk_packages(timmy.__path__, "timmy."):
        importlib.import_module(module.name)
    return sorted(models(), key=lambda model: model.__qualname__)


def _typed_fields(
    kinds: tuple[type, ...], *, literals: bool
) -> list[tuple[type[EnvSettings], str]]:
    found = []
    for model in all_settings_models():
        for name, field in model.model_fields.items():
            annotation = field.annotation
            args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            literal = literals and typing.get_origin(annotation) is typing.Literal
            if literal or annotation in kinds or (len(args) == 1 and args[0] in kinds):
                found.append((model, name))
    return found


BOOLEANS = _typed_fields((bool,), literals=False)
# Fields whose every valid value is a number, a boolean or one of a few words: "ture" is none.
TYPED = _typed_fields((bool, int, float, Decimal), literals=True)


def test_the_boolean_settings_are_found() -> None:
    names = {(model.__name__, field) for model, field in BOOLEANS}
    assert {
        ("CoreSettings", "dev_mode"),
        ("CoreSettings", "db_ssl"),
        ("CoreSettings", "db_iam_auth"),
        ("ServerSecretSettings", "dev_mode"),
        ("DevPayerSettings", "dev_mode"),
    } <= names
    assert len({model for model, _ in TYPED}) >= 10


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("true", True),
        ("TRUE", True),
        (" True ", True),
        ("1", True),
        ("false", False),
        ("False", False),
        ("0", False),
    ],
)
def test_booleans_accept_true_false_1_and_0(raw: str, value: bool) -> None:
    settings = CoreSettings.from_env({"DB_SSL": raw, "DEV_MODE": raw, "DB_IAM_AUTH": raw})
    assert (settings.db_ssl, settings.dev_mode, settings.db_iam_auth) == (value,) * 3


def test_db_ssl_enabled_is_a_configuration_error_not_tls_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DB_SSL", "enabled")
    reset_caches()
    with pytest.raises(ConfigurationError) as raised:
        core()
    assert raised.value.problems == ("DB_SSL: must be true or false (or 1 or 0)",)
    assert "enabled" not in raised.value.message


def test_dev_mode_ture_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEV_MODE", "ture")
    reset_caches()
    with pytest.raises(ConfigurationError, match=r"DEV_MODE: must be true or false") as raised:
        validate_all()
    assert "ture" not in raised.value.message


@pytest.mark.parametrize("raw", ["ture", "enabled", "yes", "no", "on", "off", "t", "2", "-1"])
@pytest.mark.parametrize(
    ("model", "field"), BOOLEANS, ids=[f"{m.__name__}.{f}" for m, f in BOOLEANS]
)
def test_every_boolean_refuses_other_spellings(
    monkeypatch: pytest.MonkeyPatch, model: type[EnvSettings], field: str, raw: str
) -> None:
    # pydantic's own bool would take "yes", "on" and "t": every boolean must be an EnvBool.
    monkeypatch.setenv("STAGE", "local")
    monkeypatch.setenv(field.upper(), raw)
    reset_caches()
    with pytest.raises(ConfigurationError) as raised:
        load(model)
    assert f"{field.upper()}: must be true or false" in raised.value.message


@pytest.mark.parametrize(("model", "field"), TYPED, ids=[f"{m.__name__}.{f}" for m, f in TYPED])
def test_every_typed_setting_refuses_a_misspelt_value_naming_it(
    monkeypatch: pytest.MonkeyPatch, model: type[EnvSettings], field: str
) -> None:
    monkeypatch.setenv("STAGE", "local")
    monkeypatch.setenv(field.upper(), "ture")
    reset_caches()
    with pytest.raises(ConfigurationError) as raised:
        load(model)
    assert any(problem.startswith(f"{field.upper()}: ") for problem in raised.value.problems)
    assert "ture" not in raised.value.message


def test_make_devs_check_names_a_bad_boolean_before_anything_starts() -> None:
    # What `make dev` (local.stack.LocalStack.start) runs on the environment it built.
    from timmy.runtime import check_environment

    environ = {"STAGE": "local", "DEV_MODE": "true"}
    check_environment(environ)
    with pytest.raises(ConfigurationError) as raised:
        check_environment({**environ, "DB_SSL": "enabled", "SESSION_MIN_DEPOSIT_SATS": "many"})
    assert raised.value.problems == (
        "DB_SSL: must be true or false (or 1 or 0)",
        "SESSION_MIN_DEPOSIT_SATS: Input should be a valid integer, unable to parse string as an"
        " integer",
    )
