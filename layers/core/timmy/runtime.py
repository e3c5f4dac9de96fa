"""Per-process caches (settings, clients, providers) and how to drop them all at once.

Lambda keeps them across warm invocations; tests and the local stack drop them when they
change the environment.
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from timmy.settings import ConfigurationError, validate_all

F = TypeVar("F", bound=Callable[..., Any])

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


def check_configuration() -> None:
    """Validate every imported settings model; log and raise one ConfigurationError if any
    is invalid. Entry points call it before handling each event (cached after the first)."""
    try:
        validate_all()
    except ConfigurationError as exc:
        from timmy.observability import logger

        logger.error("invalid configuration", extra={"problems": exc.message})
        raise


def validated(handler: F) -> F:
    """A Lambda entry point (workflow step, scheduled job) that refuses to run misconfigured."""

    @functools.wraps(handler)
    def run(*args: Any, **kwargs: Any) -> Any:
        check_configuration()
        return handler(*args, **kwargs)

    return run  # type: ignore[return-value]
