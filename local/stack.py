"""The Docker-free local stack: embedded PostgreSQL, moto (Step Functions with its ASL
interpreter, Secrets Manager, SSM) and the real handlers called in-process.

Lambda tasks in state machines reach the in-process handlers through one internal seam of
moto: the ``boto_client_for`` function its ASL interpreter uses to build the ``lambda`` client.
moto is pinned in pyproject.toml and ``tests/integration/test_local_stack.py`` fails loudly
if the seam moves.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from local.template import FunctionSpec, Route, Template, function_arn

logger = logging.getLogger("local")

ROOT = Path(__file__).resolve().parent.parent
LOCAL_PARAMETERS = {"Stage": "local", "DevMode": "true"}
# Embedded defaults of the local stack (the user's environment wins): nothing waits on a
# network that may be unreachable.
LOCAL_DEFAULTS = {"BTC_PRICE_FIXED_USD": "100000"}

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LambdaContext:
    """What Powertools and our handlers read from the Lambda context object."""

    function_name: str
    aws_request_id: str
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"

    @property
    def invoked_function_arn(self) -> str:
        return function_arn(self.function_name)

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def load_module(path: Path, unique_name: str) -> ModuleType:
    """Import a function's module by file path, so no two ``app.py`` files collide."""
    spec = importlib.util.spec_from_file_location(unique_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    # Registered before running it so pydantic can resolve the module's postponed annotations.
    sys.modules[unique_name] = module
    spec.loader.exec_module(module)
    return module


class ConnectionPool:
    """Database connections of idle "warm containers".

    Each in-process invocation runs on a short-lived thread (a gateway request, a workflow
    step); it borrows a connection here, as a warm Lambda reuses its own, and gives it back, so
    connections are neither opened per call nor left for the garbage collector.
    """

    def __init__(self) -> None:
        self._idle: list[Any] = []
        self._lock = threading.Lock()

    def borrow(self) -> Any:
        with self._lock:
            return self._idle.pop() if self._idle else None

    def give_back(self, conn: Any) -> None:
        if conn is None:
            return
        with self._lock:
            self._idle.append(conn)

    def close_all(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            try:
                conn.close()
            except Exception:  # closing at shutdown: nothing left to do
                logger.debug("closing a pooled connection failed", exc_info=True)


class Functions:
    """The template's functions, imported lazily and invoked in-process."""

    def __init__(self, specs: dict[str, FunctionSpec]) -> None:
        self.specs = specs
        self._modules: dict[Path, ModuleType] = {}
        self._lock = threading.Lock()
        self.connections = ConnectionPool()

    def handler(self, logical_id: str) -> Handler:
        spec = self.specs[logical_id]
        with self._lock:
            module = self._modules.get(spec.module_file)
            if module is None:
                relative = spec.module_file.relative_to(ROOT).with_suffix("")
                module = load_module(spec.module_file, "fn_" + "_".join(relative.parts))
                self._modules[spec.module_file] = module
        handler: Handler = getattr(module, spec.handler_name)
        return handler

    def resolve_name(self, name_or_arn: str) -> str:
        name = name_or_arn.split(":function:", 1)[-1].split(":", 1)[0]
        if name not in self.specs:
            raise KeyError(f"no function {name_or_arn!r} in the template")
        return name

    def invoke(self, name_or_arn: str, event: Any) -> Any:
        from timmy.db.connection import attach_connection, detach_connection

        logical_id = self.resolve_name(name_or_arn)
        context = LambdaContext(logical_id, str(uuid.uuid4()))
        handler = self.handler(logical_id)
        callers_connection = detach_connection()
        attach_connection(self.connections.borrow())
        try:
            return handler(event, context)
        finally:
            self.connections.give_back(detach_connection())
            attach_connection(callers_connection)


class InProcessLambdaClient:
    """Stands in for the boto3 ``lambda`` client inside moto's ASL interpreter."""

    def __init__(self, functions: Functions) -> None:
        self.functions = functions

    def invoke(self, **params: Any) -> dict[str, Any]:
        payload = params.get("Payload") or b"{}"
        if isinstance(payload, bytes | bytearray):
            payload = payload.decode()
        event = json.loads(payload) if isinstance(payload, str) else payload
        try:
            result = self.functions.invoke(params["FunctionName"], event)
        except Exception as error:  # noqa: BLE001 - reported to the workflow like Lambda does
            # Lambda reports the exception class as errorType: that is what ASL Retry/Catch
            # match in ErrorEquals.
            body = {"errorType": type(error).__name__, "errorMessage": str(error)}
            return {
                "StatusCode": 200,
                "FunctionError": "Unhandled",
                "Payload": io.BytesIO(json.dumps(body).encode()),
            }
        return {
            "StatusCode": 200,
            "ExecutedVersion": "$LATEST",
            "Payload": io.BytesIO(json.dumps(result, default=str).encode()),
        }


def install_lambda_seam(functions: Functions) -> Callable[[], None]:
    """Route the ASL interpreter's Lambda invocations to in-process handlers."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    original = lambda_eval_utils.boto_client_for
    client = InProcessLambdaClient(functions)

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        if service == "lambda":
            return client
        return original(region=region, service=service, state_credentials=state_credentials)

    lambda_eval_utils.boto_client_for = boto_client_for

    def uninstall() -> None:
        lambda_eval_utils.boto_client_for = original

    return uninstall


# Concurrency tests open a connection per thread, and several suites (or `make dev` and a
# benchmark) may share one embedded server: PostgreSQL's default of 100 is too tight.
EMBEDDED_MAX_CONNECTIONS = 300


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL server; returns its URL."""
    import pgserver
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(str(data_dir), cleanup_mode="stop")
    if int(server.psql("SHOW max_connections;").split()[2]) < EMBEDDED_MAX_CONNECTIONS:
        server.psql(f"ALTER SYSTEM SET max_connections = {EMBEDDED_MAX_CONNECTIONS};")
        # pg_ctl restart reuses the options pgserver started the server with.
        pg_ctl(["-w", "restart"], pgdata=server.pgdata, user=server.system_user, timeout=30)
    uri: str = server.get_uri()
    return uri


def _reset_timmy_caches() -> None:
    from timmy.db import connection
    from timmy.runtime import reset_caches

    reset_caches()
    connection.reset_connection()


class LocalStack:
    def __init__(
        self,
        *,
        template_path: Path = ROOT / "template.yaml",
        database_url: str | None = None,
        data_dir: Path = ROOT / ".local" / "pgdata",
        parameter_overrides: dict[str, str] | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.template = Template(template_path, {**LOCAL_PARAMETERS, **(parameter_overrides or {})})
        self.functions = Functions(self.template.functions())
        self.routes: list[Route] = self.template.routes()
        self.database_url = database_url
        self.data_dir = data_dir
        self.extra_env = extra_env or {}
        self.state_machine_arns: dict[str, str] = {}
        self._mock: Any = None
        self._uninstall_seam: Callable[[], None] | None = None

    def start(self) -> LocalStack:
        from local import powertools_threads

        started = time.perf_counter()
        powertools_threads.install()
        url = (
            self.database_url
            or os.environ.get("DATABASE_URL")
            or start_embedded_postgres(self.data_dir)
        )
        self._configure_environment(url)
        from timmy.runtime import check_environment

        check_environment(os.environ)  # a bad setting stops `make dev` here, named
        self._start_moto()
        self._create_state_machines()
        self._migrate()
        logger.info("local stack ready in %.1fs", time.perf_counter() - started)
        return self

    def stop(self) -> None:
        self.functions.connections.close_all()
        if self._uninstall_seam is not None:
            self._uninstall_seam()
        if self._mock is not None:
            self._mock.stop()
        _reset_timmy_caches()

    def _configure_environment(self, database_url: str) -> None:
        os.environ["DATABASE_URL"] = database_url
        # moto answers every AWS call; these keep boto3 from looking for real credentials.
        for key, value in {
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "POWERTOOLS_METRICS_NAMESPACE": "Timmy",
            "POWERTOOLS_DEV": "false",
        }.items():
            os.environ.setdefault(key, value)
        # Every handler shares this process, so the functions' environments are merged; the
        # template keeps them consistent. The user's own environment wins.
        for spec in self.functions.specs.values():
            for key, value in spec.environment.items():
                os.environ.setdefault(key, value)
        for key, value in LOCAL_DEFAULTS.items():
            os.environ.setdefault(key, value)
        for key, value in self.extra_env.items():
            os.environ[key] = value
        _reset_timmy_caches()

    def _start_moto(self) -> None:
        from moto import mock_aws

        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._mock.start()
        self._uninstall_seam = install_lambda_seam(self.functions)

    def _create_state_machines(self) -> None:
        import boto3

        client = boto3.client("stepfunctions", region_name="us-east-1")
        for machine in self.template.state_machines():
            arn = self.create_state_machine(client, machine.logical_id, machine.definition)
            self.state_machine_arns[machine.logical_id] = arn

    @staticmethod
    def create_state_machine(client: Any, name: str, definition: str) -> str:
        response = client.create_state_machine(
            name=name,
            definition=definition,
            roleArn="arn:aws:iam::123456789012:role/local-stepfunctions",
            type="STANDARD",
        )
        return str(response["stateMachineArn"])

    def _migrate(self) -> None:
        from timmy.db.connection import open_connection
        from timmy.db.migrate import apply_migrations
        from timmy.freetier import seed_pool

        conn = open_connection()
        try:
            apply_migrations(conn)
        finally:
            conn.close()
        seed_pool()  # first boot

    # -- HTTP ----------------------------------------------------------------------------
    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            params = route.match(method, path)
            if params is not None:
                return route, params
        return None

    def handle_http(
        self,
        method: str,
        raw_path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        *,
        source_ip: str = "127.0.0.1",
    ) -> tuple[int, dict[str, str], bytes]:
        matched = self.match(method, raw_path)
        if matched is None:
            error = {"error": {"code": "route_not_found", "message": "No such route."}}
            return 404, {"content-type": "application/json"}, json.dumps(error).encode()
        route, path_params = matched
        event = http_api_event(
            route, path_params, method, raw_path, query, headers, body, source_ip
        )
        result = self.functions.invoke(route.function, event)
        return _http_result(result)


def http_api_event(
    route: Route,
    path_params: dict[str, str],
    method: str,
    raw_path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    source_ip: str,
) -> dict[str, Any]:
    """An API Gateway HTTP API payload v2.0 event, as API Gateway would send it."""
    from urllib.parse import parse_qsl

    lowered: dict[str, str] = {}
    for key, value in headers.items():
        name = key.lower()
        lowered[name] = f"{lowered[name]},{value}" if name in lowered else value
    query_params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        query_params[key] = f"{query_params[key]},{value}" if key in query_params else value
    now = time.time()
    try:
        text_body: str | None = body.decode("utf-8") if body else None
        is_base64 = False
    except UnicodeDecodeError:
        text_body, is_base64 = base64.b64encode(body).decode(), True
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": lowered,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": lowered.get("host", "127.0.0.1:3000"),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route.route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": is_base64,
    }
    if "cookie" in lowered:
        event["cookies"] = [c.strip() for c in lowered["cookie"].split(";")]
    if query_params:
        event["queryStringParameters"] = query_params
    if path_params:
        event["pathParameters"] = path_params
    if text_body is not None:
        event["body"] = text_body
    return event


def _http_result(result: Any) -> tuple[int, dict[str, str], bytes]:
    if not isinstance(result, dict) or "statusCode" not in result:
        # HTTP API v2 treats a bare return value as a 200 JSON body.
        return 200, {"content-type": "application/json"}, json.dumps(result).encode()
    headers = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    for key, values in (result.get("multiValueHeaders") or {}).items():
        headers[key.lower()] = ",".join(str(v) for v in values)
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    return int(result["statusCode"]), headers, raw
