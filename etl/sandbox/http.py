"""Serve a plain request→response app over real HTTP (threaded, keep-alive) or as an httpx transport.

Emulators are written once as ``handle(Request) -> Response``. Tests of the client use the real server on
an ephemeral loopback port, so wrong HTTP is caught; benchmarks that measure our own overhead may use the
in-process transport. A response with ``drop_connection=True`` closes the socket without a reply: this is
how the emulators act out "the write was applied but the response was lost".
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import httpx


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]  # keys lower-cased
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def query_one(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop_connection: bool = False

    @classmethod
    def json(cls, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
        hdrs = {"Content-Type": "application/json"}
        if headers:
            hdrs.update(headers)
        return cls(status, json.dumps(payload, separators=(",", ":")).encode("utf-8"), hdrs)

    @classmethod
    def dropped(cls) -> Response:
        return cls(0, drop_connection=True)


class App(Protocol):
    def handle(self, request: Request) -> Response: ...


def make_request(method: str, target: str, headers: Mapping[str, str], body: bytes) -> Request:
    parts = urlsplit(target)
    return Request(
        method=method.upper(),
        path=parts.path or "/",
        query=parse_qs(parts.query, keep_blank_values=True),
        headers={k.lower(): v for k, v in headers.items()},
        body=body,
    )


def _handler_for(app: App) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: a client reuses one connection
        # Headers and body go out in separate writes; with Nagle on, the body waits for the client's
        # delayed ACK (~40 ms per request on Linux loopback). TCP_NODELAY makes a request ~1 ms.
        disable_nagle_algorithm = True
        server_version = "bme-sandbox"

        def _dispatch(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = make_request(self.command, self.path, dict(self.headers.items()), body)
            response = app.handle(request)
            if response.drop_connection:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if response.body and self.command != "HEAD":
                self.wfile.write(response.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            return  # quiet: request lines may carry contact emails in paths or queries

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class RunningServer:
    """A server on a background thread; ``url`` is ready once constructed. Use as a context manager."""

    def __init__(self, app: App, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self._server = _Server((host, port), _handler_for(app))
        self.host, self.port = str(self._server.server_address[0]), int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="sandbox-http",
            daemon=True,
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(app: App, host: str, port: int, on_ready: Any = None) -> None:
    """Blocking serve for the CLI; ``on_ready(url)`` is called once the socket is bound."""
    server = _Server((host, port), _handler_for(app))
    if on_ready is not None:
        host_, port_ = server.server_address[0], server.server_address[1]
        on_ready(f"http://{host_!s}:{port_}")
    try:
        server.serve_forever()
    finally:
        server.server_close()


class AppTransport(httpx.BaseTransport):
    """In-process transport: no sockets, same app. A dropped response raises like a closed connection."""

    def __init__(self, app: App) -> None:
        self.app = app

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        target = request.url.raw_path.decode("ascii")
        req = make_request(request.method, target, dict(request.headers.items()), request.read())
        resp = self.app.handle(req)
        if resp.drop_connection:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        return httpx.Response(resp.status, headers=resp.headers, content=resp.body, request=request)


def iter_free_ports(count: int) -> Iterator[int]:
    """Ports the OS reports free right now (for tests that must restart a server on the same port)."""
    for _ in range(count):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            yield s.getsockname()[1]
