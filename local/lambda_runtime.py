"""One function's worker process: what the Lambda runtime does inside one container.

Started by ``local.workers`` as ``python -P local/lambda_runtime.py <fd>`` with exactly the
function's environment. It imports the handler once (the init phase), then answers events
one at a time over the socket ``<fd>``, reusing module state between them as a warm container
does. Only the standard library is imported here: the function's code and the layer come from
``PYTHONPATH``, as ``/var/task`` and ``/opt/python`` do in Lambda.

Frames on the socket are a 4-byte big-endian length and a JSON document:

- parent → worker: ``{"event": ..., "request_id": "...", "deadline_ms": <epoch ms>}``;
- worker → parent: ``{"ready": true}`` once the handler is imported (or
  ``{"error": {...}}`` if importing failed), then per event ``{"result": ...}`` or
  ``{"error": {"errorType", "errorMessage", "stackTrace"}}``; every answer carries ``"logs"``,
  the lines the function wrote to stdout and stderr meanwhile (its CloudWatch log stream).
"""

from __future__ import annotations

import importlib
import io
import json
import os
import signal
import socket
import struct
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any

_HEADER = struct.Struct(">I")


def send_frame(sock: socket.socket, message: dict[str, Any]) -> None:
    body = json.dumps(message, default=str).encode()
    sock.sendall(_HEADER.pack(len(body)) + body)


def _read_exactly(sock: socket.socket, size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


def recv_frame(sock: socket.socket) -> dict[str, Any] | None:
    """The next frame, or None when the other end has closed the socket."""
    header = _read_exactly(sock, _HEADER.size)
    if header is None:
        return None
    body = _read_exactly(sock, _HEADER.unpack(header)[0])
    if body is None:
        return None
    message: dict[str, Any] = json.loads(body)
    return message


class LogStream(io.TextIOBase):
    """Stands in for stdout and stderr: what the function writes is sent with its answer."""

    def __init__(self) -> None:
        self._parts: list[str] = []

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._parts.append(text)
        return len(text)

    def take(self) -> list[str]:
        text, self._parts = "".join(self._parts), []
        return [line for line in text.splitlines() if line.strip()]


@dataclass
class LambdaContext:
    """What Powertools and the handlers read from the Lambda context object."""

    function_name: str
    aws_request_id: str
    deadline_ms: int
    invoked_function_arn: str
    memory_limit_in_mb: int
    function_version: str
    log_group_name: str
    log_stream_name: str

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.deadline_ms - int(time.time() * 1000))


def _error(error: BaseException) -> dict[str, Any]:
    # Lambda reports the exception class as errorType: what ASL Retry/Catch match.
    return {
        "errorType": type(error).__name__,
        "errorMessage": str(error),
        "stackTrace": traceback.format_exception(error),
    }


def main(fd: int) -> None:
    # Ctrl-C reaches the whole process group: the parent stops its workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(fileno=fd)
    logs = LogStream()
    # Before the handler is imported, so loggers created at import time write here too.
    sys.stdout = sys.stderr = logs
    env = os.environ
    module_name, _, handler_name = env["_HANDLER"].rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), handler_name)
    except BaseException as error:  # noqa: BLE001 - an init error is the first answer
        send_frame(sock, {"error": _error(error), "logs": logs.take()})
        return
    send_frame(sock, {"ready": True, "logs": logs.take()})
    name = env["AWS_LAMBDA_FUNCTION_NAME"]
    arn = f"arn:aws:lambda:{env['AWS_REGION']}:123456789012:function:{name}"
    while True:
        message = recv_frame(sock)
        if message is None:  # the local stack closed this container
            return
        context = LambdaContext(
            function_name=name,
            aws_request_id=message["request_id"],
            deadline_ms=int(message["deadline_ms"]),
            invoked_function_arn=arn,
            memory_limit_in_mb=int(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]),
            function_version=env["AWS_LAMBDA_FUNCTION_VERSION"],
            log_group_name=env["AWS_LAMBDA_LOG_GROUP_NAME"],
            log_stream_name=env["AWS_LAMBDA_LOG_STREAM_NAME"],
        )
        try:
            answer: dict[str, Any] = {"result": handler(message["event"], context)}
        except Exception as error:  # noqa: BLE001 - reported to the invoker, as Lambda does
            answer = {"error": _error(error)}
        answer["logs"] = logs.take()
        send_frame(sock, answer)


if __name__ == "__main__":
    main(int(sys.argv[1]))
