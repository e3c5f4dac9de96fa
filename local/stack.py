"""The Docker-free local stack: embedded PostgreSQL, a moto server for the AWS APIs (Step
Functions executing the template's state machines, Secrets Manager, SSM) and every function
of template.yaml in worker processes of its own, as Lambda runs them.

- ``local.environment``: each function's environment, from its template entry;
- ``local.workers``: the worker pools (``local.lambda_runtime`` inside each worker);
- ``local.aws``: the moto server, and the seam that hands its Lambda tasks to the workers;
- ``local.postgres``: the embedded PostgreSQL;
- ``local.http_api``: API Gateway's events and responses; ``local.gateway`` serves them.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from local import postgres
from local.aws import MotoServer, create_state_machine
from local.environment import (
    LOCAL_CREDENTIALS,
    LOCAL_DEFAULTS,
    caller_environment,
    function_environment,
    operator_settings,
)
from local.http_api import http_api_event, http_result
from local.template import REGION, FunctionSpec, Route, Template
from local.workers import WORKERS_PER_FUNCTION, Functions, load_module

logger = logging.getLogger("local")

ROOT = Path(__file__).resolve().parent.parent
LOCAL_PARAMETERS = {"Stage": "local", "DevMode": "true"}
# Variables of this process that are never handed on to a function: Lambda sets its own.
_NOT_FORWARDED_PREFIXES = ("AWS_", "PYTEST_", "_")

__all__ = ["LOCAL_DEFAULTS", "ROOT", "LocalStack", "load_module", "start_embedded_postgres"]


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL server; it stops when its last user leaves."""
    return postgres.start(data_dir)


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
        forward_environment_changes: bool = False,
        workers_per_function: int = WORKERS_PER_FUNCTION,
    ) -> None:
        """``forward_environment_changes``: what this process's environment gains or loses
        after :meth:`start` is set for every function, as a redeploy would (the tests change
        settings with ``monkeypatch.setenv``)."""
        self.template = Template(template_path, {**LOCAL_PARAMETERS, **(parameter_overrides or {})})
        self.routes: list[Route] = self.template.routes()
        self.functions = Functions(
            self.template.functions(), self.function_environment, workers_per_function
        )
        self.database_url = database_url
        self.data_dir = data_dir
        self.extra_env = extra_env or {}
        self.forward_environment_changes = forward_environment_changes
        self.state_machine_arns: dict[str, str] = {}
        self.aws = MotoServer(self.functions)
        self._operator: dict[str, str] = {}
        self._baseline: dict[str, str] = {}
        self._stand_ins: dict[str, str] = {}
        self._settings: dict[str, str] = {}
        self._owns_postgres = False

    def start(self) -> LocalStack:
        started = time.perf_counter()
        self._operator = dict(os.environ)
        url = self.database_url or os.environ.get("DATABASE_URL")
        if url is None:
            url = start_embedded_postgres(self.data_dir)
            self._owns_postgres = True
        self.aws.start()
        self._stand_ins = {"DATABASE_URL": url, "AWS_ENDPOINT_URL": self.aws.endpoint}
        declared = {key for spec in self.functions.specs.values() for key in spec.environment}
        self._settings = operator_settings(self._operator, declared)
        self._configure_environment(url)
        from timmy.runtime import check_environment

        check_environment(os.environ)  # a bad setting stops `make dev` here, named
        self.state_machine_arns = self.aws.create_state_machines(self.template.state_machines())
        self._migrate()
        self._baseline = dict(os.environ)
        logger.info("local stack ready in %.1fs", time.perf_counter() - started)
        return self

    def stop(self) -> None:
        self.functions.close()
        self.aws.stop()
        _reset_timmy_caches()
        if self._owns_postgres:
            postgres.stop(self.data_dir)
            self._owns_postgres = False

    # -- environments --------------------------------------------------------------------
    def function_environment(self, spec: FunctionSpec) -> dict[str, str]:
        overrides: dict[str, str | None] = dict(self.extra_env)
        if self.forward_environment_changes:
            overrides.update(self._environment_changes())
        return function_environment(
            spec,
            stand_ins=self._stand_ins,
            operator=self._operator,
            settings=self._settings,
            overrides=overrides,
        )

    def _environment_changes(self) -> dict[str, str | None]:
        baseline, now = self._baseline, os.environ
        changes: dict[str, str | None] = {
            key: value for key, value in now.items() if baseline.get(key) != value
        }
        changes.update({key: None for key in baseline if key not in now})
        return {k: v for k, v in changes.items() if not k.startswith(_NOT_FORWARDED_PREFIXES)}

    def _configure_environment(self, database_url: str) -> None:
        """This process's own settings, for code that calls the services directly here (the
        tests, the benchmarks): every function's variables, the operator's winning."""
        os.environ["DATABASE_URL"] = database_url
        if self.aws.endpoint:
            os.environ["AWS_ENDPOINT_URL"] = self.aws.endpoint
        for key, value in {
            **LOCAL_CREDENTIALS,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            **caller_environment(self.functions.specs),
        }.items():
            os.environ.setdefault(key, value)
        os.environ.update(self.extra_env)
        _reset_timmy_caches()

    @contextmanager
    def handlers_in_this_process(self) -> Iterator[None]:
        """Meanwhile every function runs in this process (see :mod:`local.workers`)."""
        with self.functions.in_this_process():
            yield

    @staticmethod
    def create_state_machine(client: Any, name: str, definition: str) -> str:
        return create_state_machine(client, name, definition)

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
        return http_result(self.functions.invoke(route.function, event))
