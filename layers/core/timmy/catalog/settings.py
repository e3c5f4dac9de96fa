"""Which catalog a function reads: the bundled one unless CATALOG_PATH names another file."""

from __future__ import annotations

from pydantic import field_validator

from timmy.catalog.loader import Catalog, load
from timmy.settings import EnvSettings
from timmy.settings import load as load_settings


class CatalogSettings(EnvSettings):
    catalog_path: str = ""

    @field_validator("catalog_path")
    @classmethod
    def _loads(cls, value: str) -> str:
        # Validated with every settings model when a function starts: a bad catalog is a
        # ConfigurationError then, not a 500 at the first priced request.
        load(value)  # raises CatalogError, a ValueError
        return value


def catalog() -> Catalog:
    """The catalog this function prices with (read once per container)."""
    return load(load_settings(CatalogSettings).catalog_path)
