"""Nostr verification throughput on one core, against the raw coincurve verify rate.

Rows (each a bounded loop over pre-signed events; signing is never timed):

- raw coincurve: ``PublicKeyXOnly(pk).verify(sig, id)`` alone — the ceiling.
- crypto path: JSON dict → ``parse_event`` → recompute the NIP-01 id → BIP-340 verify →
  freshness; no database.
- full verify: ``verify_signed_challenge`` — the crypto path plus consuming the nonce, the
  identity sighting (decay + last_seen) in PostgreSQL, and issuing the nostr_token.
- full verify, HTTP: the same through the local gateway over loopback (handler, routing,
  validation, JSON), one client thread.
- NIP-98, HTTP: ``Authorization: Nostr …`` header → token, with replay protection.

The database is the embedded PostgreSQL (a temporary directory unless DATABASE_URL is set).

Usage: .venv/bin/python bench/identity.py [--n 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "core"), str(ROOT / "tests")]

MAX_N = 20_000


def rate(label: str, items: Sequence[Any], run: Callable[[Any], object]) -> tuple[str, float]:
    started = time.perf_counter()
    for item in items:
        run(item)
    elapsed = time.perf_counter() - started
    return label, len(items) / elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000, help=f"events per row (max {MAX_N})")
    args = parser.parse_args()
    n = max(10, min(args.n, MAX_N))

    import httpx
    from coincurve import PublicKeyXOnly
    from nostr_keys import NostrKey

    from local.gateway import serve_in_thread
    from local.stack import LocalStack, start_embedded_postgres
    from timmy.identity import login
    from timmy.nostr.events import parse_event, verify_event

    with tempfile.TemporaryDirectory(prefix="timmy-bench-identity-") as tmp:
        url = os.environ.get("DATABASE_URL") or start_embedded_postgres(Path(tmp) / "pg")
        stack = LocalStack(database_url=url).start()
        server, base = serve_in_thread(stack)
        try:
            keys = [NostrKey() for _ in range(50)]
            now = int(time.time())

            def signed_challenges(count: int) -> list[dict[str, Any]]:
                return [
                    keys[i % len(keys)].sign_event(22242, login.issue_challenge().nonce)
                    for i in range(count)
                ]

            rows: list[tuple[str, float]] = []

            crypto_events = [keys[i % len(keys)].sign_event(22242, "ab" * 32) for i in range(n)]
            raw = [
                (
                    PublicKeyXOnly(bytes.fromhex(e["pubkey"])),
                    bytes.fromhex(e["sig"]),
                    bytes.fromhex(e["id"]),
                )
                for e in crypto_events
            ]
            rows.append(rate("raw coincurve verify", raw, lambda r: r[0].verify(r[1], r[2])))

            def crypto_path(event: dict[str, Any]) -> None:
                verify_event(
                    parse_event(event), now=now, max_age_seconds=300, max_future_seconds=60
                )

            rows.append(rate("crypto path (parse+id+sig)", crypto_events, crypto_path))

            full = signed_challenges(n)
            rows.append(
                rate("full verify (+ Postgres)", full, lambda e: login.verify_signed_challenge(e))
            )

            http_n = max(10, n // 4)
            verify_url = f"{base}/api/identity/verify"
            with httpx.Client(timeout=30) as client:
                bodies = [json.dumps({"event": e}).encode() for e in signed_challenges(http_n)]

                def over_http(body: bytes) -> None:
                    response = client.post(
                        verify_url, content=body, headers={"Content-Type": "application/json"}
                    )
                    assert response.status_code == 200, response.text

                rows.append(rate("full verify, HTTP loopback", bodies, over_http))

                # One key per header: two NIP-98 events by one key for the same request within
                # the same second are the same event, and the second is (rightly) a replay.
                headers = [NostrKey().nip98_header(verify_url, "POST") for _ in range(http_n)]

                def nip98(header: str) -> None:
                    response = client.post(
                        verify_url, headers={"Authorization": header, "X-Forwarded-Proto": "http"}
                    )
                    assert response.status_code == 200, response.text

                rows.append(rate("NIP-98, HTTP loopback", headers, nip98))
        finally:
            server.shutdown()
            server.server_close()
            stack.stop()

    ceiling = rows[0][1]
    print(f"Nostr verification, single core, n={n} (HTTP rows n={http_n})")
    print(f"{'path':<30} {'verifs/s':>10} {'vs raw':>8}")
    for label, per_second in rows:
        print(f"{label:<30} {per_second:>10.0f} {per_second / ceiling:>8.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
