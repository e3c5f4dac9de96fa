"""Per-process caches (settings, clients, providers) and how to drop them all at once.

Lambda keeps them across warm invocations; tests and the local stack drop them when they
change the environment.
"""

from __future__ import annotations

import importlib
import sys

# module → name of a zero-argument function that drops that module's caches
_RESETTERS = {
    "timmy.settings": "reset",
    "timmy.lightning": "reset",
    "timmy.ai": "reset",
    "timmy.quote": "reset",
    "timmy.orchestrator": "reset_client",
}


def reset_caches() -> None:
    # Only modules already imported can hold caches; importing others here would be wasted work.
    for module_name, function_name in _RESETTERS.items():
        if module_name in sys.modules:
            getattr(importlib.import_module(module_name), function_name)()


def register(module_name: str, function_name: str) -> None:
    """Capabilities with caches of their own add them here (at import time: no I/O)."""
    _RESETTERS[module_name] = function_name
