"""Delimited text: dialects, exact source lines, ragged rows, header naming, null semantics."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl
import pytest

from etl.errors import InputError
from etl.extract import linescan, read_sources, slowcsv
from etl.extract.delimited import _drop_unnamed_empty, read_delimited
from etl.extract.dialect import column_names, sniff_delimiter
from etl.model import SOURCE_LINE


def read(tmp_path: Path, text: str, name: str = "x.csv"):
    p = tmp_path / name
    p.write_bytes(text.encode("utf-8"))
    return read_sources([p])


@pytest.mark.parametrize("delim", [",", ";", "\t", "|"])
def test_delimiter_sniffed_quote_aware(tmp_path: Path, delim: str) -> None:
    other = "," if delim != "," else ";"
    text = (
        f"Email{delim}Name{delim}Note\n"
        f'ada@example.com{delim}"Abbott{delim} Ada"{delim}a{other}b\n'
        f"bruno@example.org{delim}Bruno{delim}c{other}d\n"
    )
    res = read(tmp_path, text)
    assert res.files[0].delimiter == delim
    assert res.frame["Name"].to_list() == [f"Abbott{delim} Ada", "Bruno"]
    assert res.frame["Note"].to_list() == [f"a{other}b", f"c{other}d"]


def test_sniffer_prefers_consistent_candidate() -> None:
    header = "a;b,c;d"
    sample = ["1;2,3;4", "5;6,7;8"]
    assert sniff_delimiter(header, sample) == ";"
    assert sniff_delimiter("email", ["a@example.com"]) == ","
    assert sniff_delimiter("email", ["a@example.com"], preferred="\t") == "\t"


def test_source_line_exact_with_quoted_newlines_blank_lines_and_crlf(tmp_path: Path) -> None:
    text = (
        "\r\n"  # 1 blank before the header
        "Email,Notes\r\n"  # 2 header
        'a@example.com,"one\r\ntwo"\r\n'  # 3-4
        "\r\n"  # 5 blank
        'b@example.com,"x\r\n\r\ny ""q"""\r\n'  # 6-8 (blank line inside quotes is data)
        "   \r\n"  # 9 whitespace-only: blank
        "c@example.com,plain\r\n"
    )  # 10
    res = read(tmp_path, text)
    f = res.frame
    assert f["source_line"].to_list() == [3, 6, 10]
    assert f["Notes"].to_list() == ["one\r\ntwo", 'x\r\n\r\ny "q"', "plain"]
    assert f["row_id"].to_list() == [0, 1, 2]
    assert res.files[0].rows == 3


def test_quoted_newlines_lines_match_stdlib_on_many_records(tmp_path: Path) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["Email", "Notes", "Tags"])
    expected_lines, line = [], 2
    for i in range(300):
        notes = "line\n" * (i % 4) + "end" if i % 3 == 0 else f"n{i}"
        w.writerow([f"p{i}@example.com", notes, '"VIP","Blog"' if i % 2 else ""])
        expected_lines.append(line)
        line += notes.count("\n") + 1
    res = read(tmp_path, buf.getvalue())
    assert res.frame["source_line"].to_list() == expected_lines
    assert res.frame["Tags"].to_list()[:2] == [None, '"VIP","Blog"']
    assert res.rejects.height == 0


def test_ragged_rows_are_rejected_with_raw_text_and_ids(tmp_path: Path) -> None:
    text = (
        "Email,First,Last,City\n"
        "a@example.com,A,B,Oslo\n"
        "b@example.com,B,C,Berlin,extra\n"
        "c@example.com,C\n"
        'd@example.com,"D, the second",E\n'  # quoted delimiter: 3 real cells
        "e@example.com,E,F,Paris\n"
    )
    res = read(tmp_path, text)
    assert res.frame["Email"].to_list() == ["a@example.com", "e@example.com"]
    assert res.frame["row_id"].to_list() == [0, 4]
    rej = res.rejects
    assert rej["row_id"].to_list() == [1, 2, 3]
    assert rej["source_line"].to_list() == [3, 4, 5]
    assert rej["reason_code"].unique().to_list() == ["ragged_row"]
    assert rej["reason"].to_list() == [
        "line 3: 5 cells, header has 4",
        "line 4: 2 cells, header has 4",
        "line 5: 3 cells, header has 4",
    ]
    assert rej["raw"][2] == 'd@example.com,"D, the second",E'
    assert res.rows_read == 5 == res.files[0].rows


def test_ragged_multiline_record_keeps_its_whole_raw_text(tmp_path: Path) -> None:
    res = read(tmp_path, 'Email,Notes\na@example.com,"x\ny",extra\nb@example.com,ok\n')
    assert res.rejects["raw"].to_list() == ['a@example.com,"x\ny",extra']
    assert res.rejects["source_line"].to_list() == [2]
    assert res.frame["source_line"].to_list() == [4]


def test_trailing_delimiters_policy(tmp_path: Path) -> None:
    # header ends with a delimiter: unnamed empty column dropped; rows without the trailing cell accepted
    res = read(tmp_path, "Email,Name,\na@example.com,A,\nb@example.com,B\n")
    assert res.frame.columns[3:] == ["Email", "Name"]
    assert res.files[0].header == ("Email", "Name")
    assert res.rejects.height == 0
    # a stray trailing delimiter on a row is not data loss: accepted
    res = read(tmp_path, "Email,Name\na@example.com,A,\nb@example.com,B,,\n")
    assert res.frame.height == 2 and res.rejects.height == 0
    # an unnamed trailing column that has data is kept under a generated name
    res = read(tmp_path, "Email,Name,\na@example.com,A,note\n")
    assert res.frame["column_3"].to_list() == ["note"]


def test_duplicate_and_empty_header_names() -> None:
    raw = ["\ufeffEmail", "UNSUB_REASON", "", "UNSUB_REASON", "UNSUB_REASON", "row_id", "column_3"]
    assert column_names(raw) == [
        "Email",
        "UNSUB_REASON",
        "column_3",
        "UNSUB_REASON (2)",
        "UNSUB_REASON (3)",
        "row_id (2)",
        "column_3 (2)",
    ]


def test_duplicate_headers_keep_both_values(tmp_path: Path) -> None:
    res = read(tmp_path, "Email,Reason,Reason\na@example.com,first,second\n")
    assert res.frame.select("Reason", "Reason (2)").row(0) == ("first", "second")


def test_values_untrimmed_and_empty_is_null(tmp_path: Path) -> None:
    res = read(tmp_path, 'Email,Name,Company\n a@example.com ,"",  Lorem Co.  \nb@example.com,,x\n')
    assert res.frame.select("Email", "Name", "Company").rows() == [
        (" a@example.com ", None, "  Lorem Co.  "),
        ("b@example.com", None, "x"),
    ]
    assert all(dt == pl.String for c, dt in res.frame.schema.items() if c not in ("row_id", "source_line"))
    assert res.frame.schema["row_id"] == pl.Int64 and res.frame.schema["source_line"] == pl.Int64


def test_mailchimp_tags_quoting_survives(tmp_path: Path) -> None:
    res = read(tmp_path, 'Email Address,TAGS\na@example.com,"""VIP"",""Blog"""\nb@example.com,Editors\n')
    assert res.frame["TAGS"].to_list() == ['"VIP","Blog"', "Editors"]


def test_header_only_is_zero_rows_and_blank_only_is_an_error(tmp_path: Path) -> None:
    res = read(tmp_path, "Email,Name\n")
    assert res.frame.height == 0 and res.files[0].header == ("Email", "Name")
    assert res.frame.columns == ["row_id", "source_file", "source_line", "Email", "Name"]
    with pytest.raises(InputError, match="no header row"):
        read(tmp_path, "\n\n  \n")


def test_malformed_quotes_fall_back_to_exact_reader(tmp_path: Path) -> None:
    # a quote in the middle of an unquoted cell: polars refuses it, the stdlib reader takes it literally
    text = 'Email,Name,City\na@example.com,Jo "JJ" Smith,Oslo\nb@example.com,"Bo\nB",Rome\nc@example.com,C\n'
    res = read(tmp_path, text)
    assert res.frame["Name"].to_list() == ['Jo "JJ" Smith', "Bo\nB"]
    assert res.frame["source_line"].to_list() == [2, 3]
    assert res.rejects.select("source_line", "reason").rows() == [(5, "line 5: 2 cells, header has 3")]


def test_unclosed_quote_at_end_is_one_reject(tmp_path: Path) -> None:
    res = read(tmp_path, 'Email,Notes\na@example.com,ok\nb@example.com,"never closed\nc@example.com,x\n')
    assert res.frame["Email"].to_list() == ["a@example.com"]
    (rej,) = res.rejects.iter_rows(named=True)
    assert rej["reason_code"] == "unclosed_quote" and rej["source_line"] == 3
    assert "c@example.com" in rej["raw"]
    assert res.rows_read == 2


def test_fast_and_slow_readers_agree(tmp_path: Path) -> None:
    """The exact stdlib reader is the reference: the fast path must produce the same Part."""
    text = (
        "\nEmail;Name;Notes;\n"
        'a@example.com;"A; B";"x\n\ny";\n\n'
        "b@example.com;B\n"
        'c@example.com;C;"";;\n'
        "  \n"
        'd@example.com;D;"q ""z""";\n'
    )
    p = tmp_path / "agree.csv"
    p.write_text(text, encoding="utf-8")
    fast = read_delimited(p, "L", tmp_path)
    header, records = linescan.scan(p, "L", None)
    assert records is not None  # the fast path can vouch for this file
    slow = _drop_unnamed_empty(slowcsv.read(p, header, fast.info), header)
    assert fast.frame.equals(slow.frame)
    assert fast.rejects.equals(slow.rejects)
    assert fast.info == slow.info


def test_tsv_line_of_only_tabs_is_blank_in_both_readers(tmp_path: Path) -> None:
    """A whitespace-only line is not a record; with a tab delimiter "\t" alone is such a line."""
    p = tmp_path / "tabs.tsv"
    p.write_bytes(b"Email\tName\r\n\t\r\na@x.com\tA\r\n \t \r\n")
    fast = read_delimited(p, "L", tmp_path)
    header, records = linescan.scan(p, "L", None)
    assert records is not None
    slow = _drop_unnamed_empty(slowcsv.read(p, header, fast.info), header)
    assert fast.frame.equals(slow.frame) and fast.info == slow.info
    assert fast.frame["Email"].to_list() == ["a@x.com"] and fast.frame[SOURCE_LINE].to_list() == [3]


@pytest.mark.parametrize("multi_line", [False, True])
@pytest.mark.parametrize("delimiter", [",", "\t"])
def test_trailing_empty_cells_are_not_missing_cells(tmp_path: Path, multi_line: bool, delimiter: str) -> None:
    """polars pads a short row with nulls, exactly like a row whose last cells are empty: only the
    delimiters at the line's end tell them apart. With and without a record spanning lines in the block
    (one record per line is read without counting a single quote)."""
    rows = [
        ["a@x.com", "A", "", ""],  # full: two trailing empty cells
        ["b@x.com", "B", ""],  # short by one, its last cell empty
        ["c@x.com", "", "", ""],
        ["d@x.com", ""],  # short by two
        ["", "", "", ""],  # a full row of empty cells
        ["e@x.com", '"q"', "", ""],
        ["f@x.com"],  # one cell
        ["g@x.com", "G", "x", '""'],  # a quoted empty last cell is a cell
    ]
    if multi_line:
        rows.append(["h@x.com", "line one\nline two", "", ""])
        rows.append(["i@x.com", "line one\nline two", ""])  # short, spanning lines
    d = delimiter

    def cell(v: str) -> str:
        quote = v != '""' and any(c in v for c in (d, "\n", '"'))
        return '"' + v.replace('"', '""') + '"' if quote else v

    text = (
        d.join(["Email", "Name", "Notes", "Tags"]) + "\n" + "".join(d.join(map(cell, r)) + "\n" for r in rows)
    )
    p = tmp_path / ("rows.tsv" if d == "\t" else "rows.csv")
    p.write_text(text, encoding="utf-8")
    fast = read_delimited(p, "L", tmp_path)
    header, records = linescan.scan(p, "L", None)
    assert records is not None
    slow = _drop_unnamed_empty(slowcsv.read(p, header, fast.info), header)
    assert fast.frame.equals(slow.frame) and fast.rejects.equals(slow.rejects) and fast.info == slow.info
    short = {"b@x.com": 3, "d@x.com": 2, "f@x.com": 1, "i@x.com": 3}
    assert {
        r.split(d)[0]: int(m.split()[2])
        for r, m in zip(fast.rejects["raw"], fast.rejects["reason"], strict=True)
    } == {k: v for k, v in short.items() if multi_line or k != "i@x.com"}


@pytest.mark.parametrize("block", [64, 100, 257])
def test_small_blocks_carry_open_records_across_block_ends(tmp_path: Path, block: int) -> None:
    """Streaming: records that straddle a block boundary (quoted newlines included) are counted once."""
    rows = [
        f'p{i}@example.com,"note {i}\nmore {i}",x{i}' if i % 3 == 0 else f"p{i}@example.com,n{i},x{i}"
        for i in range(60)
    ]
    p = tmp_path / "blocks.csv"
    p.write_text("Email,Notes,X\n" + "\n".join(rows) + "\n", encoding="utf-8")
    whole = linescan.scan(p, "L", None)[1]
    small = linescan.scan(p, "L", None, block=block)[1]
    assert whole is not None and small is not None
    assert small.equals(whole)
    assert whole.height == 60


def test_pattern_like_header_names_are_plain_names(tmp_path: Path) -> None:
    """polars reads "*" and "^…$" in pl.col as patterns; extract must treat them as ordinary names."""
    res = read(tmp_path, '*,^a.*$,Email\n1,"",a@example.com\n')
    assert res.frame.columns == ["row_id", "source_file", "source_line", "*", "^a.*$", "Email"]
    assert res.frame.row(0)[3:] == ("1", None, "a@example.com")


def test_pattern_like_last_header_with_empty_cells(tmp_path: Path) -> None:
    """The cell count check reads the last column by position: a last header "^a.*$" with empty cells."""
    res = read(tmp_path, "Email,*,^a.*$\na@example.com,1,\nb@example.com\n")
    assert res.frame.get_column("Email").to_list() == ["a@example.com"]
    assert res.rejects.get_column("reason_code").to_list() == ["ragged_row"]


@pytest.mark.parametrize(
    "text",
    [
        'h0,h1,h2,h3\n,é\n;"\n"\r\n,;é \r\n,"\na;"\n\nb\n',  # a quote ending an unquoted cell
        'h0,h1\n ,,b,b, "\n"\n\n;,aaa; ;,\r\n;\n',  # a space before the quote: not a quoted cell
        'h0,h1,h2\n,ab;é,"\n\n;\n",a"\n;\néaéa\n"\n,\n',  # closes, then a stray quote keeps it "open"
        'h0,h1\n,a; ;;,a\né;,"\n\n,",é","a;\n\n"\r\né ,baba éa\n \n""",\n',  # a quote after a closed cell
    ],
)
def test_malformed_quotes_across_lines_are_read_as_the_exact_reader_does(tmp_path: Path, text: str) -> None:
    """Quotes inside unquoted cells can make quote parity and polars agree on records the stdlib reader
    (the reference) splits otherwise: lines inside a record spanning lines must have the shape a
    well-formed record gives them, or the exact reader reads the rest of the file."""
    p = tmp_path / "odd.csv"
    p.write_bytes(text.encode("utf-8"))
    fast = read_delimited(p, "L", tmp_path)
    header, _ = linescan.scan(p, "L", None)
    slow = _drop_unnamed_empty(slowcsv.read(p, header, fast.info), header)
    assert fast.frame.equals(slow.frame) and fast.rejects.equals(slow.rejects) and fast.info == slow.info


BIG = "x" * 2_000_000  # 2 MB: fifteen times the stdlib csv module's default field limit (131,072)


@pytest.mark.parametrize("where", ["first", "tenth", "quoted_multiline", "slow_path"])
def test_a_2mb_cell_is_read_anywhere(tmp_path: Path, where: str) -> None:
    """The csv module's field limit is lifted wherever it is used (sniffing, the exact reader)."""
    csv.field_size_limit(131_072)  # whatever an earlier caller left behind, the readers set their own
    cell = {"first": BIG, "tenth": BIG, "slow_path": BIG, "quoted_multiline": f'"{BIG}\nsecond, line\n{BIG}"'}
    rows = [f"r{i}@example.com,R{i},short" for i in range(12)]
    at = 0 if where == "first" else 9
    rows[at] = f"big@example.com,Big,{cell[where]}"
    if where == "slow_path":  # a quote inside an unquoted cell sends the rest to the exact stdlib reader
        rows.insert(3, 'q@example.com,Q,a"b')
    res = read(tmp_path, "Email,Name,Notes\n" + "\n".join(rows) + "\n")
    assert res.rejects.height == 0
    notes = dict(zip(res.frame["Email"].to_list(), res.frame["Notes"].to_list(), strict=True))
    expected = BIG if where != "quoted_multiline" else f"{BIG}\nsecond, line\n{BIG}"
    assert notes["big@example.com"] == expected
    assert notes["r11@example.com"] == "short"
    lines = dict(zip(res.frame["Email"].to_list(), res.frame[SOURCE_LINE].to_list(), strict=True))
    assert lines["big@example.com"] == at + 2 + (1 if where == "slow_path" and at >= 3 else 0)


def test_a_2mb_header_cell_and_sniffing(tmp_path: Path) -> None:
    res = read(tmp_path, f"Email;{BIG}\n" + f"a@example.com;{BIG}\n" * 3)
    assert res.files[0].delimiter == ";"
    assert res.frame[res.files[0].header[1]].to_list() == [BIG] * 3
