"""JSON array and NDJSON readers: objects become rows of strings.

Cell policy (same idea as CSV: strings in, nothing interpreted): a string stays as is (``""`` → null), null
→ null, ``true``/``false`` → ``"true"``/``"false"``, numbers → their JSON text (``4.5``, ``3``), nested
objects and arrays → compact JSON text (``{"plan":"pro"}``). Columns appear in first-seen key order.

``source_line``: for NDJSON the physical line of the object; for a JSON array the item's 1-based index
in the array (a JSON document has no useful line per item). A top-level object whose only value is an
array of objects (``{"contacts": [...]}``) is read like that array.

Structural rejects: an array item or NDJSON line that is not an object (``not_an_object``) and an NDJSON
line that is not JSON (``invalid_json``) — including JSON Python cannot hold: nesting deeper than its
recursion limit, an integer past its 4,300-digit limit, and a string with a lone surrogate escape
(``"\\ud800"``, which no UTF-8 output can carry; for a JSON array that item is the ``invalid_json``
reject). A ``.json`` file that does not parse at all is an ``InputError`` (one line, with line and
column when the parser gives them) — unless it is really NDJSON, which is then read as such.
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
        except (RecursionError, ValueError) as exc:
            raise InputError(f"JSON this tool cannot read: {_unreadable(exc)}", path=label) from None
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
                    value = json.loads(stripped)
                except json.JSONDecodeError as exc:
                    yield lineno, stripped, f"line {lineno}: not JSON ({exc.msg} at column {exc.colno})"
                    continue
                except (RecursionError, ValueError) as exc:
                    yield lineno, stripped, f"line {lineno}: JSON this tool cannot read ({_unreadable(exc)})"
                    continue
                # only a \\u escape makes a lone surrogate, only deep brackets a value too deep to write
                if "\\u" in stripped or stripped.count("[") + stripped.count("{") > DEEP:
                    problem = _unwritable(value)
                    if problem is not None:
                        yield lineno, stripped, f"line {lineno}: JSON this tool cannot read ({problem})"
                        continue
                yield lineno, value, None

    return _build(records(), label, "ndjson", encoding, bom)


RAW_CHARS = 1000  # a reject's raw text when it is rebuilt from a parsed item


def _safe_text(text: str) -> str:
    """``text`` with lone surrogates escaped, so it can be written as UTF-8."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


DEEP = 64  # brackets on one NDJSON line past which its value is checked for being writable


def _unreadable(exc: BaseException) -> str:
    """What Python's JSON parser could not hold, in words."""
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if "digits" in str(exc):
        return "an integer with more than 4,300 digits"
    return str(exc)


def _unwritable(value: Any) -> str | None:
    """Why a parsed value cannot be written out as UTF-8 JSON (a lone surrogate, nesting too deep)."""
    try:
        json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        return "a lone surrogate escape, not a character"
    except (RecursionError, ValueError) as exc:
        return _unreadable(exc)
    return None


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
        problem = None if error is not None or kind != "json" else _unwritable(value)
        if problem is not None:
            error = f"item {line}: JSON this tool cannot read ({problem})"
            value = json.dumps(value)[:RAW_CHARS] if problem != "nested too deeply" else "(nested too deeply)"
        if error is not None:
            rejects.append((rec, line, "invalid_json", error, _safe_text(str(value))))
        elif not isinstance(value, dict):
            where = f"line {line}" if kind == "ndjson" else f"item {line}"
            rejects.append(
                (
                    rec,
                    line,
                    "not_an_object",
                    f"{where}: expected an object, found {type(value).__name__}",
                    _safe_text(json.dumps(value, ensure_ascii=False)),
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
