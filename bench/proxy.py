"""What ``/v1/chat/completions`` adds over calling the same upstream directly.

A fake OpenAI-compatible upstream (a loopback HTTP server answering every completion at once,
in OpenAI's shape with ``usage``) is called two ways, alternately, one request at a time:

* **direct**: POST ``<fake>/v1/chat/completions``;
* **through Timmy**: POST ``/v1/chat/completions`` to the local stack (``make dev``'s gateway,
  the function in its own warm worker process, the embedded PostgreSQL), paid with an account
  token (``Authorization: Bearer tmy_…``), with ``AI_PROVIDER=openai`` pointed at the fake.

Through Timmy a completion is: validate, authenticate the token (one read), price, hold the
maximum cost (one transaction: the ledger row + the request row), call the upstream, settle
(one transaction: the outcome, the release of the rest, the pool's credit). The overhead is
the difference of the two latencies; reported p50 and p99, target p50 ≤ 5 ms. L402
credentials are measured once they exist (the same path, another payer).
Usage: .venv/bin/python bench/proxy.py [--requests N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "core")]

import httpx  # noqa: E402

MODEL = "gpt-4o-mini"
BODY = {
    "model": MODEL,
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Summarise the benefits of Lightning in one line."},
    ],
    "max_tokens": 64,
}
ANSWER = json.dumps(
    {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Instant, cheap, final payments."},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 30, "completion_tokens": 7, "total_tokens": 37},
    }
).encode()


class FakeUpstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *_args: Any) -> None:
        return

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(ANSWER)))
        self.end_headers()
        self.wfile.write(ANSWER)


@contextmanager
def fake_upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeUpstream)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def local_stack(upstream_url: str) -> Iterator[str]:
    """A fresh database, the local stack with the OpenAI provider on the fake, its gateway."""
    import pg8000.native

    from local.gateway import serve_in_thread
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
    environment = {
        "AI_PROVIDER": "openai",
        "AI_MODEL": MODEL,
        "OPENAI_BASE_URL": upstream_url,
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    os.environ.update(environment)
    stack = LocalStack(database_url=url, extra_env=environment).start()
    server, gateway = serve_in_thread(stack)
    try:
        yield gateway
    finally:
        server.shutdown()
        server.server_close()
        stack.stop()
        reset_connection()
        admin.run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def funded_token(client: httpx.Client, amount_sats: int) -> str:
    """A new account, topped up with the dev wallet and claimed, the way a user does it."""
    challenge = client.post("/api/v1/topup", json={"amount_sats": amount_sats}).json()
    paid = client.post("/api/dev/wallet/pay", json={"invoice": challenge["invoice"]}).json()
    token = str(challenge["token"])
    claimed = client.post(
        "/api/v1/topup/claim", json={"preimage": paid["preimage"]}, headers={"X-Token": token}
    )
    assert claimed.json()["balance_sats"] == amount_sats, claimed.text
    return token


def timed(client: httpx.Client, url: str, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    response = client.post(url, json=BODY, headers=headers)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"{url}: {response.status_code} {response.text}")
    return elapsed


def hop(client: httpx.Client) -> float:
    """GET /v1/models: the local stack's own hop (gateway, event, worker), no database."""
    started = time.perf_counter()
    response = client.get("/v1/models")
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    return elapsed


def percentile_ms(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index] * 1000


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500, help="requests each way")
    args = parser.parse_args()
    count = max(10, min(args.requests, 20_000))
    with (
        fake_upstream() as upstream,
        local_stack(upstream) as gateway,
        httpx.Client(base_url=gateway, timeout=60) as timmy,
        httpx.Client(timeout=60) as raw,
    ):
        token = funded_token(timmy, 1_000_000)
        headers = {"Authorization": f"Bearer {token}"}
        direct_url, proxied_url = f"{upstream}/chat/completions", "/v1/chat/completions"
        for _ in range(20):  # warm: the worker's imports, its connection, both sockets
            timed(raw, direct_url, {})
            timed(timmy, proxied_url, headers)
        for _ in range(20):
            hop(timmy)
        direct: list[float] = []
        proxied: list[float] = []
        floor: list[float] = []
        for _ in range(count):  # alternately, so all see the same machine
            direct.append(timed(raw, direct_url, {}))
            proxied.append(timed(timmy, proxied_url, headers))
            floor.append(hop(timmy))
        balance = timmy.get("/api/v1/account", headers=headers).json()["balance_sats"]

    print(f"{count} completions each way, one at a time, account-token credentials")
    print(f"{'':<24} {'p50':>9} {'p99':>9}")
    for name, values in (("direct to the upstream", direct), ("through Timmy", proxied)):
        print(f"{name:<24} {percentile_ms(values, 50):>7.2f}ms {percentile_ms(values, 99):>7.2f}ms")
    print(
        f"{'overhead':<24} {percentile_ms(proxied, 50) - percentile_ms(direct, 50):>7.2f}ms"
        f" {percentile_ms(proxied, 99) - percentile_ms(direct, 99):>7.2f}ms"
        "   (target p50 <= 5 ms)"
    )
    print(
        f"{'of which the stack hop':<24} {percentile_ms(floor, 50):>7.2f}ms"
        f" {percentile_ms(floor, 99):>7.2f}ms   (GET /v1/models: gateway + worker, no database)"
    )
    print(f"charged {1_000_000 - balance} sats for {count + 20} completions (1 sat minimum each)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
