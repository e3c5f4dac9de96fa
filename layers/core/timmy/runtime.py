"""Per-process caches (settings, clients, providers) and how to drop them all at once, and the
configuration check every entry point runs before it handles an event.

Lambda keeps the caches across warm invocations; tests and the local stack drop them when they
change the environment.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import sys
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from timmy.errors import ConfigurationError
from timmy.settings import validate_all, validate_environment

F = TypeVar("F", bound=Callable[..., Any])

# module → name of a zero-argument function that drops that module's caches
_RESETTERS = {
    "timmy.settings": "reset",
    "timmy.lightning.backends": "reset",
    "timmy.ai.providers": "reset",
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


def check_environment(environ: Mapping[str, str]) -> None:
    """Validate every settings model in the layer against ``environ``, or raise one
    ConfigurationError naming every problem.

    For a process about to serve every function (``make dev``) before it starts anything: it
    imports all of ``timmy`` so that every model is checked, not only those imported so far,
    and reads neither the process environment nor the app secret.
    """
    import timmy

    for module in pkgutil.walk_packages(timmy.__path__, "timmy."):
        importlib.import_module(module.name)
    validate_environment(environ)


def validated(handler: F) -> F:
    """A Lambda entry point (workflow step, scheduled job) that refuses to run misconfigured."""

    @functools.wraps(handler)
    def run(*args: Any, **kwargs: Any) -> Any:
        check_configuration()
        return handler(*args, **kwargs)

    return run  # type: ignore[return-value]
