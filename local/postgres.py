"""The embedded PostgreSQL (pgserver): started on demand, stopped by the last process using it.

Several processes may share one data directory (``make dev`` and a benchmark, two test runs):
each registers its pid under ``<data_dir>.users``; the last one to leave, or the first to
find only dead users' pids there, stops the server. Stopping happens on :func:`stop`, and at
interpreter exit for a process that forgot, so no run leaves a server behind.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import subprocess
from pathlib import Path

logger = logging.getLogger("local")

# Concurrency tests open a connection per thread and every worker process holds one; several
# suites (or `make dev` and a benchmark) may share one embedded server: 100 is too tight.
EMBEDDED_MAX_CONNECTIONS = 300
_started: set[Path] = set()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _users(data_dir: Path) -> Path:
    # Beside the data directory: initdb wants an empty one.
    return data_dir.with_name(data_dir.name + ".users")


def _live_users(data_dir: Path) -> list[int]:
    alive = []
    for entry in _users(data_dir).glob("*"):
        pid = int(entry.name) if entry.name.isdigit() else 0
        if pid and _alive(pid):
            alive.append(pid)
        else:
            entry.unlink(missing_ok=True)
    return alive


def start(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL server in ``data_dir``; returns its URL."""
    import pgserver
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: pgserver's own handle counting survives no killed run; ours does.
    server = pgserver.get_server(str(data_dir), cleanup_mode=None)
    _users(data_dir).mkdir(parents=True, exist_ok=True)
    (_users(data_dir) / str(os.getpid())).touch()
    if data_dir not in _started:
        _started.add(data_dir)
        atexit.register(stop, data_dir)
    if int(server.psql("SHOW max_connections;").split()[2]) < EMBEDDED_MAX_CONNECTIONS:
        server.psql(f"ALTER SYSTEM SET max_connections = {EMBEDDED_MAX_CONNECTIONS};")
        # pg_ctl restart reuses the options pgserver started the server with.
        pg_ctl(["-w", "restart"], pgdata=server.pgdata, user=server.system_user, timeout=30)
    uri: str = server.get_uri()
    return uri


def running(data_dir: Path) -> bool:
    from pgserver.postgres_server import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(data_dir.resolve())
    return info is not None and info.is_running()


def stop(data_dir: Path) -> None:
    """Leave the server in ``data_dir``; stop it if no other live process uses it."""
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

    data_dir = data_dir.resolve()
    _started.discard(data_dir)
    with contextlib.suppress(ValueError):
        atexit.unregister(stop)
        for other in _started:  # atexit.unregister drops every registration of ``stop``
            atexit.register(stop, other)
    (_users(data_dir) / str(os.getpid())).unlink(missing_ok=True)
    if _live_users(data_dir) or not running(data_dir):
        return
    # pgserver runs the server as its own user when started by root.
    user = "pgserver" if os.geteuid() == 0 else None
    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir, user=user, timeout=30)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        logger.warning("stopping the embedded PostgreSQL in %s failed", data_dir, exc_info=True)
