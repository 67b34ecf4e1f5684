"""Hostile JSON and NDJSON through the CLI (issue #15 item 8): a record nested past Python's recursion
limit, an integer past its 4,300-digit limit and a lone surrogate escape each become an ``invalid_json``
reject of that record, naming its line, while the other records load; a whole JSON document that cannot
be read is one line with exit 2.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.e2e.conftest import Run

DEEP = "[" * 100_000 + "]" * 100_000
HUGE = "9" * 5000


def _report(out: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((out / "report.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_ndjson_bad_records_are_rejects_and_the_rest_loads(run: Run, tmp_path: Path) -> None:
    src = tmp_path / "contacts.ndjson"
    lines = [
        '{"email": "alice@example.com", "name": "Alice"}',
        DEEP,
        '{"email": "bob@example.com", "deep": ' + "[" * 5000 + "]" * 5000 + "}",
        '{"email": "carol@example.com", "score": ' + HUGE + "}",
        '{"email": "dave@example.com", "name": "\\ud800"}',
        '{"email": "erin@example.com", "name": "Erin \\u00e9"}',
    ]
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "r"
    res = run(["validate", str(src), "--report-dir", str(out)])
    assert res.exit_code == 0, res.err
    assert "unexpected error" not in res.err
    doc = _report(out)
    assert doc["rows"]["read"] == 6
    assert doc["rows"]["valid"] == 2  # alice, erin
    assert doc["rejects_by_reason"] == {"invalid_json": 4}
    reasons = {s["line"]: s["reason"] for s in doc["reject_samples"]["invalid_json"]}
    assert "line 2:" in reasons[2] and "nested too deeply" in reasons[2]
    assert "nested too deeply" in reasons[3]
    assert "4,300 digits" in reasons[4]
    assert "lone surrogate" in reasons[5]
    with (out / "rejects.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(int(r["source_line"]) for r in rows) == [2, 3, 4, 5]


def test_json_array_item_with_a_lone_surrogate_is_a_reject(run: Run, tmp_path: Path) -> None:
    src = tmp_path / "contacts.json"
    src.write_text(
        '[{"email": "alice@example.com"}, {"email": "bob@example.com", "name": "\\udfff"}]', encoding="utf-8"
    )
    out = tmp_path / "r"
    res = run(["validate", str(src), "--report-dir", str(out)])
    assert res.exit_code == 0, res.err
    doc = _report(out)
    assert doc["rows"]["read"] == 2 and doc["rows"]["valid"] == 1
    (sample,) = doc["reject_samples"]["invalid_json"]
    assert sample["line"] == 2 and "item 2" in sample["reason"] and "lone surrogate" in sample["reason"]


def test_unreadable_json_document_is_one_line(run: Run, tmp_path: Path) -> None:
    for name, text, words in (
        ("deep.json", DEEP, "nested too deeply"),
        (
            "huge.json",
            '[{"email": "a@example.com", "n": ' + HUGE + "}]",
            "an integer with more than 4,300 digits",
        ),
    ):
        src = tmp_path / name
        src.write_text(text, encoding="utf-8")
        out = tmp_path / f"r-{name}"
        res = run(["validate", str(src), "--report-dir", str(out)])
        assert res.exit_code == 2, res.err
        lines = [ln for ln in res.err.splitlines() if ln.strip()]
        assert len(lines) == 1 and "unexpected" not in lines[0], res.err
        assert lines[0].startswith(f"error: {src}: JSON this tool cannot read: {words}"), lines[0]
        assert not (out / "report.json").exists()
