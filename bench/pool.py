"""Free-tier decisions per second against the embedded PostgreSQL, next to the physical limit
of a single hot row: the same server doing bare ``UPDATE … SET n = n - 1`` on one row.

Each client is a thread with its own connection. A decision is the full ``freetier.decide``
(trust tier read with lazy decay, then the one-statement reservation on the pool row) for an
elite identity of its own, against a pool large enough to stay on the free path.

Usage: .venv/bin/python bench/pool.py [--seconds 3] [--clients 1 8 32]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "core")]


def run_clients(clients: int, seconds: float, work: Callable[[int], None]) -> float:
    """Operations per second over ``seconds`` with ``clients`` threads (bounded loop)."""
    done = [0] * clients
    barrier = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def loop(i: int) -> None:
        barrier.wait()
        while time.perf_counter() < stop_at[0]:
            work(i)
            done[i] += 1

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    stop_at[0] = time.perf_counter() + seconds
    started = time.perf_counter()
    barrier.wait()
    for thread in threads:
        thread.join()
    return sum(done) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        from local.stack import start_embedded_postgres

        url = os.environ.get("DATABASE_URL") or start_embedded_postgres(Path(tmp) / "pg")
        os.environ["DATABASE_URL"] = url
        os.environ["FREE_TIER_BUDGET_ELITE"] = str(10**15)
        os.environ["FREE_TIER_POOL_INITIAL_SATS"] = str(10**15)

        from timmy import freetier
        from timmy.db.connection import db, open_connection, transaction
        from timmy.db.migrate import apply_migrations
        from timmy.identity import ensure_identity
        from timmy.identity.settings import settings as identity_settings

        conn = open_connection()
        apply_migrations(conn)
        conn.close()
        freetier.seed_pool()
        db().execute("CREATE TABLE IF NOT EXISTS bench_hot_row (id int PRIMARY KEY, n bigint)")
        db().execute(
            "INSERT INTO bench_hot_row VALUES (1, :n) ON CONFLICT (id) DO NOTHING", n=10**15
        )
        elite = identity_settings().rules.elite
        pubkeys = [f"{i + 1:064x}" for i in range(max(args.clients))]
        with transaction() as tx:
            for pubkey in pubkeys:
                ensure_identity(tx, pubkey)
                tx.execute(
                    "UPDATE nostr_identities SET trust_score = :s WHERE pubkey = :pk",
                    s=elite,
                    pk=pubkey,
                )

        def decide(i: int) -> None:
            assert freetier.decide(pubkeys[i], 1).serve == "free"

        def bare(_: int) -> None:
            db().execute("UPDATE bench_hot_row SET n = n - 1 WHERE id = 1")

        print(f"{'clients':>7}  {'decide/s':>9}  {'bare UPDATE/s':>13}  ratio")
        for clients in args.clients:
            bare_rate = run_clients(clients, args.seconds, bare)
            decide_rate = run_clients(clients, args.seconds, decide)
            print(
                f"{clients:>7}  {decide_rate:9.0f}  {bare_rate:13.0f}  "
                f"{decide_rate / bare_rate:5.2f}"
            )
        balance = freetier.pool_status().balance_sats
        assert balance >= 0
        print(f"pool balance after the run: {balance} (never negative)")


if __name__ == "__main__":
    main()
