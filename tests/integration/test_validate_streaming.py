"""Streaming: validating an export batch by batch gives exactly what validating it as one frame gives.

``validate_sources`` reads files block by block and validates rows in batches, keeping only what the
result needs; ``validate_frame`` takes one whole frame. Tiny blocks and batches force records, duplicate
groups and rejects across every boundary; the two results must be identical, cell for cell.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from etl import allocator
from etl.extract import read_sources
from etl.extract.options import ReadOptions
from etl.validate.core import ValidationResult, choose_preset, validate_frame, validate_sources
from etl.validate.report import build_report
from samples.generate import write_large

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
CASES = [
    "mailchimp_audience.zip",
    "brevo_cp1252_semicolon.csv",
    "excel_utf16.txt",
    "quoted_newlines.csv",
    "ragged_rows.csv",
    "blank_lines.csv",
    "duplicate_headers.csv",
    "hubspot.csv",
    "contacts.json",
]


def _same(a: ValidationResult, b: ValidationResult) -> None:
    assert a.counts == b.counts
    assert a.canonical.equals(b.canonical)
    assert a.outcomes.equals(b.outcomes)
    assert a.rejected_raw.equals(b.rejected_raw)
    assert a.duplicates.equals(b.duplicates)
    assert a.fields == b.fields and a.source_columns == b.source_columns
    assert [f.rows for f in a.files] == [f.rows for f in b.files]


def _whole(paths: list[Path]) -> ValidationResult:
    extracted = read_sources(paths)
    preset, detection = choose_preset(extracted)
    return validate_frame(extracted, preset, detection=detection)


@pytest.mark.parametrize("name", CASES)
def test_tiny_blocks_and_batches_equal_one_frame(name: str) -> None:
    whole = _whole([SAMPLES / name])
    tiny = ReadOptions(block=97)  # records straddle most block ends
    streamed = validate_sources([SAMPLES / name], preset=None, batch_rows=2, options=tiny)
    _same(streamed, whole)
    assert streamed.counts.rows_read == (
        streamed.counts.valid + streamed.counts.rejected + streamed.counts.merged_duplicate
    )


def test_duplicates_across_batches_and_files_collapse_as_one_frame(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    write_large(a, 3_000)
    write_large(b, 1_000)  # the same addresses again, in a second file: groups span files and batches
    whole = _whole([a, b])
    assert whole.counts.merged_duplicate >= 1_000 and whole.counts.rejected > 0
    _same(validate_sources([a, b], preset=None, batch_rows=500, options=ReadOptions(block=4096)), whole)


def test_dry_run_keeps_filled_markers_and_reports_the_same(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    write_large(path, 2_000)
    full = validate_sources([path], preset=None)
    dry = validate_sources([path], preset=None, field_values=False)
    assert dry.counts == full.counts and not dry.field_values and full.field_values
    for f in full.fields:
        assert dry.canonical.schema[f.label] == pl.Boolean
        assert (
            dry.canonical.get_column(f.label).null_count() == full.canonical.get_column(f.label).null_count()
        )
    drop = [f.label for f in full.fields]
    assert dry.canonical.drop(drop).equals(full.canonical.drop(drop))
    a = build_report(full, generated_at="t")
    b = build_report(dry, generated_at="t")
    assert a == b


def test_allocator_default_is_set_unless_the_user_chose_an_arena_count() -> None:
    env: dict[str, str] = {}
    allocator.configure(env)
    assert env[allocator.ENV] == allocator.DEFAULT
    mine = {allocator.ENV: "narenas:8"}
    allocator.configure(mine)
    assert mine[allocator.ENV] == "narenas:8"
    # what a parent process that imported polars leaves in the environment of its children
    inherited = {allocator.ENV: "dirty_decay_ms:500,muzzy_decay_ms:1000"}
    allocator.configure(inherited)
    assert inherited[allocator.ENV] == "dirty_decay_ms:500,muzzy_decay_ms:1000," + allocator.DEFAULT


def test_the_entry_point_sets_the_allocator_before_polars_loads() -> None:
    probe = (
        "import os, sys\n"
        "from etl import launch\n"
        "sys.argv = ['bme-migrate', '--version']\n"
        "try:\n    launch.main()\nexcept SystemExit:\n    pass\n"
        "print(os.environ.get('_RJEM_MALLOC_CONF'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != allocator.ENV}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    # polars puts its own decay settings first and appends ours, so ours win where they overlap
    assert out.stdout.strip().splitlines()[-1].split(",")[-1] == allocator.DEFAULT


def _late_cp1252(tmp_path: Path, head: str, bom: bytes = b"") -> Path:
    """UTF-8-looking for many blocks, then a cp1252 byte (0xE9, "é") far down the file."""
    rows = [f"p{i}@example.com,{head}{i}" for i in range(200)]
    body = ("Email,Name\n" + "\n".join(rows) + "\n").encode("utf-8")
    path = tmp_path / "late.csv"
    path.write_bytes(bom + body + b"late@example.com,Ren\xe9\n")
    return path


def test_a_file_found_not_utf8_late_is_read_again_whole_as_cp1252(tmp_path: Path) -> None:
    head = "Ana"  # ASCII before the bad byte (UTF-8 accents before it make the file mixed: see below)
    path = _late_cp1252(tmp_path, head)
    small = ReadOptions(block=256)  # the bad byte is many blocks past the first
    shown: list[int] = []
    result = validate_sources([path], preset=None, batch_rows=7, progress=shown.append, options=small)
    assert sum(shown) == 201  # the rows read again after the restart are not counted twice
    (info,) = result.files
    assert info.encoding == "cp1252" and info.rows == 201 and result.counts.rows_read == 201
    names = result.canonical.get_column("First Name" if "First Name" in result.canonical.columns else "Name")
    assert names[-1] == "René"
    assert names[0] == head.encode("utf-8").decode("cp1252") + "0"  # the whole file is one encoding
    extracted = read_sources([path], options=small)
    assert extracted.files[0].encoding == "cp1252" and extracted.frame.height == 201


def test_a_utf8_file_with_a_late_cp1252_line_is_refused_as_mixed(tmp_path: Path) -> None:
    """200 UTF-8 "Zoë" lines, then one cp1252 "René": read as cp1252 every "Zoë" would become "ZoÃ«", so
    the restart that finds the bad byte refuses the file naming that line (issue #15 item 4)."""
    from etl.errors import InputError

    path = _late_cp1252(tmp_path, "Zoë")
    with pytest.raises(InputError, match="mixed encodings") as err:
        validate_sources([path], preset=None, batch_rows=7, options=ReadOptions(block=256))
    assert str(err.value).startswith(f"{path}:202:")


def test_a_utf8_bom_file_with_a_late_invalid_byte_names_the_line(tmp_path: Path) -> None:
    from etl.errors import InputError

    path = _late_cp1252(tmp_path, "Ana", bom=b"\xef\xbb\xbf")
    with pytest.raises(InputError, match="UTF-8 BOM") as err:
        validate_sources([path], preset=None, options=ReadOptions(block=256))
    assert ":202:" in str(err.value)


def test_a_bad_byte_far_down_the_file_stops_the_run_with_its_line(tmp_path: Path) -> None:
    """An error found by the read-ahead thread reaches the caller as the same one-line error."""
    from etl.errors import InputError

    rows = "".join(f"p{i}@example.com,N{i}\n" for i in range(300))
    path = tmp_path / "nul.csv"
    path.write_bytes(b"Email,Name\n" + rows.encode() + b"q@example.com,\x00bad\n")
    with pytest.raises(InputError, match="NUL byte") as err:
        validate_sources([path], preset=None, options=ReadOptions(block=256))
    assert ":302" in str(err.value)


def test_a_late_central_european_byte_restarts_the_file_in_the_detected_code_page(tmp_path: Path) -> None:
    """ASCII for many blocks, then Polish names in cp1250: the rows handed out are read again, the whole
    file as cp1250 (not cp1252's "Ma³gorzata"), and the choice is a warning of the read."""
    from etl.pipeline.inputs import read_inputs as read_run

    names = ["Małgorzata Wiśniewska", "Łukasz Żółkiewski", "Paweł Kamiński", "Grzegorz Ślęzak"] * 5
    rows = [f"p{i}@example.com,Ann{i}" for i in range(200)]
    rows += [f"late{i}@example.com,{n}" for i, n in enumerate(names)]
    path = tmp_path / "late1250.csv"
    path.write_bytes(("Email,Name\n" + "\n".join(rows) + "\n").encode("cp1250"))
    small = ReadOptions(block=256)
    shown: list[int] = []
    result = validate_sources([path], preset=None, batch_rows=7, progress=shown.append, options=small)
    assert sum(shown) == 220
    (info,) = result.files
    assert info.encoding == "cp1250" and result.counts.rows_read == 220
    column = "First Name" if "First Name" in result.canonical.columns else "Name"
    assert result.canonical.get_column(column).to_list()[-20:] == names
    read = read_run([str(path)], preset=None, state_dir=tmp_path / "state", options=small)
    assert len(read.warnings) == 1 and "read as cp1250 (detected, " in read.warnings[0]
