"""Make Powertools' HTTP resolvers safe to call from several threads at once (local only).

A Lambda container handles one event at a time, so Powertools keeps the event being resolved
in class attributes (``BaseRouter.current_event``, ``BaseRouter.lambda_context``) and the route
arguments in the resolver's ``context`` dict. The local gateway serves concurrent requests on
threads, each playing one warm container: those attributes are made per-thread here, so that
one request never reads another's event or path parameters. Nothing of this is deployed.
"""

from __future__ import annotations

import threading
from typing import Any

_state = threading.local()
_CLASS_ATTRIBUTES = ("current_event", "lambda_context")
_installed = False


def _contexts() -> dict[int, dict[str, Any]]:
    contexts: dict[int, dict[str, Any]] | None = getattr(_state, "contexts", None)
    if contexts is None:
        contexts = {}
        _state.contexts = contexts
    return contexts


def _attribute(name: str) -> property:
    def get(_owner: Any) -> Any:
        return getattr(_state, name, None)

    def set_(_owner: Any, value: Any) -> None:
        setattr(_state, name, value)

    return property(get, set_)


def _context_property() -> property:
    def get(resolver: Any) -> dict[str, Any]:
        return _contexts().setdefault(id(resolver), {})

    def set_(resolver: Any, value: dict[str, Any]) -> None:
        _contexts()[id(resolver)] = value

    return property(get, set_)


def install() -> None:
    """Idempotent; call before any resolver handles a request."""
    global _installed
    if _installed:
        return
    from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

    base_meta = type(BaseRouter)

    class ThreadLocalRouterMeta(base_meta):  # type: ignore[misc, valid-type]
        def __setattr__(cls, name: str, value: Any) -> None:  # noqa: N805 - a metaclass
            if name in _CLASS_ATTRIBUTES:
                setattr(_state, name, value)  # ``BaseRouter.current_event = event``
                return
            super().__setattr__(name, value)

    for name in _CLASS_ATTRIBUTES:
        setattr(ThreadLocalRouterMeta, name, _attribute(name))  # class-level reads
        type.__setattr__(BaseRouter, name, _attribute(name))  # instance reads and writes
    type.__setattr__(BaseRouter, "context", _context_property())
    BaseRouter.__class__ = ThreadLocalRouterMeta  # type: ignore[method-assign]
    _installed = True
