"""Test helpers for concurrent and asynchronous behaviour: calls released together on their own
threads (each with its own database connection), and waiting for a condition."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from timmy.db.connection import reset_connection

T = TypeVar("T")


def outcomes(calls: Sequence[Callable[[], T]]) -> list[T | BaseException]:
    """Run each call on its own thread, released at the same instant by a barrier; what each
    returned or raised, in the order of ``calls``."""
    barrier = threading.Barrier(len(calls))
    results: list[T | BaseException] = [RuntimeError("not run")] * len(calls)

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = calls[index]()
        except BaseException as error:  # noqa: BLE001 - returned for the caller's assertions
            results[index] = error
        finally:
            reset_connection()  # each thread opened its own connection

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def together(*calls: Callable[[], object]) -> list[BaseException]:
    """Run the calls released together (see :func:`outcomes`); returns what they raised."""
    return [result for result in outcomes(calls) if isinstance(result, BaseException)]


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll ``predicate`` until it returns something truthy (returned), or fail after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")
