"""read_sources over the committed samples, ZIPs, folders and several files at once."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import polars as pl
import pytest

from etl.errors import InputError
from etl.extract import ExtractResult, read_sources
from samples.generate import write_samples

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
MC = SAMPLES / "mailchimp_audience.zip"


def check_contract(res: ExtractResult) -> None:
    f = res.frame
    assert f.columns[:3] == ["row_id", "source_file", "source_line"]
    assert f.schema["row_id"] == pl.Int64 and f.schema["source_line"] == pl.Int64
    assert all(f.schema[c] == pl.String for c in f.columns[1:] if c != "source_line")
    ids = pl.concat([f["row_id"], res.rejects["row_id"]])
    assert ids.n_unique() == ids.len() == sum(i.rows for i in res.files)
    assert sorted(ids.to_list()) == list(range(ids.len()))
    assert res.rejects.columns == ["row_id", "source_file", "source_line", "reason_code", "reason", "raw"]


def test_samples_are_reproducible(tmp_path: Path) -> None:
    for p in write_samples(tmp_path):
        assert p.read_bytes() == (SAMPLES / p.name).read_bytes(), p.name


def test_mailchimp_zip_members(tmp_path: Path) -> None:
    res = read_sources([MC])
    check_contract(res)
    names = [i.path.split("::")[1] for i in res.files]
    assert [Path(n).name.split("_members")[0] for n in names] == ["cleaned", "subscribed", "unsubscribed"]
    assert all(i.kind == "zip-member" and i.path.startswith(f"{MC}::members_export_") for i in res.files)
    f = res.frame
    assert f.height == 8 and res.rejects.height == 0
    assert {"LAST_CHANGED", "UNSUB_TIME", "CLEAN_TIME"} <= set(f.columns)  # diagonal concat
    sub = f.filter(pl.col("source_file").str.contains("::members_export_bd91baeb6f/subscribed_"))
    assert sub["source_line"].to_list() == [2, 3, 5, 6, 7]  # Bruno's NOTES holds a quoted newline
    assert sub["TAGS"][0] == '"VIP","Blog"'
    assert sub["Last Name"][1] == " Brandt "  # untrimmed
    emails = f["Email Address"].str.to_lowercase()
    assert emails.is_duplicated().sum() == 2  # Chloe: subscribed + unsubscribed, different case


def test_extracted_folder_reads_like_the_zip(tmp_path: Path) -> None:
    with zipfile.ZipFile(MC) as zf:
        zf.extractall(tmp_path)
    (tmp_path / "members_export_bd91baeb6f" / "readme.pdf").write_bytes(b"%PDF")
    (tmp_path / "__MACOSX").mkdir()
    (tmp_path / "__MACOSX" / "._subscribed.csv").write_bytes(b"\x00\x05")
    res = read_sources([tmp_path])
    check_contract(res)
    assert [Path(i.path).name.split("_")[0] for i in res.files] == ["cleaned", "subscribed", "unsubscribed"]
    assert all(i.kind == "csv" for i in res.files)
    zipped = read_sources([MC]).frame.drop("source_file")
    assert res.frame.drop("source_file").equals(zipped)


@pytest.mark.parametrize(
    ("name", "rows", "rejects", "encoding", "delimiter"),
    [
        ("constant_contact.csv", 6, 0, "utf-8", ","),
        ("brevo_cp1252_semicolon.csv", 6, 0, "cp1252", ";"),
        ("hubspot.csv", 4, 0, "utf-8", ","),
        ("klaviyo.csv", 4, 0, "utf-8", ","),
        ("excel_utf16.txt", 3, 0, "utf-16-le", "\t"),
        ("bom_utf8.csv", 2, 0, "utf-8", ";"),
        ("quoted_newlines.csv", 3, 0, "utf-8", ","),
        ("ragged_rows.csv", 2, 2, "utf-8", ","),
        ("duplicate_headers.csv", 2, 0, "utf-8", ","),
        ("missing_email_column.csv", 2, 0, "utf-8", ","),
        ("blank_lines.csv", 3, 0, "utf-8", ","),
        ("pipe_delimited.txt", 2, 0, "utf-8", "|"),
        ("contacts.ndjson", 3, 0, "utf-8", None),
        ("contacts.json", 3, 0, "utf-8", None),
        ("contacts.xlsx", 3, 0, "xlsx", None),
    ],
)
def test_each_sample(name: str, rows: int, rejects: int, encoding: str, delimiter: str | None) -> None:
    res = read_sources([SAMPLES / name])
    check_contract(res)
    assert (res.frame.height, res.rejects.height) == (rows, rejects)
    assert (res.files[0].encoding, res.files[0].delimiter) == (encoding, delimiter)


def test_sample_details() -> None:
    brevo = read_sources([SAMPLES / "brevo_cp1252_semicolon.csv"]).frame
    assert brevo["LASTNAME"].to_list()[2:4] == ["Østergaard", "Quéré"]
    assert brevo["_listIds"][0] == "[2|21]" and brevo["_BLOCKLISTED"][1] == "1"
    cc = read_sources([SAMPLES / "constant_contact.csv"]).frame
    assert cc["Created At"][0] == "2020-09-25 16:45:13 -0400" and cc["Tags"][0] == "VIP, Customer"
    utf16 = read_sources([SAMPLES / "excel_utf16.txt"]).frame
    assert utf16["City"].to_list() == ["München", "東京", "Zürich"]
    xlsx = read_sources([SAMPLES / "contacts.xlsx"]).frame
    assert xlsx.select("source_line", "Zip").rows() == [(2, "02134"), (3, "10115"), (4, "75001")]
    assert xlsx["Last Name"][1] is None
    blank = read_sources([SAMPLES / "blank_lines.csv"]).frame
    assert blank["source_line"].to_list() == [4, 7, 10]


def test_several_sources_concatenate_diagonally_with_running_ids() -> None:
    calls: list[int] = []
    res = read_sources([SAMPLES / "ragged_rows.csv", MC, SAMPLES / "contacts.ndjson"], progress=calls.append)
    check_contract(res)
    assert calls == [i.rows for i in res.files] == [4, 1, 5, 2, 3]
    assert res.rejects["row_id"].to_list() == [1, 2]
    ndjson = res.frame.filter(pl.col("source_file").str.ends_with("contacts.ndjson"))
    assert ndjson["row_id"].to_list() == [12, 13, 14]
    assert ndjson["Email Address"].null_count() == 3 and ndjson["email"].null_count() == 0


@pytest.mark.parametrize(
    ("maker", "message"),
    [
        (lambda d: d / "missing.csv", "file not found"),
        (lambda d: shutil.copy(SAMPLES / "empty.csv", d / "empty.csv"), "empty file"),
        (lambda d: shutil.copy(SAMPLES / "binary.bin", d / "binary.bin"), "binary file"),
        (lambda d: _write(d / "broken.zip", b"PK\x03\x04 definitely not a zip"), "not a readable ZIP"),
        (lambda d: _zip(d / "pics.zip", {"a.png": b"\x89PNG"}), "holds no CSV"),
        (lambda d: _mkdir(d / "nothing"), "folder holds no export file"),
    ],
)
def test_bad_inputs_are_input_errors(tmp_path: Path, maker, message: str) -> None:
    target = Path(maker(tmp_path))
    with pytest.raises(InputError, match=message) as exc:
        read_sources([target])
    assert exc.value.exit_code == 2


def test_zip_with_other_csvs_and_a_nested_folder(tmp_path: Path) -> None:
    z = _zip(
        tmp_path / "export.zip",
        {"deep/list_a.csv": b"email\na@example.com\n", "list_b.tsv": b"email\tname\nb@example.com\tB\n"},
    )
    res = read_sources([z])
    assert [i.path for i in res.files] == [f"{z}::deep/list_a.csv", f"{z}::list_b.tsv"]
    assert res.frame["email"].to_list() == ["a@example.com", "b@example.com"]


def test_cli_style_error_is_one_line(tmp_path: Path) -> None:
    """The message an InputError carries is printable as is: path first, no traceback material."""
    code = (
        "from etl.extract import read_sources\n"
        "from etl.errors import InputError\n"
        "try:\n    read_sources([r'%s'])\nexcept InputError as e:\n    print(e)\n"
    ) % (SAMPLES / "empty.csv")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("empty.csv: empty file (0 bytes)") and out.count("\n") == 1


def _write(p: Path, data: bytes) -> Path:
    p.write_bytes(data)
    return p


def _zip(p: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(p, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return p


def _mkdir(p: Path) -> Path:
    p.mkdir()
    (p / "notes.pdf").write_bytes(b"%PDF")
    return p
