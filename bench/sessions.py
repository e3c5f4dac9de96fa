"""Sessions under load: requests per second, and how long the balance's transactions take.

Every client is its own process playing one warm Lambda container: it loads the real handlers
and calls them in-process, or through its own local gateway over loopback HTTP. (Threads would
not do: Powertools keeps the current event on a class attribute shared by every resolver of a
process, which is safe in Lambda, where a container serves one request at a time.) All
containers share one fresh database on the embedded PostgreSQL under .local/pgbench, with the
stub AI and the stub Lightning node. Scenarios:

* one session, one container: requests one after another;
* one session, 16 containers at once: every request contends for the same balance row;
* 16 sessions, one container each, in parallel.

Reported: requests per second, and p50/p99 of the two balance transactions of a request, the
reservation (conditional UPDATE + request row) and the settlement (request row + return of the
unused estimate + the generosity pool's credit: every paid request touches the pool's one
row). The sessions are anonymous, so the free tier decides nothing here (its reservations are
measured by the free tier's own tests). Usage: .venv/bin/python bench/sessions.py [--requests N]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "core")]

import httpx  # noqa: E402

CONTAINERS = 16
ENVIRONMENT = {
    "SESSION_MAX_DEPOSIT_SATS": "100000000",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_METRICS_DISABLED": "true",
}


@dataclass
class Outcome:
    requests: int
    elapsed: float
    reserve: list[float] = field(default_factory=list)
    settle: list[float] = field(default_factory=list)


class InProcessTransport(httpx.BaseTransport):
    """Hands requests straight to the handlers: the gateway's work without its socket."""

    def __init__(self, stack: Any) -> None:
        self.stack = stack

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        status, headers, body = self.stack.handle_http(
            request.method,
            request.url.path,
            request.url.query.decode(),
            dict(request.headers),
            request.read(),
        )
        return httpx.Response(status, headers=headers, content=body)


@contextmanager
def container(database_url: str, mode: str) -> Iterator[httpx.Client]:
    """This process as one warm container: its handlers, reached in-process or over HTTP."""
    from local.gateway import serve_in_thread
    from local.stack import LocalStack

    os.environ.update(ENVIRONMENT)
    stack = LocalStack(database_url=database_url)
    stack._configure_environment(database_url)  # no moto: sessions call no AWS API
    # This process is the container: the handlers run here, one event at a time.
    with stack.handlers_in_this_process():
        if mode == "in-process":
            with httpx.Client(transport=InProcessTransport(stack), base_url="http://local") as c:
                yield c
            return
        server, base_url = serve_in_thread(stack)
        try:
            with httpx.Client(base_url=base_url, timeout=60) as client:
                yield client
        finally:
            server.shutdown()
            server.server_close()


def time_balance_transactions() -> tuple[list[float], list[float]]:
    """Wrap the two balance transactions where the request handler calls them."""
    from timmy.sessions import requests as session_requests

    reserve: list[float] = []
    settle: list[float] = []

    def timed(samples: list[float], function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                samples.append(time.perf_counter() - started)

        return wrapper

    session_requests._hold = timed(reserve, session_requests._hold)
    session_requests._settle = timed(settle, session_requests._settle)
    return reserve, settle


def spend(client: httpx.Client, session_id: str, macaroon: str, count: int) -> None:
    headers = {"Authorization": f"Bearer {macaroon}"}
    for index in range(count):
        response = client.post(
            f"/api/sessions/{session_id}/request",
            json={"request": f"Benchmark request {index}: summarise a short paragraph."},
            headers=headers,
        )
        if response.status_code != 200:
            raise RuntimeError(f"request failed: {response.status_code} {response.text}")


def worker(
    database_url: str,
    mode: str,
    session: tuple[str, str],
    count: int,
    barrier: Any,
    results: Any,
) -> None:
    """One container: warm up, wait for the others, send ``count`` requests, report."""
    warnings.filterwarnings("ignore", module=r"aws_lambda_powertools\.metrics.*")
    try:
        with container(database_url, mode) as client:
            spend(client, *session, 2)  # imports, connection, caches
            reserve, settle = time_balance_transactions()
            barrier.wait()
            started = time.perf_counter()
            spend(client, *session, count)
            elapsed = time.perf_counter() - started
        # Plain values cross the process boundary (classes of this script would not unpickle).
        results.put({"requests": count, "elapsed": elapsed, "reserve": reserve, "settle": settle})
    except Exception as error:  # noqa: BLE001 - reported by the parent
        results.put({"error": f"{type(error).__name__}: {error}"})
        barrier.abort()


def run(
    database_url: str, mode: str, sessions: list[tuple[str, str]], per_container: int
) -> Outcome:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(sessions))
    results = ctx.Queue()
    processes = [
        ctx.Process(
            target=worker, args=(database_url, mode, session, per_container, barrier, results)
        )
        for session in sessions
    ]
    for process in processes:
        process.start()
    reports = [results.get(timeout=600) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    errors = [report["error"] for report in reports if "error" in report]
    if errors:
        raise RuntimeError(f"{mode}: {errors[0]}")
    outcomes = [Outcome(**report) for report in reports]
    return Outcome(
        requests=sum(o.requests for o in outcomes),
        # All containers start together at the barrier: the slowest one ends the run.
        elapsed=max(o.elapsed for o in outcomes),
        reserve=[v for o in outcomes for v in o.reserve],
        settle=[v for o in outcomes for v in o.settle],
    )


@contextmanager
def fresh_database() -> Iterator[str]:
    import pg8000.native

    from local.stack import LocalStack, start_embedded_postgres
    from timmy.db.connection import connect_kwargs, reset_connection
    from timmy.settings import CoreSettings

    server_url = os.environ.get("BENCH_DATABASE_URL") or start_embedded_postgres(
        ROOT / ".local" / "pgbench"
    )
    name = f"timmy_bench_{uuid.uuid4().hex[:8]}"
    admin = pg8000.native.Connection(**connect_kwargs(CoreSettings(database_url=server_url)))
    admin.run(f'CREATE DATABASE "{name}"')
    base, _, query = server_url.partition("?")
    url = base.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")
    os.environ.update(ENVIRONMENT)
    stack = LocalStack(database_url=url).start()  # applies the migrations
    try:
        yield url
    finally:
        stack.stop()
        reset_connection()
        admin.run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def open_paid_sessions(database_url: str, count: int, deposit: int) -> list[tuple[str, str]]:
    """Open and pay ``count`` sessions through the handlers: (session_id, macaroon) each."""
    with container(database_url, "in-process") as client:
        opened = []
        for _ in range(count):
            created = client.post("/api/sessions", json={"amount_sats": deposit}).json()
            client.post(f"/api/dev/stub/pay/{created['invoice']['payment_hash']}")
            session = client.get(f"/api/sessions/{created['session_id']}").json()
            assert session["state"] == "active", session
            opened.append((created["session_id"], session["macaroon"]))
    return opened


def percentile_ms(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index] * 1000


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=320, help="requests per scenario")
    args = parser.parse_args()
    per_container = max(1, min(args.requests, 20_000) // CONTAINERS)
    total = per_container * CONTAINERS
    deposit = (total + 2 * CONTAINERS) * 50  # a request costs a few sats on the stub

    rows: list[tuple[str, str, Outcome]] = []
    with fresh_database() as url:
        for mode in ("in-process", "http"):
            single = open_paid_sessions(url, 1, deposit)
            rows.append((mode, "1 session, 1 container", run(url, mode, single, total)))
            shared = open_paid_sessions(url, 1, deposit) * CONTAINERS
            rows.append(
                (mode, f"1 session, {CONTAINERS} containers", run(url, mode, shared, per_container))
            )
            own = open_paid_sessions(url, CONTAINERS, deposit)
            rows.append(
                (mode, f"{CONTAINERS} sessions in parallel", run(url, mode, own, per_container))
            )

    header = (
        f"{'transport':<11} {'scenario':<26} {'requests':>8} {'req/s':>7}"
        f" {'reserve p50':>11} {'reserve p99':>11} {'settle p50':>10} {'settle p99':>10}"
    )
    print(header)
    print("-" * len(header))
    for mode, name, outcome in rows:
        rate = outcome.requests / outcome.elapsed
        print(
            f"{mode:<11} {name:<26} {outcome.requests:>8} {rate:>7.1f}"
            f" {percentile_ms(outcome.reserve, 50):>9.2f}ms"
            f" {percentile_ms(outcome.reserve, 99):>9.2f}ms"
            f" {percentile_ms(outcome.settle, 50):>8.2f}ms"
            f" {percentile_ms(outcome.settle, 99):>8.2f}ms"
        )
    print(
        "\nreserve: conditional UPDATE of the balance + the request's row, one transaction."
        "\nsettle: the request's outcome + return of the unused estimate + the pool's credit,"
        " one transaction."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
