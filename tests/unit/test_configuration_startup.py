"""Every setting is validated before a function handles its first event, with one error that
names the variables (never their values)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

import timmy.ai  # noqa: F401 - registers AISettings (only imported models are validated)
from local.template import Template
from timmy.lightning.dev_payer import DevPayerSettings
from timmy.runtime import reset_caches, validated
from timmy.sessions.settings import (
    MIN_HOLD_TIMEOUT_SECONDS,
    REQUEST_FUNCTION_TIMEOUT_SECONDS,
    SessionSettings,
)
from timmy.settings import ConfigurationError, CoreSettings, load, validate_all

ROOT = Path(__file__).resolve().parents[2]
LOCAL = {"STAGE": "local"}  # may use the dev SERVER_SECRET


@pytest.fixture(autouse=True)
def _local_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAGE", "local")
    reset_caches()


def test_a_short_hold_timeout_is_refused_naming_the_variable() -> None:
    with pytest.raises(ValidationError, match="SESSION_HOLD_TIMEOUT_SECONDS must be at least"):
        SessionSettings.from_env({**LOCAL, "SESSION_HOLD_TIMEOUT_SECONDS": "20"})
    ok = SessionSettings.from_env(
        {**LOCAL, "SESSION_HOLD_TIMEOUT_SECONDS": str(MIN_HOLD_TIMEOUT_SECONDS)}
    )
    assert ok.session_hold_timeout_seconds == MIN_HOLD_TIMEOUT_SECONDS


def test_the_hold_timeout_floor_exceeds_the_request_functions_timeout() -> None:
    template = Template(ROOT / "template.yaml", {"DevMode": "true"})
    globals_timeout = template.doc["Globals"]["Function"]["Timeout"]
    request = template.resources["SessionRequestFunction"]["Properties"]
    assert request.get("Timeout", globals_timeout) == REQUEST_FUNCTION_TIMEOUT_SECONDS
    assert MIN_HOLD_TIMEOUT_SECONDS > REQUEST_FUNCTION_TIMEOUT_SECONDS


def test_dev_stub_pay_with_lnbits_needs_the_payer_key() -> None:
    lnbits = {"DEV_MODE": "true", "LNBITS_URL": "https://ln.example", "LNBITS_API_KEY": "k"}
    with pytest.raises(ValidationError, match="LNBITS_DEV_PAYER_KEY must be set"):
        DevPayerSettings.from_env(lnbits)
    assert DevPayerSettings.from_env({**lnbits, "LNBITS_DEV_PAYER_KEY": "payer"})
    # Not needed with the stub backend, nor outside dev mode (the route does not exist then).
    assert DevPayerSettings.from_env({"DEV_MODE": "true"})
    assert DevPayerSettings.from_env({**lnbits, "DEV_MODE": "false"})


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"LNBITS_URL": "https://ln.example"}, "LNBITS_API_KEY"),
        ({"PUBLIC_BASE_URL": "timmy.example"}, "PUBLIC_BASE_URL"),
        ({"PUBLIC_BASE_URL": "https://timmy.example/?x=1"}, "PUBLIC_BASE_URL"),
        ({"STUB_NODE_SECRET": "zz"}, "STUB_NODE_SECRET"),
    ],
)
def test_core_cross_field_and_url_rules(env: dict[str, str], named: str) -> None:
    with pytest.raises(ValidationError, match=f"(?i){named}"):
        CoreSettings.from_env(env)


def test_load_raises_one_configuration_error_without_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SESSION_HOLD_TIMEOUT_SECONDS", "20")
    monkeypatch.setenv("PUBLIC_BASE_URL", "ftp://secret-host-value")
    monkeypatch.setenv("AI_PROVIDER", "anthropic")
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    reset_caches()
    with pytest.raises(ConfigurationError) as raised:
        validate_all()
    message = raised.value.message
    for name in ("SESSION_HOLD_TIMEOUT_SECONDS", "PUBLIC_BASE_URL", "ANTHROPIC_API_KEY"):
        assert name in message
    assert "secret-host-value" not in message
    assert (raised.value.status, raised.value.code) == (500, "configuration_error")
    with pytest.raises(ConfigurationError, match="SESSION_HOLD_TIMEOUT_SECONDS"):
        load(SessionSettings)


def test_pricing_and_price_feed_settings_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    from timmy.quote import PricingSettings

    with pytest.raises(ValidationError, match="model_prices_json"):
        PricingSettings.from_env({"MODEL_PRICES_JSON": "{not json"})
    with pytest.raises(ValidationError, match="btc_price_timeout_seconds"):
        PricingSettings.from_env({"BTC_PRICE_TIMEOUT_SECONDS": "0"})
    with pytest.raises(ValidationError, match="btc_price_fixed_usd"):
        PricingSettings.from_env({"BTC_PRICE_FIXED_USD": "-5"})


def test_a_workflow_step_refuses_to_run_misconfigured(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []

    @validated
    def step(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        calls.append(event)
        return event

    assert step({"ok": 1}, None) == {"ok": 1}
    monkeypatch.setenv("SESSION_HOLD_TIMEOUT_SECONDS", "20")
    reset_caches()
    with pytest.raises(ConfigurationError, match="SESSION_HOLD_TIMEOUT_SECONDS"):
        step({"ok": 2}, None)
    assert calls == [{"ok": 1}]
