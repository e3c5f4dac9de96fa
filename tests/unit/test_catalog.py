"""The catalog: the bundled file validates, is what pricing and /v1 use, and a bad catalog
stops a function at start with a ConfigurationError."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from timmy import quote
from timmy.catalog import catalog, loader
from timmy.catalog.loader import CatalogError, RoutePricing, parse
from timmy.errors import ConfigurationError
from timmy.runtime import reset_caches
from timmy.settings import validate_all

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "shared" / "catalog.yaml"


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    reset_caches()
    yield
    reset_caches()


def test_the_layer_ships_the_shared_catalog() -> None:
    assert loader.BUNDLED.read_text("utf-8") == SHARED.read_text("utf-8")


def test_the_bundled_catalog_validates_and_carries_the_marketplace_fees() -> None:
    current = catalog()
    assert {m.id for m in current.models} >= {"stub", "claude-sonnet-4-5", "gpt-4o-mini"}
    hire_task = current.route("hire_task")
    assert hire_task is not None
    assert (hire_task.pricing, hire_task.sats) == (RoutePricing.FLAT, 50)
    assert (current.marketplace.task_fee_sats, current.marketplace.quote_fee_sats) == (50, 10)


def test_pricing_uses_the_catalogs_prices(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cheap = SHARED.read_text("utf-8").replace(
        'usd_per_mtok_output: "5"\n    max_output_tokens: 4096',
        'usd_per_mtok_output: "50"\n    max_output_tokens: 4096',
    )
    assert cheap != SHARED.read_text("utf-8")
    path = tmp_path / "catalog.yaml"
    path.write_text(cheap)
    btc = Decimal(100_000)
    before = quote.actual(0, 1_000_000, "stub", btc)
    monkeypatch.setenv("CATALOG_PATH", str(path))
    reset_caches()
    assert quote.actual(0, 1_000_000, "stub", btc) == before * 10


def test_a_model_s_own_markup_replaces_the_global_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The stub at $5/Mtok output: $5 at no markup is 5,000 sats at $100,000/BTC.
    btc = Decimal(100_000)
    monkeypatch.setenv("PRICE_MARKUP_PCT", "20")
    reset_caches()
    assert quote.markup_pct("stub") == Decimal(20)
    assert quote.actual(0, 1_000_000, "stub", btc) == 6_000
    own = SHARED.read_text("utf-8").replace(
        "    max_output_tokens: 4096\n", '    max_output_tokens: 4096\n    markup_pct: "50"\n'
    )
    path = tmp_path / "catalog.yaml"
    path.write_text(own)
    monkeypatch.setenv("CATALOG_PATH", str(path))
    reset_caches()
    assert quote.markup_pct("stub") == Decimal(50)
    assert quote.actual(0, 1_000_000, "stub", btc) == 7_500
    assert quote.markup_pct("gpt-4o-mini") == Decimal(20)  # the others keep the global one


def test_model_prices_json_still_overrides_the_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    btc = Decimal(100_000)
    monkeypatch.setenv("MODEL_PRICES_JSON", '{"stub": [0, 0], "llama-3-8b": ["1", "1"]}')
    reset_caches()
    assert quote.actual(1000, 1000, "stub", btc) == 0
    assert quote.actual(1_000_000, 0, "llama-3-8b", btc) > 0


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda t: t.replace("version: 1", "version: 2"), "version"),
        (lambda t: t.replace('usd_per_mtok_input: "3"', 'usd_per_mtok_input: "-3"'), "greater"),
        (lambda t: t.replace("max_output_tokens: 8192", "max_output_tokens: 0", 1), "greater"),
        (lambda t: t.replace("id: gpt-4o-mini", "id: stub"), "duplicate model"),
        (lambda t: t.replace("    sats: 50\n", ""), "flat route"),
        (lambda t: t.replace("provider: openai", "provider: acme", 1), "provider"),
        (lambda t: t + "surprise: true\n", "surprise"),
        (lambda t: t.replace("route: hire_task", "route: nowhere"), "names no route"),
        (lambda t: "models: [", "YAML"),
        (lambda t: t.replace("task_fee_sats: 50", "task_fee_sats: 40"), "marketplace fee"),
        (
            lambda t: t.replace(
                "max_output_tokens: 4096", 'max_output_tokens: 4096\n    markup_pct: "-1"'
            ),
            "greater",
        ),
        (lambda t: t.replace("    l402: true\n", '    l402: "maybe"\n', 1), "l402"),
    ],
    ids=[
        "version",
        "negative",
        "zero_output",
        "duplicate",
        "flat_no_sats",
        "provider",
        "extra",
        "example",
        "yaml",
        "fee_mismatch",
        "negative_markup",
        "l402_not_a_boolean",
    ],
)
def test_a_bad_catalog_is_refused_naming_the_problem(change, problem) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CatalogError, match=problem):
        parse(change(SHARED.read_text("utf-8")))


def test_a_bad_catalog_stops_a_function_at_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(SHARED.read_text("utf-8").replace("version: 1", "version: 9"))
    monkeypatch.setenv("CATALOG_PATH", str(path))
    reset_caches()
    with pytest.raises(ConfigurationError, match="CATALOG_PATH"):
        validate_all()
    monkeypatch.setenv("CATALOG_PATH", str(tmp_path / "missing.yaml"))
    reset_caches()
    with pytest.raises(ConfigurationError, match="CATALOG_PATH"):
        validate_all()
