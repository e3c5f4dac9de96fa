"""Every setting the code reads is documented in the README's configuration tables."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import timmy
from timmy.settings import EnvSettings

README = Path(__file__).resolve().parents[2] / "README.md"


def all_settings_models() -> set[type[EnvSettings]]:
    for module in pkgutil.walk_packages(timmy.__path__, "timmy."):
        importlib.import_module(module.name)
    found: set[type[EnvSettings]] = set()
    pending = list(EnvSettings.__subclasses__())
    while pending:
        model = pending.pop()
        found.add(model)
        pending.extend(model.__subclasses__())
    return found


def test_every_environment_variable_is_in_the_readme() -> None:
    text = README.read_text()
    names = {name.upper() for model in all_settings_models() for name in model.model_fields}
    assert len(names) > 40
    missing = sorted(name for name in names if f"`{name}`" not in text)
    assert not missing, f"document these in README.md's configuration tables: {missing}"
