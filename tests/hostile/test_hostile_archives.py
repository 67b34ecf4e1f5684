"""Hostile ZIP archives through the CLI (issue #15 items 5, 7, 14): members whose names leave the archive,
archives inside archives, corrupt and encrypted members, a ZIP bomb, and a giant value that must not be
copied whole into the reports. Each case is exit 0 with every skipped member named, or one line naming
the archive and member with exit 2 — never "unexpected error", never a byte written outside a temp dir.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from etl.validate.report import RAW_LINE_CHARS
from etl.validate.rows import FIELD_VALUE_CHARS
from tests.e2e.conftest import Run

ROOT = Path(__file__).resolve().parents[2]
HEADER = "Email Address,First Name\n"


def _rows(*names: str) -> str:
    return HEADER + "".join(f"{n}@example.com,{n.title()}\n" for n in names)


def _zip_bytes(members: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def _one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "unexpected error" not in err and "Traceback" not in err
    return lines[0]


def _totals(report_dir: Path) -> dict[str, int]:
    totals: dict[str, int] = json.loads((report_dir / "report.json").read_text())["rows"]
    return totals


def test_unsafe_member_names_are_skipped_by_name_and_nested_zip_is_read(run: Run, tmp_path: Path) -> None:
    """Item 5: ``../``, ``..\\``, absolute and drive names are named with why; a ZIP in the ZIP is read."""
    work = tmp_path / "work"
    work.mkdir()
    inner = _zip_bytes(
        {"inner.csv": _rows("carol", "dave"), "deeper.zip": _zip_bytes({"x.csv": _rows("eve")})}
    )
    archive = work / "export.zip"
    archive.write_bytes(
        _zip_bytes(
            {
                "../evil.csv": _rows("mallory"),
                "..\\evil2.csv": _rows("mallory2"),
                "/abs.csv": _rows("mallory3"),
                "C:evil3.csv": _rows("mallory4"),
                "notes.pdf": b"%PDF-1.4",
                "members/subscribed.csv": _rows("alice", "bob"),
                "nested.zip": inner,
            }
        )
    )
    out = tmp_path / "r"
    res = run(["validate", str(archive), "--report-dir", str(out)])
    assert res.exit_code == 0, res.err
    assert "unexpected error" not in res.err
    warnings = [ln for ln in res.err.splitlines() if "skipped member" in ln]
    for name in ("../evil.csv", "..\\evil2.csv", "/abs.csv", "C:evil3.csv"):
        assert any(f"skipped member {name} (its name points outside the archive)" in w for w in warnings), (
            name,
            res.err,
        )
    assert any("skipped member notes.pdf (not an export file type" in w for w in warnings), res.err
    assert any(
        "nested.zip: skipped member deeper.zip (an archive inside an archive inside an archive" in w
        for w in warnings
    ), res.err
    # alice, bob from the archive; carol, dave from the ZIP inside it; nothing of the skipped members
    assert _totals(out)["read"] == 4
    assert _totals(out)["valid"] == 4
    doc = json.loads((out / "report.json").read_text())
    files = [f["path"] if isinstance(f, dict) else f for f in doc["files"]]
    assert any("nested.zip::inner.csv" in str(f) for f in files), files
    assert not (tmp_path / "evil.csv").exists() and not (work.parent / "evil.csv").exists()
    assert not Path("/abs.csv").exists()
    assert sorted(p.name for p in work.iterdir()) == ["export.zip"]


def test_archive_of_only_unsafe_members_names_them(run: Run, tmp_path: Path) -> None:
    archive = tmp_path / "bad.zip"
    archive.write_bytes(_zip_bytes({"../../etc/evil.csv": _rows("mallory")}))
    res = run(["validate", str(archive), "--report-dir", str(tmp_path / "r")])
    assert res.exit_code == 2
    line = _one_line(res.err)
    assert "bad.zip" in line and "../../etc/evil.csv (its name points outside the archive)" in line


def _corrupt_deflate(members: dict[str, str], victim: str) -> bytes:
    """An archive whose ``victim`` member's deflate stream starts with a reserved block type (zlib -3)."""
    data = bytearray(_zip_bytes(members))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo(victim)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start] = 0x07  # BFINAL=1, BTYPE=11: "invalid block type"
    return bytes(data)


def test_corrupt_deflate_stream_is_one_line_naming_archive_and_member(run: Run, tmp_path: Path) -> None:
    """Item 7: zlib error -3 inside a member → one line, exit 2, the archive and the member named."""
    archive = tmp_path / "export.zip"
    big = _rows(*(f"person{i}" for i in range(2000)))
    archive.write_bytes(_corrupt_deflate({"a.csv": _rows("alice"), "b.csv": big}, "b.csv"))
    out = tmp_path / "r"
    res = run(["validate", str(archive), "--report-dir", str(out)])
    assert res.exit_code == 2, res.err
    line = _one_line(res.err)
    assert f"{archive}::b.csv" in line and "corrupt compressed data" in line, line
    assert not (out / "report.json").exists()


def test_encrypted_member_is_one_line_without_a_python_repr(run: Run, tmp_path: Path) -> None:
    """Item 7 (and 23's encrypted-ZIP message): no ``<ZipInfo …>`` in the line."""
    data = bytearray(_zip_bytes({"secret.csv": _rows("alice")}))
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    data[local + 6] |= 0x01  # general purpose flag bit 0: encrypted
    data[central + 8] |= 0x01
    archive = tmp_path / "locked.zip"
    archive.write_bytes(bytes(data))
    res = run(["validate", str(archive), "--report-dir", str(tmp_path / "r")])
    assert res.exit_code == 2
    line = _one_line(res.err)
    assert "locked.zip::secret.csv" in line and "encrypted" in line
    assert "ZipInfo" not in line and "<" not in line


def test_member_name_with_escape_sequence_is_shown_escaped(run: Run, tmp_path: Path) -> None:
    archive = tmp_path / "export.zip"
    archive.write_bytes(_zip_bytes({"a.csv": _rows("alice"), "\x1b]0;pwned\x07.pdf": b"x"}))
    res = run(["validate", str(archive), "--report-dir", str(tmp_path / "r")])
    assert res.exit_code == 0, res.err
    assert "\x1b" not in res.err and "\\x1b]0;pwned\\x07.pdf" in res.err


def _bomb(path: Path, size: int) -> None:
    """A ZIP whose one CSV member expands to ``size`` bytes of the same long row (deflate packs ~1000:1)."""
    line = b"same.person@example.com," + b"S" * 2000 + b"\n"
    chunk = line * ((1 << 20) // len(line))
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf,
        zf.open("bomb.csv", "w", force_zip64=True) as out,
    ):
        out.write(HEADER.encode())
        done = 0
        while done < size:
            out.write(chunk)
            done += len(chunk)


def _measured(args: list[str], env: dict[str, str]) -> tuple[int, str, int, float]:
    """Run the CLI in a child of a child and return (exit, stderr, peak RSS in KiB of the CLI, seconds):
    the middle process's RUSAGE_CHILDREN holds only the CLI, not earlier children of the test run."""
    probe = (
        "import resource, subprocess, sys, json\n"
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "print(json.dumps([r.returncode, r.stderr, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))\n"
    )
    cli = [sys.executable, "-c", "from etl.cli import main; main()"]
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", probe, *cli, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    code, err, rss = json.loads(done.stdout)
    return code, err, rss, time.monotonic() - started


def test_zip_bomb_stops_at_the_cap_with_bounded_memory(tmp_path: Path) -> None:
    """Item 14: a few-MB archive expanding to 1 GiB stops with exit 2 (ratio cap by default, size cap when
    the ratio is raised), peak RSS under 500 MB, and nothing is left in the temp dir."""
    archive = tmp_path / "bomb.zip"
    _bomb(archive, 1 << 30)
    assert archive.stat().st_size < 4 << 20  # "a few MB"; ratio over 250
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    env.pop("BME_MAX_ARCHIVE_SIZE", None)
    env.pop("BME_MAX_ARCHIVE_RATIO", None)
    base = ["validate", str(archive), "--report-dir", str(tmp_path / "r")]

    code, err, rss, _ = _measured(base, env)
    assert code == 2, err
    line = _one_line(err)
    assert "bomb.zip::bomb.csv" in line and "more than 200 times its compressed size" in line
    assert rss < 500 * 1024, rss
    assert list(tmp.iterdir()) == []
    assert not (tmp_path / "r" / "report.json").exists()

    code, err, rss, _ = _measured([*base, "--max-archive-ratio", "100000", "--max-archive-size", "64M"], env)
    assert code == 2, err
    line = _one_line(err)
    assert "archive expands past 64 MiB (--max-archive-size" in line
    assert rss < 500 * 1024, rss
    assert list(tmp.iterdir()) == []

    env["BME_MAX_ARCHIVE_RATIO"] = "100000"
    env["BME_MAX_ARCHIVE_SIZE"] = "32M"
    code, err, _, _ = _measured(base, env)
    assert code == 2 and "archive expands past 32 MiB" in _one_line(err)


def test_archive_cap_flags_are_checked(run: Run, tmp_path: Path) -> None:
    archive = tmp_path / "a.zip"
    archive.write_bytes(_zip_bytes({"a.csv": _rows("alice")}))
    for flag, value in (("--max-archive-size", "lots"), ("--max-archive-ratio", "-1")):
        res = run(["validate", str(archive), flag, value, "--report-dir", str(tmp_path / "r")])
        assert res.exit_code == 2
        assert flag in _one_line(res.err)
    res = run(["mappings", "detect", str(archive), "--max-archive-size", "1G"])
    assert res.exit_code == 0, res.err


def test_a_huge_value_is_cut_in_report_and_rejects(run: Run, tmp_path: Path) -> None:
    """Item 14: a 2 MB bad address and a 2 MB unparseable record are cut in report.json's samples and in
    rejects.csv's raw_line, at the documented lengths; the other rows are counted as before."""
    big = "x" * (2 << 20)
    src = tmp_path / "big.csv"
    src.write_text(
        HEADER + "alice@example.com,Alice\n" + f"{big},Big\n" + f'bob@example.com,"{big}\n', encoding="utf-8"
    )
    out = tmp_path / "r"
    res = run(["validate", str(src), "--report-dir", str(out)])
    assert res.exit_code == 0, res.err
    totals = _totals(out)
    assert totals["read"] == 3 and totals["valid"] == 1 and totals["rejected"] == 2
    assert (out / "report.json").stat().st_size < 200_000
    samples = json.loads((out / "report.json").read_text())["reject_samples"]
    values = [s["value"] for group in samples.values() for s in group]
    assert values and all(v is None or len(v) <= FIELD_VALUE_CHARS for v in values), [
        len(v or "") for v in values
    ]
    csv.field_size_limit(1 << 30)
    with (out / "rejects.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    raws = [r["raw_line"] for r in rows if r.get("raw_line")]
    assert raws, rows[0].keys()
    assert all(len(r) < RAW_LINE_CHARS + 100 for r in raws)
    assert any(r.endswith("characters in all]") for r in raws)
