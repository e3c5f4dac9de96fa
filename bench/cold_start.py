"""Cold start per function: import + first invocation in a fresh interpreter.

For every function in template.yaml, a new Python process imports the handler module by path
(as Lambda does from the function folder, with the layer on sys.path) and invokes it once with
its sample from events/. AWS APIs are served by a moto server on loopback and the database is
the embedded PostgreSQL, both prepared by this script before anything is timed.

Usage: .venv/bin/python bench/cold_start.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "core")]

TARGET_MS = 300

CHILD = r"""
import json, sys, time, uuid
start = time.perf_counter()
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import importlib.util
spec = importlib.util.spec_from_file_location("app", sys.argv[3])
module = importlib.util.module_from_spec(spec)
sys.modules["app"] = module
spec.loader.exec_module(module)
imported = time.perf_counter()
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
print(json.dumps({"import_ms": (imported - start) * 1000, "total_ms": (done - start) * 1000,
                  "status": status}))
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


def measure(runs: int) -> list[tuple[str, float, float, str]]:
    from local.template import Template

    template = Template(ROOT / "template.yaml", {"Stage": "local", "DevMode": "true"})
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, **prepare(Path(tmp) / "pg")}
        rows = []
        for name, spec in sorted(template.functions().items()):
            sample = ROOT / "events" / f"{name}.json"
            if not sample.exists():
                continue
            imports, totals, status = [], [], ""
            # As in Lambda (which also sets AWS_LAMBDA_FUNCTION_NAME and the credentials).
            run_env = {**env, "AWS_LAMBDA_FUNCTION_NAME": name}
            for _ in range(runs):
                out = subprocess.run(
                    [
                        sys.executable,
                        "-c",
                        CHILD,
                        str(spec.code_dir),
                        str(ROOT / "layers" / "core"),
                        str(spec.module_file),
                        spec.handler_name,
                        str(sample),
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
                status = figures["status"]
            rows.append((name, statistics.median(imports), statistics.median(totals), status))
        return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rows = measure(args.runs)
    width = max(len(r[0]) for r in rows)
    print(
        f"{'function':<{width}}  import ms  import+first call ms  result  (median of {args.runs})"
    )
    for name, imported, total, status in rows:
        flag = "" if total < TARGET_MS else f"  over {TARGET_MS} ms"
        print(f"{name:<{width}}  {imported:9.0f}  {total:20.0f}  {status:>6}{flag}")


if __name__ == "__main__":
    main()
