"""A local HTTP front door: API Gateway's part, played by the standard library's server."""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from local.stack import ROOT, LocalStack
from timmy.observability import redact_ids

logger = logging.getLogger("local")
OPENAPI_PATH = ROOT / "shared" / "openapi.json"


def _cors(stack: LocalStack) -> dict[str, Any]:
    for spec in stack.template.resources.values():
        if spec.get("Type") == "AWS::Serverless::HttpApi":
            return dict(spec.get("Properties", {}).get("CorsConfiguration", {}))
    return {}


def make_server(
    stack: LocalStack, host: str = "127.0.0.1", port: int = 3000
) -> ThreadingHTTPServer:
    cors = _cors(stack)
    allow_origin = ",".join(cors.get("AllowOrigins", ["*"]))
    allow_headers = ",".join(cors.get("AllowHeaders", []))
    allow_methods = ",".join(cors.get("AllowMethods", []))
    expose_headers = ",".join(cors.get("ExposeHeaders", []))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "timmy-local"
        # Headers and body go out as separate small writes: without TCP_NODELAY, Nagle's
        # algorithm and the client's delayed ACK add ~40 ms to every response.
        disable_nagle_algorithm = True

        def log_message(self, fmt: str, *args: Any) -> None:
            # Job and session ids in paths are bearer capabilities: logged as hashes only.
            logger.info("%s %s", self.address_string(), redact_ids(fmt % args))

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            headers = {**headers, "access-control-allow-origin": allow_origin}
            if expose_headers:
                headers["access-control-expose-headers"] = expose_headers
            headers["content-length"] = str(len(body))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _dispatch(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.command == "OPTIONS":
                self._send(
                    204,
                    {
                        "access-control-allow-headers": allow_headers,
                        "access-control-allow-methods": allow_methods,
                    },
                    b"",
                )
                return
            if self.command == "GET" and parts.path == "/api/openapi.json":
                self._send(200, {"content-type": "application/json"}, OPENAPI_PATH.read_bytes())
                return
            headers = {key: value for key, value in self.headers.items()}
            try:
                status, out_headers, out_body = stack.handle_http(
                    self.command,
                    parts.path,
                    parts.query,
                    headers,
                    body,
                    source_ip=self.client_address[0],
                )
            except Exception:  # a handler crash is a 500 here, as in API Gateway
                logger.exception("handler crashed")
                status, out_headers, out_body = (
                    500,
                    {"content-type": "application/json"},
                    b'{"error":{"code":"internal_error","message":"Internal error."}}',
                )
            self._send(status, out_headers, out_body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _dispatch

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        # The default backlog of 5 resets connections under a burst of parallel clients.
        request_queue_size = 128

    return Server((host, port), Handler)


def serve_in_thread(
    stack: LocalStack, host: str = "127.0.0.1", port: int = 0
) -> tuple[ThreadingHTTPServer, str]:
    """Start the gateway on a background thread; returns the server and its base URL."""
    server = make_server(stack, host, port)
    thread = threading.Thread(target=server.serve_forever, name="local-gateway", daemon=True)
    thread.start()
    bound_host, bound_port = server.server_address[:2]
    host_text = bound_host.decode() if isinstance(bound_host, bytes) else str(bound_host)
    return server, f"http://{host_text}:{bound_port}"


def openapi_path() -> Path:
    return OPENAPI_PATH
