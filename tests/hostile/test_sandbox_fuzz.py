"""1,000 malformed requests against one sandbox on loopback: each answered with a documented status and the
envelope, none dropped, and the sandbox still serves a valid request afterwards.

The requests are built from the real route templates (with junk ids), junk query strings, junk headers and
junk bodies: random bytes, JSON with wrong types, 100k-deep nesting, integers past 64 bits, NaN, lone
surrogates, non-UTF-8 text. ``derandomize`` makes the run the same on every machine, so CI is stable.
"""

from __future__ import annotations

import json
import logging
import socket
from collections import Counter
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl.sandbox.app import ROUTES
from etl.sandbox.knobs import Knobs
from etl.sandbox.server import LocalSandbox
from tests.fixtures.sandbox import client_for, default_structure

DOCUMENTED = {200, 201, 204, 400, 401, 403, 404, 405, 411, 413, 415, 429, 500}
GOOD = "bme_sandbox_key"
KEYS = ["bme_sandbox_readonly", "", "BME_SANDBOX_KEY", "bme_sandbox_key2", "' OR 1=1 --", "%00", "x" * 300]
JUNK_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30)
HEX24 = st.text("0123456789abcdef", min_size=24, max_size=24)
NUMBERS = st.sampled_from(
    [
        "0",
        "-1",
        "1",
        "2",
        "25",
        "101",
        "2147483648",
        "99999999999999999999",
        "1e9",
        "1.5",
        "NaN",
        "",
        "x",
        "²",
    ]
)


def _path_for(template: str, sid: str) -> st.SearchStrategy[str]:
    """The template with each ``{param}`` a junk id, the real structure id, or a well-formed unknown id."""
    parts = template.strip("/").split("/")
    segments = [
        st.one_of(
            st.just(sid), HEX24, JUNK_TEXT.filter(lambda s: "/" not in s and "?" not in s and "#" not in s)
        )
        if part.startswith("{")
        else st.just(part)
        for part in parts
    ]
    return st.tuples(*segments).map(lambda segs: "/" + "/".join(segs))


def _json_values() -> st.SearchStrategy[Any]:
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        JUNK_TEXT,
        st.sampled_from(
            ["Active", "Inactive", "Unsubscribe", "a@example.com", "EQ", "KEY", "name", "static"]
        ),
    )
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(
                st.one_of(
                    st.sampled_from(
                        [
                            "key",
                            "contactStructureId",
                            "fields",
                            "lists",
                            "tags",
                            "status",
                            "primary",
                            "secondary",
                            "_id",
                            "value",
                            "__v",
                            "name",
                            "listIds",
                            "page",
                            "pageSize",
                            "source",
                            "contactSpecification",
                            "filters",
                            "criterias",
                            "columnToFilter",
                            "operator",
                            "values",
                            "fieldId",
                            "label",
                            "keyName",
                            "dataType",
                            "required",
                        ]
                    ),
                    JUNK_TEXT,
                ),
                inner,
                max_size=5,
            ),
        ),
        max_leaves=12,
    )


def _bodies() -> st.SearchStrategy[bytes | None]:
    raw_json = _json_values().map(lambda v: json.dumps(v).encode())
    spliced = st.tuples(
        _json_values(),
        st.sampled_from(
            ["1" + "0" * 30, "1e400", "NaN", "-Infinity", '"\\ud800"', '"\\udfff x"', "1" + "0" * 5000]
        ),
    )
    return st.one_of(
        st.none(),
        st.binary(max_size=64),
        raw_json,
        raw_json,
        spliced.map(lambda t: (f'{{"key": {json.dumps(t[0])}, "x": {t[1]}}}').encode()),
        st.integers(min_value=1, max_value=200_000).map(lambda n: b"[" * n + b"]" * n),
        st.integers(min_value=1, max_value=100_000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
        st.sampled_from([b"\xff\xfe{}", b'{"key": "\xed\xa0\x80"}', "{}".encode("utf-16"), b"{", b"[1,]"]),
    )


def _requests(sid: str) -> st.SearchStrategy[dict[str, Any]]:
    """Mostly a real route with its own method and a good key (so bodies reach validation), else junk."""
    on_route = st.sampled_from(ROUTES).flatmap(
        lambda route: st.tuples(st.just(route.method), _path_for(route.template, sid))
    )
    anywhere = st.tuples(
        st.one_of(
            st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]),
            st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=8),
        ),
        st.one_of(
            *[_path_for(route.template, sid) for route in ROUTES],
            st.sampled_from(["/", "/api", "/api/contact/", "/api//contact", "/api/contact/search/x"]),
        ),
    )
    queries = st.dictionaries(
        st.one_of(st.sampled_from(["page", "size", "sort", "criteria", "pageSize", "offset"]), JUNK_TEXT),
        st.one_of(NUMBERS, JUNK_TEXT, st.sampled_from(["name:asc", "createdAt:desc", "x:y"])),
        max_size=3,
    )
    headers = st.dictionaries(
        st.sampled_from(["Content-Type", "Accept", "X-Junk", "X-Forwarded-For", "Cookie"]),
        JUNK_TEXT.map(str.strip),
        max_size=3,
    )
    return st.fixed_dictionaries(
        {
            "target": st.one_of(on_route, on_route, on_route, anywhere),
            "params": queries,
            "headers": headers,
            "key": st.sampled_from([GOOD] * 12 + KEYS + [None]),
            "body": _bodies(),
        }
    )


def _check_answer(method: str, r: httpx.Response) -> None:
    assert r.status_code in DOCUMENTED, (r.status_code, r.text[:200])
    if r.status_code < 400 or method == "HEAD":
        return
    assert r.headers.get("content-type") == "application/json", r.headers
    doc = r.json()
    assert isinstance(doc, dict) and list(doc) == ["errors"] and len(doc["errors"]) == 1, doc
    err = doc["errors"][0]
    assert isinstance(err.get("errorType"), str) and isinstance(err.get("message"), str), err


def test_a_thousand_malformed_requests_all_get_an_answer(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    statuses: Counter[int] = Counter()
    knobs = Knobs(hourly_limit=1_000_000, monthly_limit=1_000_000)
    with LocalSandbox(":memory:", knobs) as box, httpx.Client(base_url=box.url, timeout=10) as client:
        with client_for(box) as c:
            sid = str(default_structure(c)["_id"])

        @settings(
            max_examples=1000,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(req=_requests(sid))
        def one(req: dict[str, Any]) -> None:
            headers = dict(req["headers"])
            if req["key"] is not None:
                headers["X-API-Key"] = req["key"]
            method, path = req["target"]
            r = client.request(  # a dropped connection raises here and fails the test
                method, path, params=req["params"], headers=headers, content=req["body"]
            )
            statuses[r.status_code] += 1
            _check_answer(method, r)

        one()
        with client_for(box) as c:  # still serving
            assert default_structure(c)["_id"] == sid
            r = c.post("/api/contact", json={"key": "after@example.com", "contactStructureId": sid})
            assert r.status_code == 200, r.text
    assert sum(statuses.values()) >= 1000
    assert {400, 401, 404} <= set(statuses), statuses  # the fuzz reached auth, routing and validation
    assert statuses[500] == 0, "a route raised an unexpected exception (see the log)"
    assert not [rec for rec in caplog.records if rec.name.startswith("etl.sandbox")], caplog.text


def _raw_answer(box: LocalSandbox, data: bytes) -> tuple[int, bytes]:
    """Send ``data`` on a fresh connection and read one HTTP/1.x response (status, body)."""
    host, port = box.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)  # whatever Content-Length said, this is all the body there is
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            assert chunk, f"closed without an answer to {data[:200]!r}"
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        assert lines[0].startswith("HTTP/1."), lines[0]
        length = next(
            (int(ln.split(":", 1)[1]) for ln in lines[1:] if ln.lower().startswith("content-length:")), 0
        )
        while len(rest) < length:
            chunk = sock.recv(65536)
            assert chunk, "closed mid-answer"
            rest += chunk
        return int(lines[0].split()[1]), rest[:length]


FRAMING = st.fixed_dictionaries(
    {
        "method": st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]),
        "path": st.sampled_from(["/api/contact", "/api/contact/search", "/api/contact-structure", "/x"]),
        "key": st.sampled_from(["bme_sandbox_key", "bad", None]),
        "lengths": st.lists(
            st.one_of(
                st.sampled_from(
                    ["abc", "-5", "", " ", "1e3", "0x10", "+3", "3 3", "²", "99999999999999999999999"]
                ),
                st.integers(min_value=0, max_value=2 * 1024 * 1024 * 1024).map(str),
                JUNK_TEXT,
            ),
            max_size=2,
        ),
        "chunked": st.booleans(),
        "body": st.binary(max_size=32),
    }
)


def test_junk_framing_over_a_raw_socket_always_gets_an_http_answer() -> None:
    statuses: Counter[int] = Counter()
    with LocalSandbox(":memory:", Knobs(hourly_limit=1_000_000, monthly_limit=1_000_000)) as box:

        @settings(
            max_examples=200,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(req=FRAMING)
        def one(req: dict[str, Any]) -> None:
            lines = [f"{req['method']} {req['path']} HTTP/1.1", "Host: sandbox"]
            if req["key"] is not None:
                lines.append(f"X-API-Key: {req['key']}")
            lines += [f"Content-Length: {value}" for value in req["lengths"]]
            if req["chunked"]:
                lines.append("Transfer-Encoding: chunked")
            data = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + req["body"]
            status, body = _raw_answer(box, data)
            statuses[status] += 1
            assert status in DOCUMENTED, status
            if status >= 400:
                doc = json.loads(body)
                assert list(doc) == ["errors"] and isinstance(doc["errors"][0]["errorType"], str), doc

        one()
        with client_for(box) as c:
            assert default_structure(c)["label"] == "Default Contacts"
    assert {400, 411} <= set(statuses), statuses
