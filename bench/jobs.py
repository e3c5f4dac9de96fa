"""Jobs through the local stack: completed jobs per second, and GET /api/jobs/{id} latency.

The local stack as `make dev` runs it: the local gateway over loopback HTTP, each function in
worker processes of its own, the job state machine under the moto server's ASL interpreter,
the stub Lightning node (paid through POST /api/dev/stub/pay) and the stub AI. The database is
the embedded PostgreSQL in a temporary directory (stopped at the end) unless DATABASE_URL is
set.

Rows:

- jobs completed per second: ``--jobs`` jobs with up to ``--in-flight`` of them running at
  once. One client drives them all, round-robin: create → pay the eval invoice → poll until
  the work invoice → pay it → poll until complete. The workflows run concurrently; the HTTP
  requests are issued one at a time;
- job latency: median time from POST /api/jobs to seeing ``complete``;
- GET /api/jobs/{id} on a complete job (one read), and on a job awaiting payment (each GET
  also asks the Lightning backend whether the invoice was paid): sequential, one client.

Each row is measured twice: over loopback HTTP through the local gateway, and through the
stack's router called directly (no gateway socket; the functions still run in their workers).

Usage: .venv/bin/python bench/jobs.py [--jobs 40] [--in-flight 16] [--gets 300]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "core")]

MAX_JOBS = 500
MAX_IN_FLIGHT = 64
MAX_GETS = 5_000
IDLE_SLEEP_SECONDS = 0.01
RUN_TIMEOUT_SECONDS = 600.0


@dataclass
class InFlight:
    job_id: str
    started: float
    work_paid: bool = False


def create_and_pay_eval(client: Any, request: str) -> InFlight:
    started = time.perf_counter()
    created = client.post("/api/jobs", json={"request": request})
    if created.status_code != 201:
        raise RuntimeError(f"POST /api/jobs answered {created.status_code}: {created.text}")
    pay(client, created.json()["eval_invoice"]["payment_hash"])
    return InFlight(created.json()["job_id"], started)


def pay(client: Any, payment_hash: str) -> None:
    response = client.post(f"/api/dev/stub/pay/{payment_hash}")
    if response.status_code != 200 or not response.json()["paid"]:
        raise RuntimeError(f"paying {payment_hash} failed: {response.text}")


def advance(client: Any, job: InFlight) -> bool:
    """One poll of ``job``, paying its work invoice when it appears; True once complete."""
    shown: dict[str, Any] = client.get(f"/api/jobs/{job.job_id}").json()
    state = shown["state"]
    if state == "awaiting_work_payment" and not job.work_paid:
        pay(client, shown["work_invoice"]["payment_hash"])
        job.work_paid = True
    elif state in {"rejected", "failed", "expired"}:
        raise RuntimeError(f"job {job.job_id} ended as {state}")
    return bool(state == "complete")


def run_jobs(client: Any, count: int, in_flight: int) -> tuple[float, list[float], str]:
    """Run ``count`` jobs, at most ``in_flight`` at a time.

    Returns the wall time, each job's latency, and the id of the last job completed.
    """
    latencies: list[float] = []
    last = ""
    running: list[InFlight] = []
    created = 0
    started = time.perf_counter()
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    while len(latencies) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(latencies)} of {count} jobs completed in time")
        while len(running) < in_flight and created < count:
            running.append(create_and_pay_eval(client, f"Bench job {created}: a poem on sats."))
            created += 1
        finished = [job for job in running if advance(client, job)]
        for job in finished:
            latencies.append(time.perf_counter() - job.started)
            running.remove(job)
            last = job.job_id
        if not finished:
            time.sleep(IDLE_SLEEP_SECONDS)
    return time.perf_counter() - started, latencies, last


class InProcessClient:
    """The bits of httpx.Client the benchmark uses, calling the local stack's router directly
    (no gateway socket): separates the functions' own cost from the loopback gateway's."""

    def __init__(self, stack: Any) -> None:
        self.stack = stack

    def get(self, path: str) -> _Answer:
        return _Answer(*self.stack.handle_http("GET", path, "", {}, b"")[::2])

    def post(self, path: str, json: dict[str, Any] | None = None) -> _Answer:
        import json as json_module

        body = json_module.dumps(json).encode() if json is not None else b""
        headers = {"content-type": "application/json"}
        return _Answer(*self.stack.handle_http("POST", path, "", headers, body)[::2])


@dataclass
class _Answer:
    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode()

    def json(self) -> Any:
        import json

        return json.loads(self.content)


def get_latencies(client: Any, job_id: str, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(f"/api/jobs/{job_id}")
        samples.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"GET answered {response.status_code}: {response.text}")
    return samples


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=40, help=f"jobs to run (max {MAX_JOBS})")
    parser.add_argument("--in-flight", type=int, default=16, help="jobs running at once")
    parser.add_argument("--gets", type=int, default=300, help=f"GETs per row (max {MAX_GETS})")
    args = parser.parse_args()
    n_jobs = max(1, min(args.jobs, MAX_JOBS))
    in_flight = max(1, min(args.in_flight, MAX_IN_FLIGHT, n_jobs))
    n_gets = max(10, min(args.gets, MAX_GETS))
    # The handlers log every request at INFO; a benchmark wants only its table.
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

    import logging

    import httpx

    from local.gateway import serve_in_thread
    from local.stack import LocalStack

    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="timmy-bench-jobs-") as tmp:
        stack = LocalStack(data_dir=Path(tmp) / "pg").start()
        server, base = serve_in_thread(stack)
        try:
            results: dict[str, tuple[float, list[float], list[float], list[float]]] = {}
            with httpx.Client(base_url=base, timeout=30) as http_client:
                for name, client in (("HTTP", http_client), ("router", InProcessClient(stack))):
                    # The first execution pays one-off costs (parsing the ASL): not timed.
                    run_jobs(client, 1, 1)
                    wall, latencies, finished_id = run_jobs(client, n_jobs, in_flight)
                    waiting = client.post("/api/jobs", json={"request": "GET benchmark"}).json()
                    results[name] = (
                        wall,
                        latencies,
                        get_latencies(client, finished_id, n_gets),
                        get_latencies(client, waiting["job_id"], n_gets),
                    )
        finally:
            server.shutdown()
            server.server_close()
            stack.stop()

    rows = []
    for name, (wall, latencies, complete_gets, waiting_gets) in results.items():
        rows += [
            (
                f"jobs completed per second ({name})",
                f"{n_jobs / wall:8.2f}",
                f"{n_jobs} jobs, up to {in_flight} in flight",
            ),
            (
                f"job latency, median ({name})",
                f"{statistics.median(latencies) * 1000:8.0f} ms",
                "POST → complete",
            ),
            (
                f"GET /api/jobs/{{id}}, complete ({name})",
                f"{statistics.median(complete_gets) * 1000:8.2f} ms",
                f"median of {n_gets}; p95 {_p95(complete_gets) * 1000:.2f} ms",
            ),
            (
                f"GET /api/jobs/{{id}}, awaiting payment ({name})",
                f"{statistics.median(waiting_gets) * 1000:8.2f} ms",
                f"median of {n_gets}; p95 {_p95(waiting_gets) * 1000:.2f} ms (checks the invoice)",
            ),
        ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>11}  notes")
    for label, value, note in rows:
        print(f"{label:<{width}}  {value:>11}  {note}")
    return 0


def _p95(samples: list[float]) -> float:
    return sorted(samples)[max(0, int(len(samples) * 0.95) - 1)]


if __name__ == "__main__":
    raise SystemExit(main())
