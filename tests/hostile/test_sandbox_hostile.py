"""Hostile requests against the Benchmark sandbox over a real socket: each gets a status and the envelope.

Broken framing (Content-Length) and huge bodies go through a raw ``socket`` because an HTTP client would
refuse to send them; the rest goes through httpx. The command-line cases run the installed ``bme-migrate``.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from etl.cli import main
from etl.commands.sandbox import is_loopback
from etl.sandbox.http import MAX_BODY_BYTES, MAX_JSON_DEPTH
from etl.sandbox.server import LocalSandbox
from tests.fixtures.sandbox import client_for, default_structure, field_id

BME = Path(sys.executable).parent / "bme-migrate"
KEY = "bme_sandbox_key"


# --- helpers ------------------------------------------------------------------------------------------------
class Raw:
    """One raw TCP connection to the sandbox: send exact bytes, read exactly one HTTP response."""

    def __init__(self, box: LocalSandbox) -> None:
        host, port = box.url.removeprefix("http://").rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buf += chunk
        return bool(chunk)

    def response(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buf:
            assert self._fill(), f"connection closed without a response: {self.buf!r}"
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(self.buf) < length:
            assert self._fill(), "connection closed mid-body"
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, headers, body

    def at_eof(self) -> bool:
        """True once the server has closed the connection (what it must do after an unread body)."""
        try:
            return not self.buf and not self._fill()
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()


def head(method: str, path: str, *lines: str) -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: sandbox\r\n" + "".join(f"{ln}\r\n" for ln in lines) + "\r\n"
    ).encode("latin-1")


def envelope(body: bytes, error_type: str | None = None) -> dict[str, Any]:
    """The documented ``{"errors": [{errorType, message, ...}]}``; returns the first error."""
    doc = json.loads(body)
    assert isinstance(doc, dict) and list(doc) == ["errors"], doc
    assert isinstance(doc["errors"], list) and len(doc["errors"]) == 1, doc
    err = doc["errors"][0]
    assert isinstance(err["errorType"], str) and isinstance(err["message"], str) and err["message"], err
    if error_type is not None:
        assert err["errorType"] == error_type, err
    return err


def check(r: httpx.Response, status: int, error_type: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    return envelope(r.content, error_type)


def still_serves(box: LocalSandbox) -> None:
    with client_for(box) as c:
        assert default_structure(c)["label"] == "Default Contacts"


@pytest.fixture
def box(sandbox: LocalSandbox) -> LocalSandbox:
    return sandbox


@pytest.fixture
def client(box: LocalSandbox) -> Any:
    with client_for(box) as c:
        yield c


@pytest.fixture
def sid(client: httpx.Client) -> str:
    return str(default_structure(client)["_id"])


# --- framing: Content-Length --------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["abc", "-5", "5 5", "0x10", "\u00b2", "1e3"])
def test_bad_content_length_is_a_400_and_the_connection_closes(box: LocalSandbox, value: str) -> None:
    raw = Raw(box)
    raw.send(head("POST", "/api/contact", f"X-API-Key: {KEY}", f"Content-Length: {value}") + b"{}")
    status, headers, body = raw.response()
    assert status == 400 and headers["connection"] == "close"
    assert "Content-Length" in envelope(body, "ValidationError")["message"]
    assert raw.at_eof()
    raw.close()
    still_serves(box)


def test_conflicting_content_lengths_are_a_400(box: LocalSandbox) -> None:
    raw = Raw(box)
    raw.send(head("POST", "/api/contact", f"X-API-Key: {KEY}", "Content-Length: 2", "Content-Length: 3"))
    status, _, body = raw.response()
    assert status == 400 and "conflicting" in envelope(body, "ValidationError")["message"]
    raw.close()


@pytest.mark.parametrize("extra", [(), ("Transfer-Encoding: chunked",)])
def test_a_body_method_without_a_length_is_a_411(box: LocalSandbox, extra: tuple[str, ...]) -> None:
    raw = Raw(box)
    raw.send(head("POST", "/api/contact/search", f"X-API-Key: {KEY}", *extra))
    status, headers, body = raw.response()
    assert status == 411 and headers["connection"] == "close"
    envelope(body, "LengthRequiredError")
    raw.close()
    still_serves(box)


def test_a_body_shorter_than_its_length_is_a_400_once_the_client_stops(box: LocalSandbox) -> None:
    raw = Raw(box)
    raw.send(head("POST", "/api/contact", f"X-API-Key: {KEY}", "Content-Length: 100") + b'{"key":')
    raw.sock.shutdown(socket.SHUT_WR)  # the client is done sending but still reads
    status, headers, body = raw.response()
    assert status == 400 and headers["connection"] == "close"
    assert "Content-Length" in envelope(body, "ValidationError")["message"]
    raw.close()


def test_a_get_without_a_length_is_fine_and_keeps_the_connection(box: LocalSandbox) -> None:
    raw = Raw(box)
    for _ in range(2):
        raw.send(head("GET", "/api/contact-structure", f"X-API-Key: {KEY}"))
        status, headers, body = raw.response()
        assert status == 200 and "connection" not in headers and json.loads(body)[0]["_id"]
    raw.close()


# --- the key before the body, and the cap ------------------------------------------------------------------
HUGE = 300 * 1024 * 1024


def test_a_bad_key_is_answered_401_before_a_huge_body_is_sent(box: LocalSandbox) -> None:
    raw = Raw(box)
    raw.send(head("POST", "/api/contact", "X-API-Key: wrong", f"Content-Length: {HUGE}"))
    status, headers, body = raw.response()  # the 300 MB body was never sent
    assert status == 401 and headers["connection"] == "close"
    assert envelope(body, "UnauthorizedError")["message"] == "Invalid API key"
    assert raw.at_eof()
    raw.close()
    assert box.app.request_counts() == {}


def test_an_unknown_route_is_answered_404_before_its_body(box: LocalSandbox) -> None:
    raw = Raw(box)
    raw.send(head("POST", "/api/nowhere", f"X-API-Key: {KEY}", f"Content-Length: {HUGE}"))
    status, _, body = raw.response()
    assert status == 404
    envelope(body, "RecordNotFound")
    raw.close()


def test_expect_continue_gets_the_401_instead_of_a_100(box: LocalSandbox) -> None:
    raw = Raw(box)
    raw.send(
        head(
            "PUT", "/api/contact/" + "a" * 24, "X-API-Key: nope", "Expect: 100-continue", "Content-Length: 10"
        )
    )
    status, _, body = raw.response()
    assert status == 401
    envelope(body, "UnauthorizedError")
    raw.close()


def test_expect_continue_with_a_good_key_gets_a_100_then_the_answer(box: LocalSandbox, sid: str) -> None:
    body = json.dumps({"key": "cont@example.com", "contactStructureId": sid}).encode()
    raw = Raw(box)
    raw.send(
        head(
            "POST",
            "/api/contact",
            f"X-API-Key: {KEY}",
            "Expect: 100-continue",
            f"Content-Length: {len(body)}",
        )
    )
    status, _, _ = raw.response()
    assert status == 100
    raw.send(body)
    status, _, answer = raw.response()
    assert status == 200 and json.loads(answer)["key"] == "cont@example.com"
    raw.close()


def test_a_body_over_the_cap_is_a_413_without_reading_it(box: LocalSandbox) -> None:
    raw = Raw(box)
    raw.send(head("POST", "/api/contact", f"X-API-Key: {KEY}", f"Content-Length: {MAX_BODY_BYTES + 1}"))
    status, headers, body = raw.response()  # answered on the headers: none of the body was sent
    assert status == 413 and headers["connection"] == "close"
    assert str(MAX_BODY_BYTES) in envelope(body, "PayloadTooLargeError")["message"]
    assert raw.at_eof()
    raw.close()
    assert box.app.request_counts() == {}  # never reached the account
    still_serves(box)


def test_a_300_mb_body_being_streamed_gets_a_413_and_a_closed_connection(box: LocalSandbox) -> None:
    raw = Raw(box)
    raw.send(head("POST", "/api/contact/search", f"X-API-Key: {KEY}", f"Content-Length: {HUGE}"))
    sent = [0]

    def stream() -> None:  # a client that does not wait: it pushes the body until the server hangs up
        chunk = b" " * 65536
        try:
            while sent[0] < HUGE:
                raw.sock.sendall(chunk)
                sent[0] += len(chunk)
        except OSError:
            return

    pusher = threading.Thread(target=stream, daemon=True)
    pusher.start()
    status, _, body = raw.response()
    assert status == 413
    envelope(body, "PayloadTooLargeError")
    pusher.join(timeout=10)
    assert not pusher.is_alive() and sent[0] < HUGE // 10  # the server hung up long before 300 MB
    raw.close()
    still_serves(box)


def test_a_body_at_the_cap_is_read_and_judged(box: LocalSandbox) -> None:
    with client_for(box) as c:
        check(c.post("/api/contact/search", content=b" " * MAX_BODY_BYTES), 400, "ValidationError")


# --- bodies that are not JSON we can store -----------------------------------------------------------------
def test_malformed_json_is_a_400(client: httpx.Client) -> None:
    err = check(client.post("/api/contact", content=b'{"key": '), 400, "ValidationError")
    assert "valid JSON" in err["message"]


def test_json_nested_100k_deep_is_a_400(box: LocalSandbox, client: httpx.Client) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    assert "nested" in check(client.post("/api/contact", content=deep), 400, "ValidationError")["message"]
    objects = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    check(client.post("/api/contact/search", content=objects), 400, "ValidationError")
    just_over = b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1)  # below the recursion limit
    assert "nested" in check(client.post("/api/contact", content=just_over), 400)["message"]
    still_serves(box)


def test_huge_integers_are_a_400(client: httpx.Client, sid: str) -> None:
    search = {
        "contactStructureId": sid,
        "page": 10**30,
        "pageSize": 10,
        "source": ["key"],
        "contactSpecification": {"filters": []},
    }
    err = check(client.post("/api/contact/search", json=search), 400, "ValidationError")
    assert "out of range" in err["message"]
    search["page"] = 2**40  # fits JSON's range but not a page number: offsets must fit SQLite
    assert check(client.post("/api/contact/search", json=search), 400)["field"] == "page"
    body = b'{"key": "a@example.com", "contactStructureId": "%s", "fields": [{"_id": "x", "value": 1%s}]}' % (
        sid.encode(),
        b"0" * 5000,
    )
    check(client.post("/api/contact", content=body), 400, "ValidationError")
    for number in (b"1e400", b"NaN", b"-Infinity"):
        check(client.post("/api/contact", content=b'{"key": %s}' % number), 400, "ValidationError")


@pytest.mark.parametrize("value", ["99999999999999999999", "0", "-1", "abc", "²", "1.5", ""])
@pytest.mark.parametrize("name", ["page", "size"])
def test_out_of_range_query_numbers_are_a_400(client: httpx.Client, sid: str, name: str, value: str) -> None:
    r = client.get(f"/api/contact-structure/{sid}/lists", params={name: value})
    assert check(r, 400, "ValidationError")["field"] == name


def test_a_lone_surrogate_is_a_400(client: httpx.Client, sid: str) -> None:
    for body in (
        b'{"key": "\\ud800@example.com", "contactStructureId": "%s"}' % sid.encode(),
        b'{"\\udfff": 1}',
        b'{"key": "a@example.com", "contactStructureId": "%s", "fields": [{"_id": "x", "value": "\\udc00"}]}'
        % sid.encode(),
    ):
        err = check(client.post("/api/contact", content=body), 400, "ValidationError")
        assert "surrogate" in err["message"]
    paired = b'{"key": "\\ud83d\\ude00@example.com", "contactStructureId": "%s"}' % sid.encode()
    assert client.post("/api/contact", content=paired).status_code == 200  # a real pair is a character


def test_a_body_that_is_not_utf8_is_a_400(client: httpx.Client) -> None:
    for body in (b'{"key": "\xff\xfe"}', b"\xed\xa0\x80", "{}".encode("utf-16")):
        assert "UTF-8" in check(client.post("/api/contact", content=body), 400, "ValidationError")["message"]


def test_a_wrongly_typed_id_in_a_structure_is_a_400(client: httpx.Client, sid: str) -> None:
    structure = default_structure(client)
    body = {**structure, "fields": [{"_id": [], "label": "x"}]}
    body.pop("createdAt", None)
    body.pop("updatedAt", None)
    check(client.put(f"/api/contact-structure/{sid}", json=body), 400, "ValidationError")
    assert field_id(structure, "First Name")  # the structure is untouched


# --- methods and protocol errors ---------------------------------------------------------------------------
def test_an_unknown_method_is_a_404_in_the_envelope(client: httpx.Client) -> None:
    check(client.request("BREW", "/api/contact"), 404, "RecordNotFound")


def test_oversized_headers_are_answered_in_the_envelope(box: LocalSandbox) -> None:
    raw = Raw(box)
    raw.send(head("GET", "/api/contact", f"X-API-Key: {KEY}", "X-Junk: " + "j" * 70_000))
    status, _, body = raw.response()
    assert status == 431
    envelope(body)
    raw.close()
    still_serves(box)


# --- a failure inside the app ------------------------------------------------------------------------------
def test_an_unexpected_exception_is_a_500_and_one_log_line(
    box: LocalSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    box.app.store.close()  # the database went away under a running server (a real fault, not a mock)
    caplog.set_level(logging.WARNING)
    with client_for(box) as c:
        check(c.get("/api/contact"), 500, "InternalServerError")
    records = [r for r in caplog.records if r.name.startswith("etl.sandbox")]
    assert len(records) == 1 and records[0].exc_info is None, records
    assert "ProgrammingError" in records[0].getMessage()


# --- the command --------------------------------------------------------------------------------------------
def test_is_loopback() -> None:
    assert (
        is_loopback("127.0.0.1")
        and is_loopback("127.8.0.1")
        and is_loopback("::1")
        and is_loopback("localhost")
    )
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4") and not is_loopback("example.com")


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(BME), "sandbox", "--port", "0", "--db", ":memory:", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize(("host", "warned"), [("0.0.0.0", True), ("127.0.0.1", False)])
def test_binding_beyond_loopback_warns_on_stderr(host: str, warned: bool) -> None:
    proc = _start("--host", host)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith(f"Benchmark sandbox listening on http://{host}:"), first
        port = int(first.split()[4].rsplit(":", 1)[1])
        r = httpx.get(f"http://127.0.0.1:{port}/api/contact", headers={"X-API-Key": KEY})  # loopback only
        assert r.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "Traceback" not in err, err
    if warned:
        assert "WARNING" in err and "not loopback" in err and KEY in err
    else:
        assert "WARNING" not in err


@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_a_bad_port_is_a_usage_error(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["sandbox", "--port", port, "--db", ":memory:"])  # the console entry point's own handling
    err = capsys.readouterr().err
    assert exited.value.code == 2, err
    assert "Invalid value for '--port'" in err and "Traceback" not in err and "Overflow" not in err


def test_ctrl_c_during_start_up_is_interrupted_130() -> None:
    """SIGINT while the command is still reading its knobs file (a FIFO that holds it in start-up)."""
    with tempfile.TemporaryDirectory() as tmp:
        fifo = os.path.join(tmp, "knobs.toml")
        os.mkfifo(fifo)
        proc = _start("--knobs", fifo)
        writer = None
        deadline = time.monotonic() + 60
        while writer is None:  # opening the write end succeeds once the command has opened the read end
            try:
                writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "the command never read its knobs"
                time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.2)
        os.close(writer)  # the read returns; the pending interrupt surfaces inside start-up
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, (out, err)
    assert err.strip() == "interrupted" and "listening" not in out


def test_a_route_that_fails_unexpectedly_is_a_500_counted_and_logged_once(
    sandbox_factory: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The database damaged under a running server (a table dropped from outside): the route's own failure."""
    box = sandbox_factory(db=tmp_path / "sandbox.db")
    with client_for(box) as c:
        sid = default_structure(c)["_id"]
        outside = sqlite3.connect(tmp_path / "sandbox.db")
        outside.execute("DROP TABLE lists")
        outside.commit()
        outside.close()
        caplog.set_level(logging.WARNING)
        check(c.get(f"/api/contact-structure/{sid}/lists/all"), 500, "InternalServerError")
        records = [r for r in caplog.records if r.name.startswith("etl.sandbox")]
        assert len(records) == 1 and records[0].exc_info is None, records
        assert "GET /api/contact-structure/{contactStructureId}/lists/all" in records[0].getMessage()
        assert box.app.request_counts()["GET /api/contact-structure/{contactStructureId}/lists/all"] == 1
        assert c.get("/api/contact").status_code == 200  # the rest still works
