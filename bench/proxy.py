"""What ``/v1/chat/completions`` adds over calling the same upstream directly.

A fake OpenAI-compatible upstream (a loopback HTTP server answering every completion at once,
in OpenAI's shape with ``usage``) is called three ways, in turn, one request at a time:

* **direct**: POST ``<fake>/v1/chat/completions``;
* **through Timmy, account**: POST ``/v1/chat/completions`` to the local stack (``make dev``'s
  gateway, the function in its own warm worker process, the embedded PostgreSQL), paid with an
  account token (``Authorization: Bearer tmy_…``), with ``AI_PROVIDER=openai`` pointed at the
  fake;
* **through Timmy, L402**: the same request paid with an L402 credential, got as lnget gets
  one: the unpaid POST's 402 challenge (``l402.macaroon``, ``l402.invoice``), the invoice paid
  with ``POST /api/dev/wallet/pay`` (its ``preimage``), then ``Authorization: L402
  <macaroon>:<preimage>`` on every request. A credential holds what its invoice paid, at least
  ``L402_MIN_SATS``, set here to the most it allows so one credential pays every request; were
  it spent, the 402 would be paid and the request sent again outside the timing (so only paid
  requests are timed).

Through Timmy a completion is: validate, authenticate the payer (the account token: one read;
the L402 credential: decode it, check the preimage, one read for the token's root key, the
HMAC chain and the caveats), price, hold the maximum cost (one transaction: the ledger row +
the request row), call the upstream, settle (one transaction: the outcome, the release of the
rest, the pool's credit). The overhead is the difference from the direct latency; reported p50
and p99 for each payer, target p50 ≤ 5 ms.
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
PROXIED = "/v1/chat/completions"
L402_MIN_SATS = 1_000_000  # the most L402Settings allows: one credential pays every request
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
        "L402_MIN_SATS": str(L402_MIN_SATS),
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


class L402Credential:
    """An L402 credential held as lnget holds one: paid once, sent on every request."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.payments = 0
        self.paid_sats = 0
        self.balance_sats = 0  # the current credential's, after the last request
        self.headers = self.pay(client.post(PROXIED, json=BODY))

    def pay(self, challenge: httpx.Response) -> dict[str, str]:
        """Pay a 402's challenge with the dev wallet; the Authorization it buys."""
        if challenge.status_code != 402:
            raise RuntimeError(f"no challenge: {challenge.status_code} {challenge.text}")
        l402 = challenge.json()["l402"]
        paid = self.client.post("/api/dev/wallet/pay", json={"invoice": l402["invoice"]})
        if paid.status_code != 200:
            raise RuntimeError(f"dev wallet: {paid.status_code} {paid.text}")
        self.payments += 1
        self.paid_sats += int(l402["amount_sats"])
        self.balance_sats = int(l402["amount_sats"])
        return {"Authorization": f"L402 {l402['macaroon']}:{paid.json()['preimage']}"}

    def timed(self) -> float:
        """One paid completion's latency; a 402 (the credential spent) is paid, untimed, and
        the request sent again."""
        while True:
            started = time.perf_counter()
            response = self.client.post(PROXIED, json=BODY, headers=self.headers)
            elapsed = time.perf_counter() - started
            if response.status_code == 200:
                self.balance_sats = int(response.headers["x-timmy-balance-sats"])
                return elapsed
            if response.status_code != 402:
                raise RuntimeError(f"{PROXIED}: {response.status_code} {response.text}")
            self.headers = self.pay(response)


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
        l402 = L402Credential(timmy)
        direct_url = f"{upstream}/chat/completions"
        for _ in range(20):  # warm: the worker's imports, its connection, both sockets
            timed(raw, direct_url, {})
            timed(timmy, PROXIED, headers)
            l402.timed()  # the first use also asks the backend whether the invoice is paid
        for _ in range(20):
            hop(timmy)
        direct: list[float] = []
        proxied: list[float] = []
        proxied_l402: list[float] = []
        floor: list[float] = []
        for _ in range(count):  # in turn, so all see the same machine
            direct.append(timed(raw, direct_url, {}))
            proxied.append(timed(timmy, PROXIED, headers))
            proxied_l402.append(l402.timed())
            floor.append(hop(timmy))
        balance = timmy.get("/api/v1/account", headers=headers).json()["balance_sats"]

    print(f"{count} completions each way, one at a time")
    print(f"{'':<30} {'p50':>9} {'p99':>9}")
    for name, values in (
        ("direct to the upstream", direct),
        ("through Timmy, account", proxied),
        ("through Timmy, L402", proxied_l402),
    ):
        print(f"{name:<30} {percentile_ms(values, 50):>7.2f}ms {percentile_ms(values, 99):>7.2f}ms")
    for name, values in (("overhead, account", proxied), ("overhead, L402", proxied_l402)):
        print(
            f"{name:<30} {percentile_ms(values, 50) - percentile_ms(direct, 50):>7.2f}ms"
            f" {percentile_ms(values, 99) - percentile_ms(direct, 99):>7.2f}ms"
            "   (target p50 <= 5 ms)"
        )
    print(
        f"{'of which the stack hop':<30} {percentile_ms(floor, 50):>7.2f}ms"
        f" {percentile_ms(floor, 99):>7.2f}ms   (GET /v1/models: gateway + worker, no database)"
    )
    print(
        f"account: charged {1_000_000 - balance} sats for {count + 20} completions"
        " (1 sat minimum each)"
    )
    print(
        f"L402: {l402.payments} credential(s) paid, {l402.paid_sats} sats; the last one has"
        f" {l402.balance_sats} sats left after {count + 20} completions"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
