"""The template's functions as Lambda runs them: worker processes, one event at a time each.

Every function has a small pool of workers (``local/lambda_runtime.py`` in a process of its
own, started on first use with the function's own environment). A worker handles one event
at a time, keeps its module state and database connection between events like a warm
container, and is replaced when the function's environment changes (a redeploy).

A test that replaces handler code in this process (``monkeypatch.setattr`` on a timmy module)
can ask for the functions to run here instead (:meth:`Functions.in_this_process`): one thread
then plays a single container, importing each function's module in this process.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from local.lambda_runtime import LambdaContext, recv_frame, send_frame
from local.template import FunctionSpec, function_arn

logger = logging.getLogger("local")

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = Path(__file__).resolve().parent / "lambda_runtime.py"
INIT_TIMEOUT_SECONDS = 30.0
WORKERS_PER_FUNCTION = 4
# Logging attributes a worker's JSON log line cannot overwrite on the record re-emitted here.
_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

Environment = Callable[[FunctionSpec], dict[str, str]]


class FunctionError(Exception):
    """The function raised (or could not start): Lambda's ``FunctionError: Unhandled``."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def emit_logs(function: str, lines: list[str]) -> None:
    """A worker's log lines, re-emitted through this process's logging (its CloudWatch)."""
    log = logging.getLogger(f"lambda.{function}")
    for line in lines:
        try:
            record: Any = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict) or "message" not in record:
            log.info("%s", line)
            continue
        level = logging.getLevelName(str(record.get("level", "INFO")))
        extra = {k: v for k, v in record.items() if k not in _RESERVED}
        message = record["message"]
        log.log(level if isinstance(level, int) else logging.INFO, "%s", message, extra=extra)


class Worker:
    """One warm container of one function."""

    def __init__(self, spec: FunctionSpec, env: dict[str, str]) -> None:
        self.spec = spec
        self.env = env
        parent, child = socket.socketpair()
        self._sock = parent
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-P", str(RUNTIME), str(child.fileno())],
                env=env,
                cwd=spec.code_dir,
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
            )
        finally:
            child.close()
        self._sock.settimeout(INIT_TIMEOUT_SECONDS)
        ready = self._receive()
        if "error" in ready:
            self.close()
            error = ready["error"]
            raise FunctionError(error["errorType"], f"init failed: {error['errorMessage']}")
        self.broken = False

    def _receive(self) -> dict[str, Any]:
        try:
            message = recv_frame(self._sock)
        except OSError as error:  # a timeout: the event ran past the function's Timeout
            self.close()
            raise FunctionError("Sandbox.Timedout", "the function timed out") from error
        if message is None:
            self.close()
            raise FunctionError("Runtime.ExitError", f"{self.spec.logical_id} exited")
        emit_logs(self.spec.logical_id, message.get("logs", []))
        return message

    def invoke(self, event: Any) -> Any:
        deadline_ms = int((time.time() + self.spec.timeout_seconds) * 1000)
        try:
            send_frame(
                self._sock,
                {"event": event, "request_id": str(uuid.uuid4()), "deadline_ms": deadline_ms},
            )
        except OSError as error:
            self.close()
            raise FunctionError("Runtime.ExitError", str(error)) from error
        # An event still running after the function's Timeout is the function's failure.
        self._sock.settimeout(self.spec.timeout_seconds + 1)
        answer = self._receive()
        if "error" in answer:
            failure = answer["error"]
            raise FunctionError(failure["errorType"], failure["errorMessage"])
        return answer.get("result")

    def close(self, wait: bool = True) -> None:
        self.broken = True
        self._sock.close()  # the runtime's read sees the end and it exits
        if wait:
            self.wait()

    def wait(self) -> None:
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class WorkerPool:
    """Up to ``size`` workers of one function, each lent to one event at a time."""

    def __init__(self, spec: FunctionSpec, size: int) -> None:
        self.spec = spec
        self.size = size
        self._idle: list[Worker] = []
        self._busy = 0
        self._closed = False
        self._changed = threading.Condition()

    def _acquire(self, env: dict[str, str]) -> Worker | None:
        """An idle worker with ``env``, or None when the caller may start one."""
        with self._changed:
            while True:
                if self._closed:
                    raise FunctionError("Runtime.Stopped", "the local stack is stopping")
                for worker in self._idle:
                    if worker.env == env:
                        self._idle.remove(worker)
                        self._busy += 1
                        return worker
                if self._idle and len(self._idle) + self._busy >= self.size:
                    # Full, but with idle workers of an older environment: retire one.
                    self._idle.pop(0).close()
                if len(self._idle) + self._busy < self.size:
                    self._busy += 1
                    return None
                self._changed.wait()

    def invoke(self, env: dict[str, str], event: Any) -> Any:
        worker = self._acquire(env)
        try:
            if worker is None:
                worker = Worker(self.spec, env)
            return worker.invoke(event)
        finally:
            with self._changed:
                self._busy -= 1
                if worker is not None and not worker.broken:
                    if self._closed:
                        worker.close()
                    else:
                        self._idle.append(worker)
                self._changed.notify()

    def pids(self) -> list[int]:
        """The process ids of this function's idle workers."""
        with self._changed:
            return [worker.process.pid for worker in self._idle]

    def close(self) -> list[Worker]:
        """Close every idle worker; returns them, to be waited for."""
        with self._changed:
            self._closed = True
            idle, self._idle = self._idle, []
            self._changed.notify_all()
        for worker in idle:
            worker.close(wait=False)
        return idle


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


class InProcessContainer:
    """Every function in this process, on one thread: a single container, one event at a time."""

    def __init__(self) -> None:
        self._modules: dict[Path, ModuleType] = {}
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="in-process")

    def _handler(self, spec: FunctionSpec) -> Callable[[Any, Any], Any]:
        module = self._modules.get(spec.module_file)
        if module is None:
            relative = spec.module_file.relative_to(ROOT).with_suffix("")
            module = load_module(spec.module_file, "fn_" + "_".join(relative.parts))
            self._modules[spec.module_file] = module
        handler: Callable[[Any, Any], Any] = getattr(module, spec.handler_name)
        return handler

    def _run(self, spec: FunctionSpec, event: Any) -> Any:
        context = LambdaContext(
            function_name=spec.logical_id,
            aws_request_id=str(uuid.uuid4()),
            deadline_ms=int((time.time() + spec.timeout_seconds) * 1000),
            invoked_function_arn=function_arn(spec.logical_id),
            memory_limit_in_mb=512,
            function_version="$LATEST",
            log_group_name=f"/aws/lambda/{spec.logical_id}",
            log_stream_name="local",
        )
        try:
            return self._handler(spec)(event, context)
        except Exception as error:
            raise FunctionError(type(error).__name__, str(error)) from error

    def invoke(self, spec: FunctionSpec, event: Any) -> Any:
        return self._thread.submit(self._run, spec, event).result()

    def close(self) -> None:
        from timmy.db.connection import reset_connection

        # The container thread's connection is closed on that thread.
        self._thread.submit(reset_connection).result()
        self._thread.shutdown()


class Functions:
    """The template's functions, each behind its pool of worker processes."""

    def __init__(
        self,
        specs: Mapping[str, FunctionSpec],
        environment: Environment,
        pool_size: int = WORKERS_PER_FUNCTION,
    ) -> None:
        self.specs = dict(specs)
        self._environment = environment
        self.pools = {name: WorkerPool(spec, pool_size) for name, spec in self.specs.items()}
        self._here = InProcessContainer()
        self._here_users = 0
        self._lock = threading.Lock()

    def resolve_name(self, name_or_arn: str) -> str:
        name = name_or_arn.split(":function:", 1)[-1].split(":", 1)[0]
        if name not in self.specs:
            raise KeyError(f"no function {name_or_arn!r} in the template")
        return name

    def environment(self, name: str) -> dict[str, str]:
        return self._environment(self.specs[name])

    def invoke(self, name_or_arn: str, event: Any) -> Any:
        """Run one event; a function's own exception comes back as :class:`FunctionError`."""
        name = self.resolve_name(name_or_arn)
        if self._here_users:
            return self._here.invoke(self.specs[name], event)
        return self.pools[name].invoke(self.environment(name), event)

    @contextmanager
    def in_this_process(self) -> Iterator[None]:
        """Run every function in this process meanwhile (for code replaced by a test)."""
        with self._lock:
            self._here_users += 1
        try:
            yield
        finally:
            with self._lock:
                self._here_users -= 1

    def close(self) -> None:
        closed = [worker for pool in self.pools.values() for worker in pool.close()]
        for worker in closed:  # they all exit at once
            worker.wait()
        self._here.close()
