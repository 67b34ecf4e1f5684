"""Issue #15 items 3 and 21: column names that look like the tool's own bookkeeping are data like any other,
and names or cells carrying terminal control sequences are printed escaped."""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path
from typing import Any

from etl.terminal import printable
from tests.load_support import account_contacts

HOSTILE_HEADERS = [
    "row_id",
    "source_file",
    "source_line",
    "reason_code",
    "reason",
    "raw_line",
    "__bme_x",
    "_rec",
]


def _values(contact: Any) -> set[str]:
    """Every custom field value a sandbox contact holds (its ``fields``: (field id, value) pairs)."""
    return {str(value) for _, value in contact.fields}


def test_bookkeeping_like_headers_are_mapped_and_their_values_arrive(
    run: Any, sandbox_factory: Any, tmp_path: Path
) -> None:
    src = tmp_path / "export.csv"
    rows = [
        [*HOSTILE_HEADERS, "email"],
        ["11", "f.csv", "31", "c1", "r1", "raw1", "x1", "rec1", "a@example.com"],
        ["12", "g.csv", "41", "c2", "r2", "raw2", "x2", "rec2", "b@example.com"],
        ["13", "h.csv", "51", "c3", "r3", "raw3", "x3", "rec3", "not-an-email"],
    ]
    with src.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)

    checked = run(["validate", str(src), "--preset", "generic", "--report-dir", str(tmp_path / "v")])
    assert checked.exit_code == 0, checked.output
    doc = json.loads((tmp_path / "v" / "report.json").read_text())
    mapped = [c["source"] for c in doc["mapping"]["columns"]]
    # every source column appears in the mapping exactly once (renamed ones under their `` (2)`` name)
    assert len(mapped) == 9 and len(set(mapped)) == 9
    assert all(c["kind"] in ("field", "email") for c in doc["mapping"]["columns"])
    t = doc["rows"]
    assert t["read"] == 3 and t["valid"] == 2 and t["rejected"] == 1
    # the rejected row is written back with every original header and cell
    with (tmp_path / "v" / "rejects.csv").open(encoding="utf-8-sig", newline="") as fh:
        back = list(csv.reader(fh))
    assert back[0][:9] == rows[0] and back[1][:9] == rows[3]

    box = sandbox_factory()
    env = {"BME_BASE_URL": box.url, "BME_API_KEY": box.api_key}
    args = ["migrate", str(src), "--preset", "generic", "--create-fields"]
    args += ["--state-dir", str(tmp_path / "s"), "--report-dir", str(tmp_path / "r")]
    done = run(args, env)
    assert done.exit_code == 0, done.output
    have = account_contacts(box.app)
    assert sorted(have) == ["a@example.com", "b@example.com"]
    assert {"11", "f.csv", "31", "c1", "r1", "raw1", "x1", "rec1"} <= _values(have["a@example.com"])
    assert {"12", "g.csv", "41", "c2", "r2", "raw2", "x2", "rec2"} <= _values(have["b@example.com"])
    t = json.loads((tmp_path / "r" / "report.json").read_text())["rows"]
    assert t["read"] == 3 and t["created"] == 2 and t["rejected"] == 1


def test_a_fixed_rejects_file_fed_back_drops_only_its_own_bookkeeping(run: Any, tmp_path: Path) -> None:
    src = tmp_path / "export.csv"
    src.write_text("email,reason,Name\nnot-an-email,moved,Ann\nb@example.com,new,Bob\n", encoding="utf-8")
    first = run(["validate", str(src), "--preset", "generic", "--report-dir", str(tmp_path / "v")])
    assert first.exit_code == 0, first.output
    fixed = tmp_path / "fixed.csv"
    text = (tmp_path / "v" / "rejects.csv").read_text(encoding="utf-8-sig")
    fixed.write_text(text.replace("not-an-email", "a@example.com"), encoding="utf-8")
    again = run(["validate", str(fixed), "--preset", "generic", "--report-dir", str(tmp_path / "w")])
    assert again.exit_code == 0, again.output
    doc = json.loads((tmp_path / "w" / "report.json").read_text())
    assert doc["rows"]["valid"] == 1 and doc["rows"]["rejected"] == 0
    routes = {c["source"]: c for c in doc["mapping"]["columns"]}
    # the export's own "reason" column is data; rejects.csv's reason_code/reason/source_*/field are not
    assert sorted(routes) == ["Name", "email", "reason (2)"]
    assert routes["reason (2)"]["kind"] == "field"


TITLE = "\x1b]0;pwned\x07"  # an OSC sequence: retitles the terminal window
RED = "\x1b[31m"


def _no_raw_controls(text: str) -> None:
    assert not any(ch in text for ch in ("\x1b", "\x07", "\x9b", "\x7f")), repr(text)


def test_printable_escapes_c0_c1_and_del_and_keeps_unicode() -> None:
    assert printable(f"a{TITLE}b") == "a\\x1b]0;pwned\\x07b"
    assert printable("\x9b2J\x7f\x00\n") == "\\x9b2J\\x7f\\x00\\x0a"
    assert printable("Müller 日本 ✓") == "Müller 日本 ✓"


def test_control_sequences_in_names_and_cells_are_printed_escaped(run: Any, tmp_path: Path) -> None:
    src = tmp_path / f"export{TITLE}.csv"
    src.write_text(
        f"email,{RED}Name,{RED}Newsletter\na@example.com,{RED}Ann,maybe\nbad{RED},x,yes\n", encoding="utf-8"
    )
    done = run(["validate", str(src), "--preset", "generic", "--report-dir", str(tmp_path / "r")])
    assert done.exit_code == 0, done.output
    _no_raw_controls(done.out + done.err)
    # the header is still named, escaped, in the summary's consent warning
    assert '"\\x1b[31mNewsletter"' in done.output
    doc = json.loads((tmp_path / "r" / "report.json").read_text())
    assert doc["rows"]["read"] == 2 and doc["rows"]["valid"] + doc["rows"]["rejected"] == 2


def test_a_zip_member_named_with_an_escape_sequence_is_named_escaped(run: Any, tmp_path: Path) -> None:
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(f"members{TITLE}.csv", f"name,{RED}col\nAnn,x\n")
    done = run(["validate", str(archive), "--preset", "generic", "--report-dir", str(tmp_path / "r")])
    assert done.exit_code == 2, done.output
    _no_raw_controls(done.out + done.err)
    assert done.out == "" and done.err.count("\n") == 1
    assert "members\\x1b]0;pwned\\x07.csv" in done.err and "no email column" in done.err
    assert not (tmp_path / "r" / "report.json").exists()


def test_a_missing_file_named_with_an_escape_sequence_is_named_escaped(run: Any, tmp_path: Path) -> None:
    done = run(["validate", str(tmp_path / f"gone{TITLE}.csv"), "--preset", "generic"])
    assert done.exit_code == 2, done.output
    _no_raw_controls(done.out + done.err)
    assert "gone\\x1b]0;pwned\\x07.csv" in done.err
