"""Prepaid accounts under load: top-up credits and withdrawals per second through the local
stack, and how long a balance debit (with its ledger row) takes.

Every client is its own process playing one warm Lambda container, reaching its handlers over
its own local gateway on loopback HTTP (see bench/sessions.py, whose container and database
helpers this reuses). All share one fresh database on the embedded PostgreSQL, the stub
Lightning node and the dev wallet. Scenarios, each with 1 and with 8 containers at once:

* top-ups: POST /api/v1/topup (a new account) then POST /api/dev/wallet/pay, whose confirmation
  credits the account with its ledger row; rate = top-ups credited per second;
* withdrawals: POST /api/v1/account/withdraw of 10 sats to a fresh customer invoice (made
  before the clock starts), each container from its own account; rate = payouts paid per second;
* debits: the balance debit alone (one conditional UPDATE + its ledger row, one transaction),
  straight on the database, every container on ONE account (the hot row) — what every paid
  request of the OpenAI-compatible API does. p50/p99 per debit.

Usage: .venv/bin/python bench/accounts.py [--count N]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sessions import container, fresh_database, percentile_ms  # noqa: E402

CONTAINER_COUNTS = (1, 8)


@dataclass
class Outcome:
    operations: int
    elapsed: float
    latencies: list[float] = field(default_factory=list)


def _ok(response: Any, status: int) -> dict[str, Any]:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.url.path}: {response.status_code} {response.text}")
    body: dict[str, Any] = response.json()
    return body


def topups(client: Any, count: int) -> list[float]:
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        challenge = _ok(client.post("/api/v1/topup", json={"amount_sats": 100}), 402)
        _ok(client.post("/api/dev/wallet/pay", json={"invoice": challenge["invoice"]}), 200)
        latencies.append(time.perf_counter() - started)
    return latencies


def funded_token(client: Any, sats: int) -> str:
    challenge = _ok(client.post("/api/v1/topup", json={"amount_sats": sats}), 402)
    _ok(client.post("/api/dev/wallet/pay", json={"invoice": challenge["invoice"]}), 200)
    return str(challenge["token"])


def withdrawals(client: Any, token: str, invoices: list[str]) -> list[float]:
    latencies = []
    for invoice in invoices:
        started = time.perf_counter()
        paid = _ok(
            client.post(
                "/api/v1/account/withdraw", json={"invoice": invoice}, headers={"X-Token": token}
            ),
            200,
        )
        if paid["status"] != "paid":
            raise RuntimeError(f"withdrawal {paid['status']}")
        latencies.append(time.perf_counter() - started)
    return latencies


def debits(account_id: str, count: int) -> list[float]:
    from timmy.data import accounts
    from timmy.data.accounts import LedgerReason
    from timmy.db.connection import transaction

    latencies = []
    for index in range(count):
        started = time.perf_counter()
        with transaction() as tx:
            left = accounts.debit(
                tx, account_id, 1, reason=LedgerReason.WITHDRAWAL, reference=f"bench-{index}"
            )
        latencies.append(time.perf_counter() - started)
        if left is None:
            raise RuntimeError("the hot account ran dry")
    return latencies


def worker(
    database_url: str, scenario: str, count: int, shared: str, barrier: Any, results: Any
) -> None:
    warnings.filterwarnings("ignore", module=r"aws_lambda_powertools\.metrics.*")
    try:
        with container(database_url, "http") as client:
            topups(client, 1)  # imports, connection, caches
            if scenario == "withdrawals":
                token = funded_token(client, 20 * (count + 2))
                made = [
                    _ok(client.post("/api/dev/wallet/invoice", json={"amount_sats": 10}), 200)
                    for _ in range(count)
                ]
                invoices = [m["invoice"] for m in made]
            if scenario == "debits":
                debits(shared, 1)
            barrier.wait()
            started = time.perf_counter()
            if scenario == "topups":
                latencies = topups(client, count)
            elif scenario == "withdrawals":
                latencies = withdrawals(client, token, invoices)
            else:
                latencies = debits(shared, count)
            elapsed = time.perf_counter() - started
        results.put({"operations": count, "elapsed": elapsed, "latencies": latencies})
    except Exception as error:  # noqa: BLE001 - reported by the parent
        results.put({"error": f"{type(error).__name__}: {error}"})
        barrier.abort()


def run(database_url: str, scenario: str, containers: int, count: int, shared: str) -> Outcome:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(containers)
    results = ctx.Queue()
    processes = [
        ctx.Process(target=worker, args=(database_url, scenario, count, shared, barrier, results))
        for _ in range(containers)
    ]
    for process in processes:
        process.start()
    reports = [results.get(timeout=600) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    errors = [report["error"] for report in reports if "error" in report]
    if errors:
        raise RuntimeError(f"{scenario}: {errors[0]}")
    return Outcome(
        operations=sum(r["operations"] for r in reports),
        elapsed=max(r["elapsed"] for r in reports),  # all start at the barrier
        latencies=[v for r in reports for v in r["latencies"]],
    )


def hot_account(database_url: str, sats: int) -> str:
    with container(database_url, "in-process") as client:
        token = funded_token(client, sats)
        return str(
            _ok(client.get("/api/v1/account", headers={"X-Token": token}), 200)["account_id"]
        )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200, help="operations per scenario")
    args = parser.parse_args()
    rows: list[tuple[str, int, Outcome]] = []
    with fresh_database() as url:
        shared = hot_account(url, 1_000_000)
        for scenario in ("topups", "withdrawals", "debits"):
            for containers in CONTAINER_COUNTS:
                per = max(1, args.count // containers)
                rows.append((scenario, containers, run(url, scenario, containers, per, shared)))
        from timmy.data import accounts
        from timmy.db.connection import transaction

        with transaction() as tx:
            mismatches = accounts.ledger_mismatches(tx)

    header = f"{'scenario':<12} {'containers':>10} {'ops':>6} {'ops/s':>8} {'p50':>9} {'p99':>9}"
    print(header)
    print("-" * len(header))
    for scenario, containers, outcome in rows:
        print(
            f"{scenario:<12} {containers:>10} {outcome.operations:>6}"
            f" {outcome.operations / outcome.elapsed:>8.1f}"
            f" {percentile_ms(outcome.latencies, 50):>7.2f}ms"
            f" {percentile_ms(outcome.latencies, 99):>7.2f}ms"
        )
    print(f"\naccounts whose ledger differs from the balance afterwards: {len(mismatches)}")
    print(
        "topups: POST /api/v1/topup + dev wallet pay (the credit); withdrawals: POST"
        " /api/v1/account/withdraw, paid by the stub node; debits: one transaction, one hot row."
    )
    return 0 if not mismatches else 1


if __name__ == "__main__":
    raise SystemExit(main())
