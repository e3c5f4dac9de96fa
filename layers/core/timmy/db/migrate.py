"""Numbered SQL migrations shipped as package data.

Files ``migrations/NNNN_name.sql`` are applied in order, each in its own transaction, under a
session advisory lock so concurrent cold starts (or deploys) apply each file exactly once.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import pg8000.native

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_ADVISORY_LOCK_KEY = 0x7117_0001  # any constant unique to this application
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.iterdir()):
        match = _NAME.match(path.name)
        if match:
            found.append(Migration(int(match.group(1)), path.stem, path.read_text()))
    versions = [m.version for m in found]
    if len(versions) != len(set(versions)):
        raise RuntimeError(f"duplicate migration numbers in {directory}")
    return found


def apply_migrations(conn: pg8000.native.Connection) -> list[str]:
    """Apply pending migrations; returns the names applied by this call."""
    applied_now: list[str] = []
    conn.run("SELECT pg_advisory_lock(:key)", key=_ADVISORY_LOCK_KEY)
    try:
        conn.run(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY,"
            " name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.run("SELECT version FROM schema_migrations")}
        for migration in available_migrations():
            if migration.version in done:
                continue
            conn.run("BEGIN")
            try:
                # pg8000's simple-query path runs a multi-statement script as one unit.
                conn.execute_simple(migration.sql)
                conn.run(
                    "INSERT INTO schema_migrations (version, name) VALUES (:v, :n)",
                    v=migration.version,
                    n=migration.name,
                )
                conn.run("COMMIT")
            except BaseException:
                conn.run("ROLLBACK")
                raise
            logger.info("applied migration %s", migration.name)
            applied_now.append(migration.name)
    finally:
        conn.run("SELECT pg_advisory_unlock(:key)", key=_ADVISORY_LOCK_KEY)
    return applied_now
