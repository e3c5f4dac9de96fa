"""Calls with a hard deadline: the caller waits at most so long, whatever the callee does.

httpx timeouts bound each phase (connect, each read), not the whole call: a server that drips
bytes can hold a request far longer. The call runs in a daemon thread the caller stops
waiting for at the deadline.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class DeadlineExceeded(Exception):
    """The call had not returned when its deadline passed (it may still finish, unobserved)."""


def call_within(fn: Callable[[], T], timeout_seconds: float, *, name: str) -> T:
    """``fn()``'s result, or its exception re-raised here, or :class:`DeadlineExceeded`."""
    outcome: list[T] = []
    failure: list[BaseException] = []
    done = threading.Event()

    def call() -> None:
        try:
            outcome.append(fn())
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread, never swallowed
            failure.append(exc)
        finally:
            done.set()

    threading.Thread(target=call, name=name, daemon=True).start()
    if not done.wait(timeout_seconds):
        raise DeadlineExceeded(f"{name} did not finish within {timeout_seconds}s")
    if failure:
        raise failure[0]
    return outcome[0]
