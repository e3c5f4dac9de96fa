"""Shared fixtures: a real PostgreSQL (embedded pgserver unless TEST_DATABASE_URL is set),
moto for AWS, and the local stack serving the real handlers in worker processes."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the `local` package

# Tables whose rows survive between tests (reference data seeded by migrations).
KEEP_TABLES = {"schema_migrations"}


def _reset_caches() -> None:
    from timmy.runtime import reset_caches

    reset_caches()


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """Settings are cached per process; every test starts from the environment it sets."""
    _reset_caches()
    yield
    _reset_caches()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A throwaway database on a real PostgreSQL server, dropped at the end of the session."""
    import pg8000.native

    from local import postgres
    from local.stack import start_embedded_postgres
    from timmy.db.connection import connect_kwargs
    from timmy.settings import CoreSettings

    data_dir = ROOT / ".local" / "pgtest"
    own_server = not os.environ.get("TEST_DATABASE_URL")
    server_url = os.environ.get("TEST_DATABASE_URL") or start_embedded_postgres(data_dir)
    name = f"timmy_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = pg8000.native.Connection(**connect_kwargs(CoreSettings(database_url=server_url)))
    admin.run(f'CREATE DATABASE "{name}"')
    base, _, query = server_url.partition("?")
    base = base.rsplit("/", 1)[0]
    url = f"{base}/{name}" + (f"?{query}" if query else "")
    try:
        yield url
    finally:
        from timmy.db.connection import reset_connection

        reset_connection()
        admin.run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
        if own_server:
            postgres.stop(data_dir)  # the last run using it stops the server


@pytest.fixture(scope="session")
def stack(database_url: str) -> Iterator[Any]:
    """The local stack: migrations applied, the moto server running, handlers in workers.

    A test's ``monkeypatch.setenv`` reaches the functions (their workers are replaced, as a
    redeploy with that variable would); see ``monkeypatch`` below for replaced code.
    """
    from local.stack import LocalStack

    local_stack = LocalStack(database_url=database_url, forward_environment_changes=True).start()
    try:
        yield local_stack
    finally:
        local_stack.stop()


# Code a test may replace in this process and expect the functions to run.
_HANDLER_CODE = ("timmy", "fn_", "app")


class _HandlerPatch(pytest.MonkeyPatch):
    """pytest's MonkeyPatch that notices when handler code is replaced."""

    def __init__(self, on_handler_code: Callable[[], None]) -> None:
        super().__init__()
        self._on_handler_code = on_handler_code

    def setattr(self, target: Any, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        super().setattr(target, *args, **kwargs)
        owner = target if isinstance(target, str) else getattr(target, "__module__", None)
        if str(owner or getattr(target, "__name__", "")).startswith(_HANDLER_CODE):
            self._on_handler_code()

    @contextmanager
    def context(self) -> Iterator[pytest.MonkeyPatch]:  # type: ignore[override]
        inner = _HandlerPatch(self._on_handler_code)
        try:
            yield inner
        finally:
            inner.undo()


@pytest.fixture
def monkeypatch(request: pytest.FixtureRequest) -> Iterator[pytest.MonkeyPatch]:
    """pytest's monkeypatch; a test that replaces handler code with it (``setattr`` on a
    timmy module or class) has the stack run every function in this process until it ends,
    where the replacement lives: a worker process would never see it."""
    with ExitStack() as in_process:

        def run_handlers_here() -> None:
            if not in_process._exit_callbacks and "stack" in request.fixturenames:
                in_process.enter_context(
                    request.getfixturevalue("stack").handlers_in_this_process()
                )

        patch = _HandlerPatch(run_handlers_here)
        try:
            yield patch
        finally:
            patch.undo()


@pytest.fixture
def clean_db(stack: Any) -> None:
    """Empty every table before the test (migrations stay applied)."""
    from timmy.db.connection import db

    tables = [
        row["tablename"]
        for row in db().all("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        if row["tablename"] not in KEEP_TABLES
    ]
    if tables:
        db().execute(
            "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
        )


@pytest.fixture(scope="session")
def gateway_url(stack: Any) -> Iterator[str]:
    """The local gateway serving over real HTTP on a free port."""
    from local.gateway import serve_in_thread

    server, url = serve_in_thread(stack)
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def api(gateway_url: str, clean_db: None) -> Iterator[Any]:
    import httpx

    with httpx.Client(base_url=gateway_url, timeout=30) as client:
        yield client
