"""Header-only reads used by `mappings detect`: real files on disk in every shape detection must see."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from etl.errors import InputError
from etl.mapping.headers import read_headers
from etl.presets.detect import detect_platform
from samples.generate import write_workbook


def test_bom_semicolons_and_crlf(tmp_path: Path) -> None:
    f = tmp_path / "eu.csv"
    f.write_bytes("\ufeffEmail;First name;Last name\r\na@x.io;A;B\r\n".encode())
    assert read_headers([str(f)]) == {str(f): ["Email", "First name", "Last name"]}


def test_utf16_tab_separated(tmp_path: Path) -> None:
    f = tmp_path / "excel.txt"
    f.write_bytes("EMAIL\tFIRSTNAME\t_BLOCKLISTED\r\na@x.io\tA\t\r\n".encode("utf-16"))
    assert read_headers([str(f)])[str(f)] == ["EMAIL", "FIRSTNAME", "_BLOCKLISTED"]


def test_quoted_header_with_comma_newline_and_duplicates(tmp_path: Path) -> None:
    f = tmp_path / "q.csv"
    f.write_text(
        '"Email Address","Name, full","Notes\nmore",UNSUB_REASON,UNSUB_REASON\na,b,c,d,e\n', encoding="utf-8"
    )
    assert read_headers([str(f)])[str(f)] == [
        "Email Address",
        "Name, full",
        "Notes\nmore",
        "UNSUB_REASON",
        "UNSUB_REASON (2)",
    ]


def test_cp1252_header(tmp_path: Path) -> None:
    f = tmp_path / "aweber.csv"
    f.write_bytes("Email,Name,Prénom\na@x.io,A,B\n".encode("cp1252"))
    assert read_headers([str(f)])[str(f)] == ["Email", "Name", "Prénom"]


def test_json_array_ndjson_and_legacy_api(tmp_path: Path) -> None:
    a = tmp_path / "a.json"
    a.write_text(json.dumps([{"email": "a@x.io", "first_name": "A", "status": "subscribed", "id": "1"}]))
    n = tmp_path / "b.ndjson"
    n.write_text('{"Email": "a@x.io", "Klaviyo ID": "k"}\n{"Email": "b@x.io"}\n')
    got = read_headers([str(a), str(n), "legacy+http://127.0.0.1:9/api"])
    assert got[str(a)] == ["email", "first_name", "status", "id"]
    assert got[str(n)] == ["Email", "Klaviyo ID"]
    assert (
        detect_platform({"legacy+http://127.0.0.1:9/api": got["legacy+http://127.0.0.1:9/api"]}).platform
        == "legacy_api"
    )


def test_zip_members_are_labelled_like_extract(tmp_path: Path) -> None:
    z = tmp_path / "members_export_b6300f8dad.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("subscribed_members_export_b6300f8dad.csv", "Email Address,MEMBER_RATING,LEID\n")
        zf.writestr("__MACOSX/._subscribed.csv", "junk")
        zf.writestr("readme.pdf", "x")
    assert read_headers([str(z)]) == {
        f"{z}::subscribed_members_export_b6300f8dad.csv": ["Email Address", "MEMBER_RATING", "LEID"]
    }


def test_every_sheet_of_a_workbook_is_labelled_like_extract(tmp_path: Path) -> None:
    book = tmp_path / "MailPoet_export_x.xlsx"
    summary = [["Status", "Count"], ["Subscribed", 1]]
    members = [["Email", "First name", "Status"], ["a@x.com", "A", "subscribed"]]
    write_workbook(book, [("Summary", summary, False), ("Members", members, False), ("Empty", [], True)])
    found = read_headers([str(book)])
    assert found == {f"{book} [Members]": ["Email", "First name", "Status"]}  # what extract reads, no more
    assert "MailPoet_export_*.xlsx" in " ".join(detect_platform(found).evidence)  # the workbook's name


def test_folder_of_lists_is_walked(tmp_path: Path) -> None:
    for name in ("awlist1_news/leads/active_leads.csv", "awlist1_news/leads/inactive_leads.csv"):
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("Email,Name,Add Method,Inactive Date\n", encoding="utf-8")
    got = read_headers([str(tmp_path)])
    assert len(got) == 2 and detect_platform(got).platform == "aweber"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: str(d / "missing.csv"), "no such file"),
        (lambda d: (d / "bad.zip").write_bytes(b"not a zip") and str(d / "bad.zip"), "not a readable ZIP"),
        (lambda d: (d / "empty").mkdir() or str(d / "empty"), "folder holds no"),
        (lambda d: (d / "x.json").write_text("[oops") and str(d / "x.json"), "first JSON object"),
        (lambda d: (d / "empty.csv").write_bytes(b"") or str(d / "empty.csv"), r"empty file \(0 bytes\)"),
        (lambda d: (d / "blank.csv").write_text("\n \n\n") and str(d / "blank.csv"), "no header row"),
    ],
)
def test_unreadable_sources_are_input_errors(tmp_path: Path, make, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_headers([make(tmp_path)])


def test_binary_file_is_refused_but_bomless_utf16_is_read(tmp_path: Path) -> None:
    b = tmp_path / "photo.csv"
    b.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(InputError, match="binary file"):
        read_headers([str(b)])
    u = tmp_path / "nobom.txt"
    u.write_bytes("Email\tKlaviyo ID\r\n".encode("utf-16-le"))
    assert read_headers([str(u)])[str(u)] == ["Email", "Klaviyo ID"]


def test_legacy_code_pages_are_decided_as_extract_decides_them(tmp_path: Path) -> None:
    """`mappings detect` sees the names extract will read: cp1250 detected, not cp1252's £ukasz."""
    from tests.unit.test_extract_encoding import CENTRAL, JAPANESE, export_text

    cz = tmp_path / "cz.csv"
    cz.write_bytes(export_text(CENTRAL).encode("cp1250"))
    ja = tmp_path / "ja.csv"
    ja.write_bytes(export_text(JAPANESE).encode("shift_jis"))
    ja16 = tmp_path / "ja16.txt"
    ja16.write_bytes(export_text(JAPANESE).encode("utf-16-be"))  # no BOM
    got = read_headers([str(cz), str(ja), str(ja16)])
    assert got[str(cz)] == ["Email", "Imię i nazwisko", "Miasto", "Uwagi"]
    assert got[str(ja)] == got[str(ja16)] == ["メールアドレス", "氏名", "都道府県", "メモ"]


def test_an_ambiguous_header_stops_and_options_override(tmp_path: Path) -> None:
    from etl.extract.options import ReadOptions

    f = tmp_path / "ru.csv"
    f.write_bytes("Email;Имя\na@x.io;A\n".encode("cp1251"))
    with pytest.raises(InputError, match="--encoding") as exc:
        read_headers([str(f)])
    assert exc.value.line == 1 and exc.value.column == 7
    assert read_headers([str(f)], ReadOptions(encoding="cp1251"))[str(f)] == ["Email", "Имя"]
    assert read_headers([str(f)], ReadOptions(encoding="cp1251", delimiter=","))[str(f)] == ["Email;Имя"]
    bom = tmp_path / "bom16.csv"
    bom.write_bytes("Email,Name\n".encode("utf-16"))
    assert read_headers([str(bom)], ReadOptions(encoding="utf-16"))[str(bom)] == ["Email", "Name"]


def test_archives_are_walked_as_extract_walks_them(tmp_path: Path) -> None:
    """Issue #13 item 2: detection sees the members extract reads — a nested ZIP one level deep, hidden and
    unsafe members skipped — under extract's labels, and the archive caps stop it the same way."""
    import io

    from etl.extract.options import ReadOptions
    from etl.extract.sources import read_sources

    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("lists/b.csv", "Email,Klaviyo ID\nb@x.io,k\n")
    z = tmp_path / "outer.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.csv", "Email,First Name\na@x.io,A\n")
        zf.writestr("inner.zip", inner.getvalue())
        zf.writestr(".hidden.csv", "Secret\n")
        zf.writestr("../escape.csv", "Evil\n")
    got = read_headers([str(z)])
    assert got == {
        f"{z}::a.csv": ["Email", "First Name"],
        f"{z}::inner.zip::lists/b.csv": ["Email", "Klaviyo ID"],
    }
    assert got == {f.path: list(f.header) for f in read_sources([str(z)]).files}
    with pytest.raises(InputError, match="--max-archive-size"):
        read_headers([str(z)], ReadOptions(max_archive_size=10))


def test_a_mixed_encoding_head_is_refused_as_extract_refuses_it(tmp_path: Path) -> None:
    f = tmp_path / "mixed.csv"
    lines = ["Email,Name", *(f"p{i}@x.io,Zoë {i}" for i in range(5))]
    f.write_bytes(("\n".join(lines) + "\n").encode() + "q@x.io,Renée\n".encode("cp1252"))
    with pytest.raises(InputError, match="mixed encodings") as exc:
        read_headers([str(f)])
    assert exc.value.line == 7
