"""JSON arrays and NDJSON: cell rendering, line numbers, structural rejects, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from etl.errors import InputError
from etl.extract import read_sources
from etl.extract.jsonl import cell


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_cell_rendering() -> None:
    assert [cell(v) for v in (None, "", " x ", True, False, 3, 4.5, {"a": [1, "é"]}, [])] == [
        None,
        None,
        " x ",
        "true",
        "false",
        "3",
        "4.5",
        '{"a":[1,"é"]}',
        "[]",
    ]


def test_json_array_index_is_source_line(tmp_path: Path) -> None:
    doc = [{"email": "a@example.com", "n": 1}, {"email": "b@example.org", "extra": {"k": "v"}}]
    res = read_sources([write(tmp_path, "c.json", json.dumps(doc, indent=2))])
    f = res.frame
    assert f.columns == ["row_id", "source_file", "source_line", "email", "n", "extra"]
    assert f["source_line"].to_list() == [1, 2]
    assert f.select("n", "extra").rows() == [("1", None), (None, '{"k":"v"}')]
    assert res.files[0].kind == "json" and res.files[0].delimiter is None


def test_json_envelope_and_non_objects(tmp_path: Path) -> None:
    doc = {"contacts": [{"email": "a@example.com"}, "oops", {"email": "c@example.com"}]}
    res = read_sources([write(tmp_path, "e.json", json.dumps(doc))])
    assert res.frame["row_id"].to_list() == [0, 2]
    assert res.rejects.select("row_id", "source_line", "reason_code", "raw").rows() == [
        (1, 2, "not_an_object", '"oops"')
    ]


def test_ndjson_lines_blank_lines_and_bad_lines(tmp_path: Path) -> None:
    text = '{"email":"a@example.com"}\n\n{"email": "b@example.com", "tags": ["x"]}\n{broken\n[1]\n'
    res = read_sources([write(tmp_path, "c.ndjson", text)])
    assert res.frame.select("source_line", "email", "tags").rows() == [
        (1, "a@example.com", None),
        (3, "b@example.com", '["x"]'),
    ]
    assert res.rejects.select("row_id", "source_line", "reason_code").rows() == [
        (2, 4, "invalid_json"),
        (3, 5, "not_an_object"),
    ]
    assert res.rows_read == 4 == res.files[0].rows


def test_json_file_that_is_really_ndjson(tmp_path: Path) -> None:
    res = read_sources([write(tmp_path, "x.json", '{"email":"a@example.com"}\n{"email":"b@example.com"}\n')])
    assert res.frame["source_line"].to_list() == [1, 2]
    assert res.files[0].kind == "ndjson"


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    with pytest.raises(InputError) as exc:
        read_sources([write(tmp_path, "bad.json", '[\n  {"email": "a@example.com",}\n]')])
    assert exc.value.line == 2 and exc.value.column is not None
    with pytest.raises(InputError, match="expected a JSON array"):
        read_sources([write(tmp_path, "num.json", "42")])


def test_cp1252_json_is_transcoded(tmp_path: Path) -> None:
    p = tmp_path / "w.json"
    p.write_bytes('[{"name": "Ren\u00e9e"}]'.encode("cp1252"))
    res = read_sources([p])
    assert res.frame["name"].to_list() == ["Renée"] and res.files[0].encoding == "cp1252"
