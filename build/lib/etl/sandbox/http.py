"""Serve a plain request→response app over real HTTP (threaded, keep-alive) or as an httpx transport.

Emulators are written once as ``handle(Request) -> Response``. Tests of the client use the real server on
an ephemeral loopback port, so wrong HTTP is caught; benchmarks that measure our own overhead may use the
in-process transport. A response with ``drop_connection=True`` closes the socket without a reply: this is
how the emulators act out "the write was applied but the response was lost".

Every other request gets an HTTP answer in the app's error envelope, whatever arrives: a Content-Length that
is not a number → 400, a POST/PUT/PATCH without one (or chunked) → 411, a body over ``MAX_BODY_BYTES`` →
413 without reading it, a protocol error the stdlib detects (bad request line, oversized headers) in the
envelope instead of an HTML page, any exception escaping the app → 500 and one log line. An app that
implements ``GuardedApp`` has ``precheck`` run on the headers *before* the body is read, so a bad key or
an unknown route never costs reading (or receiving, with ``Expect: 100-continue``) a large body.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import socket
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qs, urlsplit

import httpx

_log = logging.getLogger(__name__)

MAX_BODY_BYTES = 10 * 1024 * 1024  # 10 MiB: a search or a contact is a few kB; above this → 413
MAX_JSON_DEPTH = 64  # the deepest real body (a search) nests 6 levels
MAX_JSON_INT = 2**63 - 1  # what SQLite and every real API store; larger integers are a 400
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_DIGITS = re.compile(r"[0-9]{1,15}")  # 15 digits is far beyond any cap and safe for int()
_SURROGATE = re.compile("[\ud800-\udfff]")


class BadJson(ValueError):
    """A body that is not JSON we can store: malformed, not UTF-8, too deep, NaN, huge numbers, lone
    surrogates. A ``ValueError`` so the apps' existing "malformed JSON" handling answers it as a 400."""


def _parse_int(text: str) -> int:
    # Judged by length first: int() of a 5,000-digit string is itself an error (and slow).
    value = int(text) if len(text) <= 20 else None
    if value is None or abs(value) > MAX_JSON_INT:
        raise BadJson(f"integer {text[:24]} is out of range (at most {MAX_JSON_INT} in magnitude)")
    return value


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadJson(f"number {text[:24]} is out of range")
    return value


def _parse_constant(text: str) -> Any:
    raise BadJson(f"{text} is not valid JSON")


def _check_tree(doc: Any) -> None:
    """Depth and lone surrogates, walked without recursion (a deep document must not crash the check)."""
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list) and depth > MAX_JSON_DEPTH:
            raise BadJson(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(value, dict):
            for key, item in value.items():
                if _SURROGATE.search(key):
                    raise BadJson("a JSON string contains a lone UTF-16 surrogate (not valid Unicode)")
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str) and _SURROGATE.search(value):
            raise BadJson("a JSON string contains a lone UTF-16 surrogate (not valid Unicode)")


def parse_json(body: bytes) -> Any:
    """Strict JSON: UTF-8, no NaN/Infinity, integers within ``MAX_JSON_INT``, depth ``MAX_JSON_DEPTH``."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadJson("the body is not UTF-8") from None
    try:
        doc = json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)
    except RecursionError:
        raise BadJson(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except BadJson:
        raise
    except ValueError as exc:
        raise BadJson(f"malformed JSON: {exc}") from None
    _check_tree(doc)
    return doc


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]  # keys lower-cased
    body: bytes = b""

    def json(self) -> Any:
        """The parsed body (None when empty); raises ``BadJson`` (a ``ValueError``) for anything unusable."""
        return parse_json(self.body) if self.body else None

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


@runtime_checkable
class GuardedApp(Protocol):
    """An app that vets a request on its headers and renders the HTTP layer's errors in its own envelope."""

    def handle(self, request: Request) -> Response: ...

    def precheck(self, request: Request) -> Response | None:
        """The answer to give *without reading the body* (unknown route, bad key), or None to go on."""
        ...

    def error_response(self, status: int, message: str) -> Response:
        """An error of the HTTP layer (400, 411, 413, 500, …) in the app's envelope."""
        ...


def default_error_response(status: int, message: str) -> Response:
    """``{"errors": [{errorType, message}]}`` for apps that do not render their own."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Http"
    error_type = "".join(word.capitalize() for word in re.split(r"[^A-Za-z]+", phrase)) + "Error"
    return Response.json(status, {"errors": [{"errorType": error_type, "message": message}]})


def make_request(method: str, target: str, headers: Mapping[str, str], body: bytes) -> Request:
    parts = urlsplit(target)
    return Request(
        method=method.upper(),
        path=parts.path or "/",
        query=parse_qs(parts.query, keep_blank_values=True),
        headers={k.lower(): v for k, v in headers.items()},
        body=body,
    )


class _Refused(Exception):
    """The HTTP layer answers this request itself (and then closes the connection)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _body_length(method: str, headers: Any, max_body: int) -> int:
    """The announced body length, or ``_Refused`` when it cannot be trusted to frame the request."""
    if headers.get("Transfer-Encoding") is not None:
        raise _Refused(411, "Transfer-Encoding is not supported; send the body with a Content-Length")
    values = headers.get_all("Content-Length") or []
    if not values:
        if method.upper() in _BODY_METHODS:
            raise _Refused(411, f"{method.upper()} requires a Content-Length header")
        return 0
    texts = {str(v).strip() for v in values}
    if len(texts) > 1:
        raise _Refused(400, "conflicting Content-Length headers")
    text = texts.pop()
    if not text.isascii() or not text.isdigit():
        raise _Refused(400, "Content-Length must be a non-negative integer")
    # More than 15 digits is beyond any cap: do not even convert it.
    return int(text) if _DIGITS.fullmatch(text) else max_body + 1


def _handler_for(app: App, max_body: int) -> type[BaseHTTPRequestHandler]:
    gate = app if isinstance(app, GuardedApp) else None
    render = gate.error_response if gate is not None else default_error_response

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: a client reuses one connection
        # Headers and body go out in separate writes; with Nagle on, the body waits for the client's
        # delayed ACK (~40 ms per request on Linux loopback). TCP_NODELAY makes a request ~1 ms.
        disable_nagle_algorithm = True
        server_version = "bme-sandbox"
        expects_continue = False

        def __getattr__(self, name: str) -> Any:
            # Any method token reaches the app, which answers in its envelope (404), not a stdlib 501 page.
            if name.startswith("do_"):
                return self._dispatch
            raise AttributeError(name)

        def handle_expect_100(self) -> bool:
            # Deferred until the route and key are checked: a refused client never sends its body.
            self.expects_continue = True
            return True

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            # Protocol errors found by the stdlib (bad request line, header too long, …) in the envelope.
            try:
                phrase = HTTPStatus(code).phrase
            except ValueError:
                phrase = "error"
            with contextlib.suppress(OSError):
                self._send(render(code, message or phrase), close=True)

        def _dispatch(self) -> None:
            try:
                response, close = self._answer()
            except _Refused as refused:
                response, close = render(refused.status, refused.message), True
            except Exception as exc:  # the last line of defence: an answer, one log line, no traceback
                _log.error("sandbox: %s request failed: %s: %s", self.command, type(exc).__name__, exc)
                response, close = render(500, "Internal server error"), True
            finally:
                self.expects_continue = False  # per request, on a kept-alive connection
            try:
                self._send(response, close=close)
            except OSError:  # the client went away; nothing left to answer
                self.close_connection = True

        def _answer(self) -> tuple[Response, bool]:
            length = _body_length(self.command, self.headers, max_body)
            headers = dict(self.headers.items())
            if gate is not None:
                refused = gate.precheck(make_request(self.command, self.path, headers, b""))
                if refused is not None:  # the body stays unread: close so it is not taken for a request
                    return refused, length > 0
            if length > max_body:
                raise _Refused(413, f"The request body exceeds {max_body} bytes")
            if self.expects_continue and length:
                self.send_response_only(HTTPStatus.CONTINUE)
                self.end_headers()
            body = self.rfile.read(length) if length else b""
            if len(body) < length:  # the client stopped sending (half-closed): it may still read this
                raise _Refused(400, f"The body ended after {len(body)} of {length} bytes (Content-Length)")
            return app.handle(make_request(self.command, self.path, headers, body)), False

        def _send(self, response: Response, *, close: bool) -> None:
            if response.drop_connection:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if response.body and self.command != "HEAD":
                self.wfile.write(response.body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            return  # quiet: request lines may carry contact emails in paths or queries

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver prints a full traceback per failed connection; one line is enough (a reset client).
        _log.warning("sandbox: connection from %s ended with an error", client_address[0])


class RunningServer:
    """A server on a background thread; ``url`` is ready once constructed. Use as a context manager."""

    def __init__(
        self, app: App, host: str = "127.0.0.1", port: int = 0, max_body: int = MAX_BODY_BYTES
    ) -> None:
        self.app = app
        self._server = _Server((host, port), _handler_for(app, max_body))
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


def serve_forever(
    app: App, host: str, port: int, on_ready: Any = None, max_body: int = MAX_BODY_BYTES
) -> None:
    """Blocking serve for the CLI; ``on_ready(url)`` is called once the socket is bound."""
    server = _Server((host, port), _handler_for(app, max_body))
    try:
        if on_ready is not None:
            host_, port_ = server.server_address[0], server.server_address[1]
            on_ready(f"http://{host_!s}:{port_}")
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
