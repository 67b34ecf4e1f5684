"""A mixed-encoding file through the CLI (issue #15 item 4): a UTF-8 export of accented names with one
line pasted from a cp1252 file used to be read wholly as cp1252, garbling every accent (``JosÃ©``). It is
now refused in one line naming the file and the first line that is not UTF-8, suggesting ``--encoding``;
nothing is written. A file wholly in cp1252 is still detected and read.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import Run

NAMES = ["José García", "Zoë Müller", "Renée Dubois", "François Lefèvre", "Ångström Ærø", "Łukasz Żółć"]


def _lines() -> list[str]:
    return ["email,name"] + [f"user{i}@example.com,{n}" for i, n in enumerate(NAMES)]


def test_one_cp1252_line_in_a_utf8_file_is_refused_naming_the_line(run: Run, tmp_path: Path) -> None:
    head = "\n".join(_lines()[:4]) + "\n"
    tail = "\n".join(_lines()[4:]) + "\n"
    src = tmp_path / "mixed.csv"
    src.write_bytes(head.encode() + "pasted@example.com,Andrés Peña\n".encode("cp1252") + tail.encode())
    out = tmp_path / "r"
    res = run(["validate", str(src), "--report-dir", str(out)])
    assert res.exit_code == 2, res.err
    lines = [ln for ln in res.err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "unexpected" not in lines[0], res.err
    assert lines[0].startswith(f"error: {src}:5:"), lines[0]  # header + 3 names, then the cp1252 line
    assert "mixed encodings" in lines[0] and "--encoding" in lines[0]
    assert not (out / "report.json").exists()


def test_a_wholly_cp1252_file_is_still_read(run: Run, tmp_path: Path) -> None:
    src = tmp_path / "legacy.csv"
    names = [n for n in NAMES if n.encode("cp1252", "ignore").decode("cp1252") == n]  # all but Łukasz
    body = "email,name\n" + "".join(f"user{i}@example.com,{n}\n" for i, n in enumerate(names))
    src.write_bytes(body.encode("cp1252"))
    out = tmp_path / "r"
    res = run(["validate", str(src), "--report-dir", str(out)])
    assert res.exit_code == 0, res.err
    doc = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert doc["rows"]["valid"] == len(names)
    assert "cp1252" in res.err
