"""Free-tier decisions per second against the embedded PostgreSQL, next to the physical limit
of a single hot row: the same server doing bare ``UPDATE … SET n = n - 1`` on one row.

Each client is a thread with its own connection. A decision is the full ``freetier.decide``
(trust tier read with lazy decay, then the one-statement reservation on the pool row) for an
elite identity of its own, against a pool large enough to stay on the free path.

The mixed workload is what production does to the pool row: of every three operations a
client runs, two are decisions and one gives sats back (a release and a credit in one
transaction, as a job's or a request's settlement does). Its rate counts every pool
transaction; the pool's balance is checked against what the run took and gave back.

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
        from timmy.identity.service import ensure_identity
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

        operations = [0] * len(pubkeys)
        decided = [0] * len(pubkeys)
        given_back = [0] * len(pubkeys)

        def decide(i: int) -> None:
            assert freetier.decide(pubkeys[i], 1).serve == freetier.Serve.FREE
            decided[i] += 1

        def mixed(i: int) -> None:
            operations[i] += 1
            if operations[i] % 3:
                decide(i)
                return
            with transaction() as tx:
                freetier.release_reservation(1, pubkeys[i], "bench", tx=tx)
                given_back[i] += 1 + freetier.credit(10, tx=tx)

        def bare(_: int) -> None:
            db().execute("UPDATE bench_hot_row SET n = n - 1 WHERE id = 1")

        start_balance = freetier.pool_status().balance_sats
        print(
            f"{'clients':>7}  {'bare UPDATE/s':>13}  {'decide/s':>9}  ratio  {'mixed/s':>9}  ratio"
        )
        for clients in args.clients:
            bare_rate = run_clients(clients, args.seconds, bare)
            decide_rate = run_clients(clients, args.seconds, decide)
            mixed_rate = run_clients(clients, args.seconds, mixed)
            print(
                f"{clients:>7}  {bare_rate:13.0f}  {decide_rate:9.0f}  "
                f"{decide_rate / bare_rate:5.2f}  {mixed_rate:9.0f}  {mixed_rate / bare_rate:5.2f}"
            )
        balance = freetier.pool_status().balance_sats
        assert balance == start_balance - sum(decided) + sum(given_back)
        print(f"pool balance after the run: {balance} (every sat accounted for)")


if __name__ == "__main__":
    main()
