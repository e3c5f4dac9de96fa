"""`make dev` (``python -m local``) refuses a bad setting at start, with one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_db_ssl_enabled_stops_make_dev_with_the_variable_named(database_url: str) -> None:
    # DATABASE_URL given: no embedded server is started, so a refused start leaves nothing.
    env = {**os.environ, "DATABASE_URL": database_url, "DB_SSL": "enabled", "DEV_MODE": "ture"}
    result = subprocess.run(
        [sys.executable, "-m", "local", "--port", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last == (
        "Invalid configuration: DEV_MODE: must be true or false (or 1 or 0);"
        " DB_SSL: must be true or false (or 1 or 0)."
    )
    assert "Traceback" not in result.stderr
    assert "serving" not in result.stdout
