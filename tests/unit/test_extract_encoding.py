"""Encoding forensics on real files: BOMs, UTF-16, cp1252/latin-1 fallback, and the refusals."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from etl.errors import InputError
from etl.extract import read_sources
from etl.extract.encoding import first_utf8_error, sniff_encoding

ROWS = "Email,First Name,City\r\nada@example.com,Åsa,Zürich\r\nbruno@example.org,Bruno,Kraków\r\n"


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def values(path: Path) -> list[tuple[str | None, ...]]:
    res = read_sources([path])
    return res.frame.select("Email", "First Name", "City").rows()


EXPECTED = [("ada@example.com", "Åsa", "Zürich"), ("bruno@example.org", "Bruno", "Kraków")]


@pytest.mark.parametrize(
    ("name", "data", "encoding", "bom"),
    [
        ("plain.csv", ROWS.encode("utf-8"), "utf-8", False),
        ("bom.csv", codecs.BOM_UTF8 + ROWS.encode("utf-8"), "utf-8", True),
        ("le.csv", codecs.BOM_UTF16_LE + ROWS.encode("utf-16-le"), "utf-16-le", True),
        ("be.csv", codecs.BOM_UTF16_BE + ROWS.encode("utf-16-be"), "utf-16-be", True),
        ("nobom16.csv", ROWS.encode("utf-16-le"), "utf-16-le", False),
    ],
)
def test_unicode_encodings_read_identically(
    tmp_path: Path, name: str, data: bytes, encoding: str, bom: bool
) -> None:
    p = write(tmp_path, name, data)
    res = read_sources([p])
    assert values(p) == EXPECTED
    (info,) = res.files
    assert (info.encoding, info.bom, info.delimiter) == (encoding, bom, ",")
    assert info.header == ("Email", "First Name", "City")  # BOM stripped from the first name
    assert res.frame["source_line"].to_list() == [2, 3]


def test_cp1252_fallback_keeps_accents_and_smart_quotes(tmp_path: Path) -> None:
    text = "Email;Name\nada@example.com;Ren\u00e9e \u201cRay\u201d\n"  # “ ” only exist in cp1252, not latin-1
    p = write(tmp_path, "w.csv", text.encode("cp1252"))
    res = read_sources([p])
    assert res.files[0].encoding == "cp1252"
    assert res.frame["Name"].to_list() == ["Ren\u00e9e \u201cRay\u201d"]


def test_latin1_only_when_cp1252_cannot_decode(tmp_path: Path) -> None:
    data = b"Email,Name\nada@example.com,Andr" + b"\xe9\x81\n"  # 0x81 is undefined in cp1252
    p = write(tmp_path, "l1.csv", data)
    res = read_sources([p])
    assert res.files[0].encoding == "latin-1"
    assert res.frame["Name"].to_list() == ["Andr\u00e9\x81"]


def test_invalid_utf8_after_bom_names_line_and_column(tmp_path: Path) -> None:
    data = codecs.BOM_UTF8 + b"Email,Name\nada@example.com,Ada\nbruno@example.org,Br\xfcno\n"
    p = write(tmp_path, "bad.csv", data)
    with pytest.raises(InputError) as exc:
        read_sources([p])
    assert exc.value.line == 3
    assert exc.value.column == len("bruno@example.org,Br") + 1
    assert "UTF-8 BOM" in str(exc.value) and str(p) in str(exc.value)


def test_invalid_utf16_names_line(tmp_path: Path) -> None:
    body = (
        "Email\tName\r\nada@example.com\tAda\r\n".encode("utf-16-le")
        + b"\x00\xd8"
        + "x\r\n".encode("utf-16-le")
    )
    p = write(tmp_path, "bad16.txt", codecs.BOM_UTF16_LE + body)
    with pytest.raises(InputError) as exc:
        read_sources([p])
    assert exc.value.line == 3
    assert "UTF-16-LE" in str(exc.value)


def test_utf8_decided_over_whole_file_not_a_sample(tmp_path: Path) -> None:
    """A cp1252 byte after the first 4 MiB still switches the whole file to cp1252."""
    big = b"Email,Name\n" + b"x@example.com,plain\n" * 250_000 + b"y@example.com,Jos\xe9\n"
    p = write(tmp_path, "late.csv", big)
    assert first_utf8_error(p) is not None
    assert sniff_encoding(p, str(p)) == ("cp1252", 0)
    res = read_sources([p])
    assert res.frame["Name"][-1] == "José"
    assert res.frame["source_line"][-1] == 250_002


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file (0 bytes)"),
        (b"Email,Name\n" + bytes(range(256)), "binary file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        (b"Email,Name\rada@example.com,Ada\r", "CR only"),
    ],
)
def test_refusals_are_one_line_input_errors(tmp_path: Path, data: bytes, message: str) -> None:
    p = write(tmp_path, "x.csv", data)
    with pytest.raises(InputError) as exc:
        read_sources([p])
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_nul_deep_in_a_utf8_file_is_binary(tmp_path: Path) -> None:
    p = write(tmp_path, "nul.csv", b"Email,Name\n" + b"a@example.com,A\n" * 5000 + b"b@example.com,B\x00x\n")
    with pytest.raises(InputError, match="binary file") as exc:
        read_sources([p])
    assert exc.value.line == 5002
