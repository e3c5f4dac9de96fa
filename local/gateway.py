"""A local HTTP front door: API Gateway's part, played by the standard library's server."""

from __future__ import annotations

import json
import logging
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from local.stack import ROOT, LocalStack
from timmy.observability import redact_ids

logger = logging.getLogger("local")
OPENAPI_PATH = ROOT / "shared" / "openapi.json"
# API Gateway's payload limit: a larger body is refused before it is read.
MAX_BODY_BYTES = 10 * 1024 * 1024
# After refusing a malformed request, read (and drop) at most this much of what the client is
# still sending, so closing the socket does not reset the connection before it reads the answer.
LINGER_BYTES = 1024 * 1024
LINGER_SECONDS = 1.0

# What http.server reports (as send_error) for requests it cannot parse, as the error
# envelope: (status, code, message). Its 501 for an unknown method is a 405 here.
PROTOCOL_ERRORS: dict[int, tuple[int, str, str]] = {
    HTTPStatus.BAD_REQUEST: (400, "bad_request", "The request is not valid HTTP/1.1."),
    HTTPStatus.NOT_IMPLEMENTED: (405, "method_not_allowed", "No route answers this method."),
    HTTPStatus.REQUEST_URI_TOO_LONG: (414, "uri_too_long", "The request line is too long."),
    HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE: (
        431,
        "request_headers_too_large",
        "The request has too many headers, or one that is too large.",
    ),
    HTTPStatus.HTTP_VERSION_NOT_SUPPORTED: (
        400,
        "unsupported_http_version",
        "Send the request over HTTP/1.0 or HTTP/1.1.",
    ),
}


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

        def send_error(
            self, code: int, message: str | None = None, explain: str | None = None
        ) -> None:
            """http.server's HTML error page, replaced by the error envelope."""
            status, error_code, text = PROTOCOL_ERRORS.get(
                code, (code, "bad_request", "The request is not valid HTTP/1.1.")
            )
            self._refuse(status, error_code, text)

        def _refuse(self, status: int, code: str, message: str) -> None:
            """Answer a request that never reaches a route, then close the connection."""
            self.close_connection = True
            if self.request_version == "HTTP/0.9":
                # An unparsable request line leaves http.server's default of HTTP/0.9, which
                # would answer with a bare body and no status line.
                self.request_version = self.protocol_version
            headers = {"content-type": "application/json", "connection": "close"}
            if status == HTTPStatus.METHOD_NOT_ALLOWED and allow_methods:
                headers["allow"] = allow_methods
            body = json.dumps({"error": {"code": code, "message": message}}).encode()
            try:
                self._send(status, headers, body)
                self._linger()
            except OSError:  # the client went away first: nothing left to tell it
                logger.debug("client left before its error response", exc_info=True)

        def _linger(self) -> None:
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(LINGER_SECONDS)
            drained = 0
            while drained < LINGER_BYTES:
                try:
                    chunk = self.connection.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                drained += len(chunk)

        def _read_body(self) -> bytes | None:
            """The request body, or None once a refusal has been sent."""
            if self.headers.get("transfer-encoding"):
                self._refuse(411, "length_required", "Send the body with a Content-Length.")
                return None
            declared = (self.headers.get("content-length") or "0").strip()
            if not (declared.isascii() and declared.isdigit()):  # int() takes "²" and "1_0"
                self._refuse(400, "invalid_content_length", "Content-Length is not a number.")
                return None
            length = int(declared)
            if length > MAX_BODY_BYTES:
                self._refuse(413, "payload_too_large", f"The body exceeds {MAX_BODY_BYTES} bytes.")
                return None
            return self.rfile.read(length) if length else b""

        def _dispatch(self) -> None:
            parts = urlsplit(self.path)
            body = self._read_body()
            if body is None:
                return
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
