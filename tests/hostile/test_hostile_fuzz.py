"""Fuzz (issue #15): generated CSV, ZIP and JSON inputs through ``bme-migrate validate`` — bytes mutated
from a valid export, archives with bad names, nesting, corrupt streams and foreign members, JSON nested
deep, with huge integers and lone surrogates. Whatever the input, the run ends in exit 0 with every row
accounted for (read = valid + rejected + merged_duplicate + any other outcome) or in one line with
exit 2 — never "unexpected error". A fixed, derandomised budget keeps it deterministic and under a minute.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import Run

VALID_CSV = (
    "Email Address,First Name,Last Name,MEMBER_RATING,OPTIN_TIME\n"
    "alice@example.com,Alice,Åberg,2,2023-01-05 10:00:00\n"
    "bob@example.com,Bob,Müller,3,2023-02-05 11:00:00\n"
    'carol@example.com,"Carol, Jr.",Ng,1,\n'
    "dave@example.com,Dave,Żółw,5,2023-03-05 12:00:00\n"
).encode()
VALID_NDJSON = b'{"email": "alice@example.com", "name": "Alice"}\n{"email": "bob@example.com", "n": 3}\n'

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@st.composite
def mutated(draw: st.DrawFn, base: bytes) -> bytes:
    """``base`` with a few bytes replaced, inserted or deleted, or cut short."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["replace", "insert", "delete", "truncate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "replace" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete" and data:
            del data[at : at + draw(st.integers(1, 8))]
        elif op == "truncate":
            data = data[: max(at, 1)]
    return bytes(data)


member_names = st.sampled_from(
    [
        "subscribed.csv",
        "members/cleaned.csv",
        "../up.csv",
        "..\\win.csv",
        "/abs.csv",
        "C:drive.csv",
        ".hidden.csv",
        "__MACOSX/._subscribed.csv",
        "readme.pdf",
        "data.ndjson",
        "inner.zip",
        "dir/",
        "\x1b[31mred.csv",
    ]
)


@st.composite
def archives(draw: st.DrawFn, depth: int = 0) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in draw(st.lists(member_names, min_size=1, max_size=5, unique=True)):
            if name.endswith(".zip"):
                data = draw(archives(depth + 1)) if depth < 2 else b"PK\x03\x04not a zip"
            elif name.endswith(".ndjson"):
                data = draw(st.sampled_from([VALID_NDJSON, draw(json_docs())]))
            elif name.endswith("/"):
                data = b""
            else:
                data = draw(st.one_of(st.just(VALID_CSV), mutated(VALID_CSV)))
            method = draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
            zf.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), data, method)
    raw = buf.getvalue()
    if draw(st.booleans()):
        raw = draw(mutated(raw))  # corrupt streams, headers, CRCs, the central directory
    return raw


@st.composite
def json_docs(draw: st.DrawFn) -> bytes:
    """NDJSON lines, some hostile: deep nesting, huge integers, lone surrogates, not-objects, not JSON."""
    pieces = st.sampled_from(
        [
            '{"email": "ok@example.com", "name": "Ok"}',
            "[" * 5000 + "]" * 5000,
            '{"email": "deep@example.com", "x": ' + "[" * 3000 + "]" * 3000 + "}",
            '{"email": "big@example.com", "n": ' + "7" * 5000 + "}",
            '{"email": "sur@example.com", "name": "\\ud83d"}',
            '{"email": "pair@example.com", "name": "\\ud83d\\ude00"}',
            "42",
            "{not json",
            '{"email": null}',
        ]
    )
    lines = draw(st.lists(pieces, min_size=1, max_size=6))
    return ("\n".join(lines) + "\n").encode()


def _check(run: Run, name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory(prefix="bme-fuzz-") as tmp:
        src = Path(tmp) / name
        src.write_bytes(data)
        out = Path(tmp) / "r"
        res = run(["validate", str(src), "--report-dir", str(out)])
        assert "unexpected error" not in res.err and "Traceback" not in res.err, res.err
        assert res.exit_code in (0, 2), (res.exit_code, res.err)
        if res.exit_code == 2:
            lines = [ln for ln in res.err.splitlines() if ln.startswith("error:")]
            assert len(lines) == 1, res.err
            return
        totals = json.loads((out / "report.json").read_text(encoding="utf-8"))["rows"]
        others = sum(v for k, v in totals.items() if k != "read")
        assert totals["read"] == others, totals


@FUZZ
@given(data=mutated(VALID_CSV))
def test_fuzz_mutated_csv(run: Run, data: bytes) -> None:
    _check(run, "export.csv", data)


@FUZZ
@given(data=archives())
def test_fuzz_archives(run: Run, data: bytes) -> None:
    _check(run, "export.zip", data)


@settings(FUZZ, max_examples=90)  # the deep documents cost most: a smaller share of the budget
@given(data=json_docs(), as_array=st.booleans())
def test_fuzz_json(run: Run, data: bytes, as_array: bool) -> None:
    if as_array:
        text = "[" + ",".join(ln for ln in data.decode().splitlines() if ln) + "]"
        _check(run, "export.json", text.encode())
    else:
        _check(run, "export.ndjson", data)
