from __future__ import annotations

import threading
from typing import Any

from timmy.db.connection import db, open_connection
from timmy.db.migrate import apply_migrations, available_migrations


def test_every_shipped_migration_is_recorded_once(stack: Any) -> None:
    versions = [row["version"] for row in db().all("SELECT version FROM schema_migrations")]
    assert sorted(versions) == [m.version for m in available_migrations()]


def test_concurrent_runs_apply_nothing_twice(stack: Any) -> None:
    # Given the schema is current, when several cold starts migrate at once
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run() -> None:
        conn = open_connection()
        try:
            results.append(apply_migrations(conn))
        except BaseException as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)
        finally:
            conn.close()

    threads = [threading.Thread(target=run) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then none of them fails and none applies anything again
    assert errors == []
    assert results == [[]] * 6
