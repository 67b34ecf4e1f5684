"""JSON array and NDJSON readers: objects become rows of strings.

Cell policy (same idea as CSV: strings in, nothing interpreted): a string stays as is (``""`` → null), null
→ null, ``true``/``false`` → ``"true"``/``"false"``, numbers → their JSON text (``4.5``, ``3``), nested
objects and arrays → compact JSON text (``{"plan":"pro"}``). Columns appear in first-seen key order.

``source_line``: for NDJSON the physical line of the object; for a JSON array the item's 1-based index
in the array (a JSON document has no useful line per item). A top-level object whose only value is an
array of objects (``{"contacts": [...]}``) is read like that array.

Structural rejects: an array item or NDJSON line that is not an object (``not_an_object``) and an NDJSON
line that is not JSON (``invalid_json``). A ``.json`` file that does not parse at all is an
``InputError`` with line and column — unless it is really NDJSON, which is then read as such.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl

from etl.errors import InputError
from etl.extract.dialect import column_names
from etl.extract.encoding import sniff_encoding, utf8_source
from etl.extract.result import PART_REJECT_SCHEMA, REC, FileInfo, Part
from etl.model import SOURCE_LINE


def cell(value: Any) -> str | None:
    """One JSON value as a raw string cell (see the module docstring)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def read_json(path: Path, label: str, workdir: Path, given: str | None = None) -> Part:
    """A JSON document (an array of objects, or an object holding one); ``given``: ``--encoding``."""
    encoding, bom_len = sniff_encoding(path, label, given)
    with utf8_source(path, workdir, label, encoding, bom_len) as src:
        text = src.path.read_text(encoding="utf-8-sig")
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            if exc.msg == "Extra data" and text.lstrip().startswith("{"):
                return _ndjson(src.path, label, encoding, bom_len > 0)
            raise InputError(
                f"not valid JSON: {exc.msg}", path=label, line=exc.lineno, column=exc.colno
            ) from None
        del text
    items = _items(doc, label)
    return _build(((i + 1, item, None) for i, item in enumerate(items)), label, "json", encoding, bom_len > 0)


def read_ndjson(path: Path, label: str, workdir: Path, given: str | None = None) -> Part:
    """One JSON object per line; ``given``: ``--encoding``."""
    encoding, bom_len = sniff_encoding(path, label, given)
    with utf8_source(path, workdir, label, encoding, bom_len) as src:
        return _ndjson(src.path, label, encoding, bom_len > 0)


def _items(doc: Any, label: str) -> list[Any]:
    if isinstance(doc, dict):
        arrays = [v for v in doc.values() if isinstance(v, list)]
        if len(doc) == 1 and len(arrays) == 1:
            return arrays[0]
        raise InputError(
            "expected a JSON array of objects (or an object holding exactly one array)", path=label
        )
    if not isinstance(doc, list):
        raise InputError(f"expected a JSON array of objects, found {type(doc).__name__}", path=label)
    return doc


def _ndjson(path: Path, label: str, encoding: str, bom: bool) -> Part:
    def records() -> Iterable[tuple[int, Any, str | None]]:
        with path.open("r", encoding="utf-8-sig") as fh:
            for lineno, line in enumerate(fh, start=1):
                stripped = line.strip()
                if not stripped:
                    continue
                try:
                    yield lineno, json.loads(stripped), None
                except json.JSONDecodeError as exc:
                    yield lineno, stripped, f"line {lineno}: not JSON ({exc.msg} at column {exc.colno})"

    return _build(records(), label, "ndjson", encoding, bom)


def _build(
    records: Iterable[tuple[int, Any, str | None]], label: str, kind: str, encoding: str, bom: bool
) -> Part:
    """Turn (line, value, parse error) triples into a Part; non-objects and parse errors are rejects."""
    keys: dict[str, None] = {}
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    recs: list[int] = []
    rejects: list[tuple[int, int, str, str, str]] = []
    rec = -1
    for rec, (line, value, error) in enumerate(records):
        if error is not None:
            rejects.append((rec, line, "invalid_json", error, str(value)))
        elif not isinstance(value, dict):
            where = f"line {line}" if kind == "ndjson" else f"item {line}"
            rejects.append(
                (
                    rec,
                    line,
                    "not_an_object",
                    f"{where}: expected an object, found {type(value).__name__}",
                    json.dumps(value, ensure_ascii=False),
                )
            )
        else:
            keys.update(dict.fromkeys(value))
            rows.append(value)
            lines.append(line)
            recs.append(rec)
    raw_keys = list(keys)
    names = column_names(raw_keys)
    columns = {
        name: pl.Series(name, [cell(r.get(k)) for r in rows], dtype=pl.String)
        for name, k in zip(names, raw_keys, strict=True)
    }
    frame = pl.DataFrame(columns, height=len(rows)).with_columns(
        pl.Series(SOURCE_LINE, lines, dtype=pl.Int64), pl.Series(REC, recs, dtype=pl.Int64)
    )
    info = FileInfo(
        path=label, encoding=encoding, delimiter=None, kind=kind, rows=rec + 1, header=tuple(names), bom=bom
    )
    return Part(frame, pl.DataFrame(rejects, schema=PART_REJECT_SCHEMA, orient="row"), info)
