"""Shared fixtures: a real PostgreSQL (embedded pgserver unless TEST_DATABASE_URL is set),
moto for AWS, and the local stack serving the real handlers."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
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

    from local.stack import start_embedded_postgres
    from timmy.db.connection import connect_kwargs
    from timmy.settings import CoreSettings

    server_url = os.environ.get("TEST_DATABASE_URL") or start_embedded_postgres(
        ROOT / ".local" / "pgtest"
    )
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


@pytest.fixture(scope="session")
def stack(database_url: str) -> Iterator[Any]:
    """The local stack: migrations applied, moto running, handlers in-process."""
    from local.stack import LocalStack

    local_stack = LocalStack(database_url=database_url).start()
    try:
        yield local_stack
    finally:
        local_stack.stop()


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
