"""Cold start per function: import + first invocation in a fresh interpreter.

For every function in template.yaml, a new Python process imports the handler module by path
(as Lambda does from the function folder, with the layer on sys.path) and invokes it once with
its sample from events/, made to reach the function's success path: before each timed run this
script drives the handlers in its own process (a job created and paid and moved through its
steps, a session opened and paid, a bootstrap job paid, a Nostr login...) and puts the real ids,
tokens and invoices into the sample. The result column shows what the timed call answered
(the HTTP status, or "ok" for a step that returned). AWS APIs are served by a moto server on
loopback and the database is the embedded PostgreSQL, both prepared before anything is timed.

Usage: .venv/bin/python bench/cold_start.py [--runs 5] [FunctionLogicalId ...]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "core"), str(ROOT / "tests")]

TARGET_MS = 300

# Development packages that libraries of the layer import when they happen to be installed
# (httpx loads its command line, and rich and pygments with it, for ~100 ms): the Lambda
# layer (layers/core/requirements.txt) has none of them, so the child hides them.
NOT_IN_LAYER = ("click", "rich", "pygments")

CHILD = r"""
import json, sys, time, uuid
start = time.perf_counter()
start_cpu = time.process_time()
sys.modules.update({name: None for name in sys.argv[6].split(",")})
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import importlib.util
spec = importlib.util.spec_from_file_location("app", sys.argv[3])
module = importlib.util.module_from_spec(spec)
sys.modules["app"] = module
spec.loader.exec_module(module)
imported = time.perf_counter()
imported_cpu = time.process_time()
handler = getattr(module, sys.argv[4])
event = json.loads(open(sys.argv[5]).read())
class Context:
    function_name = "bench"; aws_request_id = str(uuid.uuid4()); memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    function_version = "$LATEST"
    def get_remaining_time_in_millis(self): return 30000
status = "ok"
try:
    result = handler(event, Context())
    if isinstance(result, dict) and "statusCode" in result:
        status = str(result["statusCode"])
except Exception as error:
    status = type(error).__name__
done = time.perf_counter()
done_cpu = time.process_time()
print(json.dumps({"import_ms": (imported - start) * 1000, "total_ms": (done - start) * 1000,
                  "import_cpu_ms": (imported_cpu - start_cpu) * 1000,
                  "total_cpu_ms": (done_cpu - start_cpu) * 1000, "status": status}))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare(data_dir: Path) -> dict[str, str]:
    """Database migrated, moto server up with the template's state machines; returns env."""
    import boto3
    from moto.server import ThreadedMotoServer

    from local.stack import LOCAL_DEFAULTS, LocalStack, start_embedded_postgres
    from local.template import Template
    from timmy.db.connection import open_connection
    from timmy.db.migrate import apply_migrations
    from timmy.settings import CoreSettings

    url = os.environ.get("DATABASE_URL") or start_embedded_postgres(data_dir)
    conn = open_connection(CoreSettings(database_url=url))
    apply_migrations(conn)
    conn.close()

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    template = Template(ROOT / "template.yaml", {"Stage": "local", "DevMode": "true"})
    env = {
        "DATABASE_URL": url,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_METRICS_NAMESPACE": "Timmy",
        **LOCAL_DEFAULTS,
    }
    for spec in template.functions().values():
        env.update(spec.environment)
    client = boto3.client(
        "stepfunctions",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106 - a placeholder for moto
    )
    for machine in template.state_machines():
        arn = LocalStack.create_state_machine(client, machine.logical_id, machine.definition)
        for key, value in list(env.items()):
            if value.endswith(f":stateMachine:{machine.logical_id}"):
                env[key] = arn
    return env


class Driver:
    """Runs the handlers in this process, as a client and the workflow would, to put the
    database in the state each function's success path needs; every run gets its own job,
    session or bootstrap job, since most successes happen once (a refund, a withdrawal)."""

    def __init__(self, template: Any) -> None:
        self._specs = template.functions()
        self._handlers: dict[str, Any] = {}
        self._node_key = os.urandom(32)  # "another node": the payee of refunds and withdrawals
        self._nostr: Any = None

    # -- plumbing

    def handler(self, name: str) -> Any:
        if name not in self._handlers:
            spec = self._specs[name]
            module_spec = importlib.util.spec_from_file_location(f"bench_{name}", spec.module_file)
            if module_spec is None or module_spec.loader is None:
                raise RuntimeError(f"cannot load {spec.module_file}")
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[module_spec.name] = module  # pydantic resolves annotations through it
            module_spec.loader.exec_module(module)
            self._handlers[name] = getattr(module, spec.handler_name)
        return self._handlers[name]

    def http(self, name: str, **overrides: Any) -> tuple[int, Any]:
        answer = self.handler(name)(http_event(name, **overrides), Context())
        return int(answer["statusCode"]), json.loads(answer["body"] or "null")

    def step(self, name: str, **fields: Any) -> Any:
        return self.handler(name)({**sample(name), **fields}, Context())

    def pay(self, payment_hash: str) -> None:
        status, body = self.http("DevStubPayFunction", path={"payment_hash": payment_hash})
        expect(status == 200, body)

    def foreign_invoice(self, amount_sats: int) -> str:
        from timmy.lightning.bolt11 import encode_invoice
        from timmy.settings import core

        return encode_invoice(
            payment_hash=os.urandom(32),
            amount_sats=amount_sats,
            description="cold-start bench",
            expiry=3600,
            signing_key=self._node_key,
            network=core().lightning_network,
        )

    # -- states

    def job(self, until: str = "created") -> str:
        """A job, moved through the workflow's steps ``until`` the named point."""
        status, created = self.http("CreateJobFunction")
        expect(status == 201, created)
        job_id = created["job_id"]
        order = ["created", "eval_paid", "evaluated", "priced", "work_paid", "executed", "settled"]
        for point in order[1 : order.index(until) + 1]:
            if point == "eval_paid":
                self.pay(created["eval_invoice"]["payment_hash"])
            elif point == "evaluated":
                evaluated = self.step("JobEvaluateFunction", job_id=job_id)
                expect(evaluated["accepted"], evaluated)
            elif point == "priced":
                self._work_hash = self.step("JobPriceWorkFunction", job_id=job_id)["payment_hash"]
            elif point == "work_paid":
                self.pay(self._work_hash)
            elif point == "executed":
                self.step("JobExecuteFunction", job_id=job_id)
            elif point == "settled":
                self.step("JobSettleFunction", job_id=job_id)
        return str(job_id)

    def session(self) -> tuple[str, str]:
        """An active session and its macaroon."""
        status, created = self.http("CreateSessionFunction")
        expect(status == 201, created)
        self.pay(created["invoice"]["payment_hash"])
        session_id = created["session_id"]
        status, view = self.http("GetSessionFunction", path={"session_id": session_id})
        expect(status == 200 and view["macaroon"], view)
        return str(session_id), str(view["macaroon"])

    def bootstrap(self, steps: Sequence[str] = ()) -> str:
        """A paid bootstrap job, its workflow's ``steps`` already run."""
        status, created = self.http("CreateBootstrapFunction")
        expect(status == 201, created)
        self.pay(created["invoice"]["payment_hash"])
        job_id = str(created["bootstrap_job_id"])
        for name in steps:
            self.step(name, job_id=job_id)
        return job_id

    def login(self) -> tuple[dict[str, Any], str]:
        """A signed answer to a fresh challenge, and a token from an earlier login."""
        if self._nostr is None:
            from nostr_keys import NostrKey

            self._nostr = NostrKey()
            status, challenge = self.http("IdentityChallengeFunction")
            event = self._nostr.sign_event(1, challenge["nonce"])
            status, login = self.http("IdentityVerifyFunction", body={"event": event})
            expect(status == 200, login)
            self._token = str(login["nostr_token"])
        status, challenge = self.http("IdentityChallengeFunction")
        expect(status == 200, challenge)
        return {"event": self._nostr.sign_event(1, challenge["nonce"])}, self._token

    def event_for(self, name: str) -> dict[str, Any]:
        """The event of one timed invocation of ``name``: its sample, made to succeed."""
        if name in PREPARED:
            return PREPARED[name](self)
        return sample(name)


def _pending_invoice(driver: Driver) -> str:
    status, created = driver.http("CreateJobFunction")
    expect(status == 201, created)
    return str(created["eval_invoice"]["payment_hash"])


def _refund(driver: Driver) -> dict[str, Any]:
    job_id = driver.job("settled")
    status, view = driver.http("GetJobFunction", path={"job_id": job_id})
    expect(status == 200 and view["refundable_sats"] > 0, view)
    invoice = driver.foreign_invoice(int(view["refundable_sats"]))
    return http_event("RefundJobFunction", path={"job_id": job_id}, body={"invoice": invoice})


def _withdraw(driver: Driver) -> dict[str, Any]:
    session_id, macaroon = driver.session()
    _, view = driver.http("GetSessionFunction", path={"session_id": session_id})
    invoice = driver.foreign_invoice(int(view["withdrawable_sats"]) // 2)
    return http_event(
        "SessionWithdrawFunction",
        path={"session_id": session_id},
        body={"invoice": invoice},
        headers={"authorization": f"Bearer {macaroon}"},
    )


def _session_request(driver: Driver) -> dict[str, Any]:
    session_id, macaroon = driver.session()
    return http_event(
        "SessionRequestFunction",
        path={"session_id": session_id},
        headers={"authorization": f"Bearer {macaroon}"},
    )


def _verify(driver: Driver) -> dict[str, Any]:
    body, _ = driver.login()
    return http_event("IdentityVerifyFunction", body=body)


def _me(driver: Driver) -> dict[str, Any]:
    _, token = driver.login()
    return http_event("IdentityMeFunction", headers={"x-nostr-token": token})


def _bootstrap_step(name: str, before: Sequence[str], **fields: Any) -> Any:
    return lambda driver: {**sample(name), **fields, "job_id": driver.bootstrap(before)}


_KEYS = ["BootstrapGenerateKeyFunction"]
_UPLOADED = [*_KEYS, "BootstrapUploadKeyFunction", "BootstrapTailscaleKeyFunction"]
_DROPLET = [*_UPLOADED, "BootstrapCreateDropletFunction"]

PREPARED: dict[str, Callable[[Driver], dict[str, Any]]] = {
    "GetJobFunction": lambda d: http_event("GetJobFunction", path={"job_id": d.job()}),
    "RefundJobFunction": _refund,
    "DevStubPayFunction": lambda d: http_event(
        "DevStubPayFunction", path={"payment_hash": _pending_invoice(d)}
    ),
    "LightningWebhookFunction": lambda d: http_event(
        "LightningWebhookFunction", body={"payment_hash": _pending_invoice(d)}
    ),
    "PaymentWaitFunction": lambda d: {
        **sample("PaymentWaitFunction"),
        "payment_hash": _pending_invoice(d),
    },
    "PaymentExpireFunction": lambda d: {"payment_hash": _pending_invoice(d)},
    "GetSessionFunction": lambda d: http_event(
        "GetSessionFunction", path={"session_id": d.session()[0]}
    ),
    "SessionTopupFunction": lambda d: http_event(
        "SessionTopupFunction", path={"session_id": d.session()[0]}
    ),
    "SessionRequestFunction": _session_request,
    "SessionWithdrawFunction": _withdraw,
    "IdentityVerifyFunction": _verify,
    "IdentityMeFunction": _me,
    "GetBootstrapFunction": lambda d: http_event(
        "GetBootstrapFunction", path={"job_id": d.bootstrap()}
    ),
    "JobEvaluateFunction": lambda d: {"job_id": d.job("eval_paid")},
    "JobPriceWorkFunction": lambda d: {"job_id": d.job("evaluated")},
    "JobExecuteFunction": lambda d: {"job_id": d.job("work_paid")},
    "JobSettleFunction": lambda d: {"job_id": d.job("executed")},
    "JobRecordTrustFunction": lambda d: {"job_id": d.job("settled")},
    "JobExpireFunction": lambda d: {"job_id": d.job()},
    "JobFailFunction": lambda d: {**sample("JobFailFunction"), "job_id": d.job("evaluated")},
    "BootstrapGenerateKeyFunction": _bootstrap_step("BootstrapGenerateKeyFunction", []),
    "BootstrapUploadKeyFunction": _bootstrap_step("BootstrapUploadKeyFunction", _KEYS),
    "BootstrapTailscaleKeyFunction": _bootstrap_step("BootstrapTailscaleKeyFunction", _KEYS),
    "BootstrapCreateDropletFunction": _bootstrap_step("BootstrapCreateDropletFunction", _UPLOADED),
    "BootstrapPollDropletFunction": _bootstrap_step("BootstrapPollDropletFunction", _DROPLET),
    "BootstrapCleanupFunction": _bootstrap_step("BootstrapCleanupFunction", _DROPLET),
    "BootstrapRecordFailureFunction": _bootstrap_step("BootstrapRecordFailureFunction", _DROPLET),
}


def expect(condition: object, answer: object) -> None:
    """Preparing a state went wrong: say what the handler answered (asserts vanish with -O)."""
    if not condition:
        raise RuntimeError(f"preparing the bench failed: {answer!r}")


def sample(name: str) -> dict[str, Any]:
    return dict(json.loads((ROOT / "events" / f"{name}.json").read_text()))


def http_event(
    name: str,
    *,
    path: dict[str, str] | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The function's sample HTTP API event with its path parameters, body or headers set."""
    event = sample(name)
    if path is not None:
        raw_path = event["routeKey"].split(" ", 1)[1].format(**path)
        event["rawPath"] = event["requestContext"]["http"]["path"] = raw_path
        event["pathParameters"] = path
    if body is not None:
        event["body"] = json.dumps(body)
    if headers is not None:
        event["headers"] = {**event["headers"], **headers}
    return event


class Context:
    function_name = "bench"
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    function_version = "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return 30000


Row = tuple[str, float, float, float, float, str]


def measure(runs: int, only: Sequence[str] = ()) -> list[Row]:
    from local.template import Template

    template = Template(ROOT / "template.yaml", {"Stage": "local", "DevMode": "true"})
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, **prepare(Path(tmp) / "pg")}
        # The driver runs the handlers here, against the same database and moto server.
        os.environ.update(env)
        from timmy.runtime import reset_caches

        reset_caches()
        logging.getLogger("timmy").setLevel(logging.WARNING)  # the driver's own calls: quiet
        driver = Driver(template)
        rows = []
        for name, spec in sorted(template.functions().items()):
            if only and name not in only:
                continue
            if not (ROOT / "events" / f"{name}.json").exists():
                continue
            imports, totals, cpu_imports, cpu_totals, status = [], [], [], [], ""
            # As in Lambda (which also sets AWS_LAMBDA_FUNCTION_NAME and the credentials).
            run_env = {**env, "AWS_LAMBDA_FUNCTION_NAME": name}
            for _ in range(runs):
                event_file = Path(tmp) / f"{name}.json"
                event_file.write_text(json.dumps(driver.event_for(name)))
                out = subprocess.run(
                    [
                        sys.executable,
                        "-c",
                        CHILD,
                        str(spec.code_dir),
                        str(ROOT / "layers" / "core"),
                        str(spec.module_file),
                        spec.handler_name,
                        str(event_file),
                        ",".join(NOT_IN_LAYER),
                    ],
                    env=run_env,
                    capture_output=True,
                    text=True,
                    check=True,
                    timeout=120,
                )
                figures = json.loads(out.stdout.strip().splitlines()[-1])
                imports.append(figures["import_ms"])
                totals.append(figures["total_ms"])
                cpu_imports.append(figures["import_cpu_ms"])
                cpu_totals.append(figures["total_cpu_ms"])
                status = figures["status"]
            medians = [statistics.median(x) for x in (imports, totals, cpu_imports, cpu_totals)]
            rows.append((name, *medians, status))
        return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("functions", nargs="*", help="only these (logical ids)")
    args = parser.parse_args()
    rows = measure(args.runs, args.functions)
    width = max(len(r[0]) for r in rows)
    # CPU time is printed beside wall time: on a shared machine it is the steadier figure.
    print(
        f"{'function':<{width}}  import ms  import+call ms  (cpu: import  import+call)  result"
        f"  (median of {args.runs})"
    )
    for name, imported, total, cpu_imported, cpu_total, status in rows:
        flag = "" if total < TARGET_MS else f"  over {TARGET_MS} ms"
        print(
            f"{name:<{width}}  {imported:9.0f}  {total:13.0f}  {cpu_imported:13.0f}"
            f"  {cpu_total:11.0f}  {status:>6}{flag}"
        )


if __name__ == "__main__":
    main()
