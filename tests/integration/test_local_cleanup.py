"""`make dev` and `make test` leave nothing running: Ctrl-C stops every process `make dev`
started, the embedded PostgreSQL included, and a process that started the embedded server
stops it when it ends, whatever other (dead) runs left behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil  # pgserver's own dependency

from local import postgres

ROOT = Path(__file__).resolve().parents[2]


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["PORT"] = "0"  # any free port, which `make dev` reports
    return env


def test_ctrl_c_on_make_dev_stops_everything_it_started(tmp_path: Path) -> None:
    data_dir = tmp_path / "pg"
    dev = subprocess.Popen(  # what `make dev` runs
        [sys.executable, "-m", "local", "--data-dir", str(data_dir)],
        cwd=ROOT,
        env=_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert dev.stdout is not None
        served = None
        deadline = time.monotonic() + 120
        while served is None and time.monotonic() < deadline:
            line = dev.stdout.readline()
            assert line, "make dev exited before serving"
            served = re.search(r"serving on (http://\S+)", line)
        assert served is not None
        # Workers start on first use: one request starts one
        assert httpx.get(served.group(1) + "/api/healthz", timeout=30).status_code == 200
        started = psutil.Process(dev.pid).children(recursive=True)
        assert started, "no worker process was started"
        assert postgres.running(data_dir)
        # When Ctrl-C reaches make dev
        dev.send_signal(signal.SIGINT)
        assert dev.wait(60) == 0
    finally:
        if dev.poll() is None:
            dev.kill()
            dev.wait()
    # Then nothing it started is left: workers, moto, PostgreSQL
    _, alive = psutil.wait_procs(started, timeout=10)
    assert alive == []
    assert not postgres.running(data_dir)


def test_the_process_that_started_the_server_stops_it_on_exit(tmp_path: Path) -> None:
    data_dir = tmp_path / "pg"
    # Given users' pids of runs that were killed (they never said goodbye)
    users = tmp_path / "pg.users"
    users.mkdir()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    (users / dead.stdout.strip()).touch()
    # When a process starts the embedded server and exits without stopping it
    script = (
        f"from pathlib import Path; from local import postgres; path = Path({str(data_dir)!r});"
        " postgres.start(path); assert postgres.running(path)"
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, env=_environment())
    # Then the server is stopped
    assert not postgres.running(data_dir)


def test_a_server_shared_with_a_live_process_outlives_the_other_one(tmp_path: Path) -> None:
    data_dir = tmp_path / "pg"
    postgres.start(data_dir)
    try:
        script = (
            "from pathlib import Path; from local import postgres;"
            f" postgres.start(Path({str(data_dir)!r}))"
        )
        subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, env=_environment())
        assert postgres.running(data_dir)  # still ours
    finally:
        postgres.stop(data_dir)
    assert not postgres.running(data_dir)
