"""Per-rule tables for the validate stage: email, dates, numbers, booleans, text, tags, lists, status."""

from __future__ import annotations

from types import SimpleNamespace

import polars as pl
import pytest

from etl.errors import InputError
from etl.model import EVENT_TIME, KEY, LISTS, OUTCOME, REASON, REASON_CODE, STATUS, TAGS, Status
from etl.presets.preset import FlagRule, load_preset
from etl.validate import rows, rules
from etl.validate.core import ValidationResult, validate_frame
from etl.validate.status import fires as _fires


def make_raw(rows: list[dict[str, str | None]], *, files: list[str] | None = None) -> pl.DataFrame:
    """A raw frame as extract hands it over: every source column str, plus provenance."""
    cols = list(dict.fromkeys(k for r in rows for k in r))
    frame = pl.DataFrame({c: [r.get(c) for r in rows] for c in cols}, schema=dict.fromkeys(cols, pl.String))
    n = len(rows)
    names = files or ["export.csv"] * n
    return frame.with_columns(
        pl.Series("row_id", range(n), dtype=pl.Int64),
        pl.Series("source_file", names, dtype=pl.String),
        pl.Series("source_line", [i + 2 for i in range(n)], dtype=pl.Int64),
    )


def run(rows: list[dict[str, str | None]], preset: str = "generic", **kw: object) -> ValidationResult:
    raw = make_raw(rows, **kw)  # type: ignore[arg-type]
    return validate_frame(SimpleNamespace(frame=raw, rejects=None, files=()), load_preset(preset))


def one(rows: list[dict[str, str | None]], preset: str = "generic", **kw: object) -> dict:
    """The outcome row + canonical row (if valid) of a single-row input."""
    res = run(rows, preset, **kw)
    out = res.outcomes.row(0, named=True)
    if res.canonical.height:
        out.update(res.canonical.row(0, named=True))
    return out


def expr_values(expr_fn, values: list[str | None]) -> list:  # type: ignore[no-untyped-def]
    return (
        pl.DataFrame({"v": values}, schema={"v": pl.String})
        .select(expr_fn(pl.col("v")))
        .to_series()
        .to_list()
    )


# --- email ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "code", "key"),
    [
        ("ann@example.com", None, "ann@example.com"),
        ("  Ann.Lee+news@Example.COM ", None, "ann.lee+news@example.com"),
        ("ü@bücher.de", None, "ü@bücher.de"),  # IDN domain and SMTPUTF8 local part, no DNS
        ("a@b.co", None, "a@b.co"),
        ("a@b.c", None, "a@b.c"),  # one-letter TLD: not the fast path, but valid grammar
        ("bad@", "invalid_email", None),
        ("no-at-sign.com", "invalid_email", None),
        ("a..b@example.com", "invalid_email", None),
        ("a@example..com", "invalid_email", None),
        ("a@-x.com", "invalid_email", None),
        ("a@x.123", "invalid_email", None),
        ("a@host.test", "invalid_email", None),  # special-use domain
        ("<script>@x.com", "invalid_email", None),
        ('"a b"@example.com', "invalid_email", None),
        ("a@" + "b" * 64 + ".com", "invalid_email", None),  # DNS label over 63 characters
        (None, "missing_email", None),
        ("   ", "missing_email", None),
    ],
    ids=lambda v: repr(v)[:30],
)
def test_email_rule(cell: str | None, code: str | None, key: str | None) -> None:
    row = one([{"email": cell}])
    assert row[REASON_CODE] == code
    if code is None:
        assert row[KEY] == key
        assert row["email_raw"] == cell  # kept as read
    else:
        assert row[OUTCOME] == "rejected"


def test_fast_path_never_accepts_what_the_grammar_rejects() -> None:
    candidates = [
        "a@b.test",
        "a@x.local",
        "a.@x.com",
        ".a@x.com",
        "a@x-.com",
        "a@x.c0m",
        "a@" + "x" * 64 + ".com",
        "x" * 65 + "@a.com",
        "a@b.com",
        "first.last@sub.example.org",
        "o'brien@x.ie",
    ]
    fast = expr_values(rules.email_fast_ok, candidates)
    bad = rules.invalid_emails(candidates)
    assert all(not (ok and c in bad) for c, ok in zip(candidates, fast, strict=True))
    assert fast[candidates.index("a@b.com")] and fast[candidates.index("o'brien@x.ie")]


def test_surely_bad_pre_check_agrees_with_the_grammar() -> None:
    candidates = [
        "a@@b.com",
        "ab.com",
        "a@b@c.com",
        '"a@b"@example.com',
        '"a b"@example.com',
        "a@b.com",
        "a@[127.0.0.1]",
        "@",
        "a@",
    ]
    surely = expr_values(rules.email_surely_bad, candidates)
    bad = rules.invalid_emails(candidates)
    assert [c for c, s in zip(candidates, surely, strict=True) if s] == ["a@@b.com", "ab.com", "a@b@c.com"]
    assert all(c in bad for c, s in zip(candidates, surely, strict=True) if s)


def test_invalid_email_message_names_column_and_value() -> None:
    row = one([{"Email Address": "bad@"}], "mailchimp")
    assert row[REASON] == 'column "Email Address": "bad@" is not a valid email address'


def test_no_email_column_is_an_input_error() -> None:
    with pytest.raises(InputError, match=r"no email column: looked for 'email'.*columns are 'name', 'phone'"):
        run([{"name": "x", "phone": "1"}])


# --- dates ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "formats", "expected"),
    [
        ("2019-05-01 12:34:56", (), "2019-05-01"),
        ("2018-08-27T15:06:27.713Z", (), "2018-08-27"),
        ("2020-09-25 22:45:13 -0400", (), "2020-09-26"),  # offset → UTC date
        ("2020-09-25T01:00:00+02:00", (), "2020-09-24"),
        ("2023-03-24 10:23:10 UTC", (), "2023-03-24"),
        ("2023-03-24", (), "2023-03-24"),
        ("24/03/2023", ("%d/%m/%Y",), "2023-03-24"),
        ("Apr 27, 2018", ("%b %d, %Y",), "2018-04-27"),
        ("2023-02-30", (), None),
        ("yesterday", (), None),
        (None, (), None),
    ],
    ids=lambda v: repr(v)[:30],
)
def test_parse_date(cell: str | None, formats: tuple[str, ...], expected: str | None) -> None:
    assert rules.parse_date(pl.Series([cell], dtype=pl.String), formats).to_list() == [expected]


@pytest.mark.parametrize(
    ("cell", "formats", "expected"),
    [
        ("02/29", ("%m/%d",), "02-29"),
        ("12/25", ("%m/%d",), "12-25"),
        ("1990-07-04", (), "07-04"),
        ("07-04", (), "07-04"),
        ("31/02", ("%m/%d",), None),
        ("13/01", ("%m/%d",), None),
    ],
    ids=lambda v: repr(v)[:30],
)
def test_parse_recurrent(cell: str, formats: tuple[str, ...], expected: str | None) -> None:
    assert rules.parse_recurrent(pl.Series([cell], dtype=pl.String), formats).to_list() == [expected]


def test_cascade_keeps_row_order_and_tries_later_formats_only_where_needed() -> None:
    cells = ["2020-01-02 03:04:05", None, "2021-02-03T04:05:06Z", "x", "03/04/2022", "  "]
    out = rules.cascade(pl.Series(cells), rules.datetime_attempts(["%Y-%m-%d %H:%M:%S", "%d/%m/%Y"]))
    assert [v.isoformat() if v else None for v in out.to_list()] == [
        "2020-01-02T03:04:05",
        None,
        "2021-02-03T04:05:06",
        None,
        "2022-04-03T00:00:00",
        None,
    ]


def test_bad_date_leaves_the_field_out_and_records_a_field_problem() -> None:
    """Only the key and consent reject a row: an unreadable date costs its field, not the contact."""
    res = run([{"Email Address": "a@example.com", "Birthday": "31/02"}], "mailchimp")
    assert res.counts.valid == 1 and res.counts.rejected == 0
    assert res.canonical.row(0, named=True)["Birthday"] is None
    problem = res.field_problems.row(0, named=True)
    assert problem[REASON_CODE] == "bad_date" and problem["field"] == "Birthday"
    assert problem[REASON] == 'column "Birthday": "31/02" is not a date'
    assert (problem["reject_column"], problem["reject_value"]) == ("Birthday", "31/02")
    assert (problem["row_id"], problem["source_file"], problem["source_line"]) == (0, "export.csv", 2)
    assert problem[KEY] == "a@example.com"
    assert res.field_problem_raw.select("row_id", "Birthday").rows() == [(0, "31/02")]


def test_event_time_is_utc_and_unparseable_is_null_not_reject() -> None:
    res = run(
        [
            {"email": "a@x.com", "updated_at": "2020-01-01T10:00:00-0200"},
            {"email": "b@x.com", "updated_at": "soon"},
        ]
    )
    assert res.counts.rejected == 0
    times = res.canonical.get_column(EVENT_TIME).to_list()
    assert times[0].isoformat() == "2020-01-01T12:00:00+00:00"
    assert times[1] is None
    assert str(res.canonical.schema[EVENT_TIME]) == "Datetime(time_unit='us', time_zone='UTC')"


# --- numbers, booleans, text ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("42", "42"),
        ("-3.5", "-3.5"),
        ("+7", "7"),
        ("007", "7"),
        ("1.50", "1.5"),
        (".5", "0.5"),
        ("1e3", "1000"),
        ("1,234.5", "1234.5"),
        ("-0", "0"),
        (" 12 ", "12"),
        ("abc", None),
        ("1,2", None),
        ("NaN", None),
        ("inf", None),
        ("1.2.3", None),
    ],
)
def test_normalise_number(cell: str, expected: str | None) -> None:
    fast = expr_values(rules.number_fast, [cell])[0]
    assert (fast or rules.normalise_number(cell)) == expected


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("true", "true"),
        ("YES", "true"),
        ("1", "true"),
        ("y", "true"),
        ("x", "true"),
        (" X ", "true"),
        ("false", "false"),
        ("No", "false"),
        ("0", "false"),
        ("n", "false"),
        ("maybe", None),
        (None, None),
    ],
)
def test_parse_boolean(cell: str | None, expected: str | None) -> None:
    assert expr_values(rules.parse_boolean, [cell]) == [expected]


def _typed_preset(tmp_path, data_type: str):  # type: ignore[no-untyped-def]
    p = tmp_path / "typed.toml"
    p.write_text(f'extends = "generic"\n[[fields]]\nsource = "V"\ntarget = "Value"\ntype = "{data_type}"\n')
    return str(p)


@pytest.mark.parametrize(
    ("data_type", "cell", "code", "value"),
    [
        ("number", "1e3", None, "1000"),
        ("number", "12a", "bad_number", None),
        ("boolean", "Yes", None, "true"),
        ("boolean", "perhaps", "bad_boolean", None),
        ("date", "2024-02-29", None, "2024-02-29"),
        ("date", "2023-02-29", "bad_date", None),
        ("text", "  padded  ", None, "padded"),
        ("text", "x" * 255, None, "x" * 255),
        ("text", "x" * 256, "too_long", None),
        ("text", "é" * 255, None, "é" * 255),  # 510 bytes: the limit counts characters
        ("text", "é" * 256, "too_long", None),
    ],
)
def test_typed_fields(tmp_path, data_type: str, cell: str, code: str | None, value: str | None) -> None:  # type: ignore[no-untyped-def]
    res = run([{"email": "a@x.com", "V": cell}], _typed_preset(tmp_path, data_type))
    assert res.counts.valid == 1 and res.counts.rejected == 0  # a bad field never rejects the row
    assert res.canonical.row(0, named=True)["Value"] == value
    if code is None:
        assert res.field_problems.height == 0
    else:
        (problem,) = res.field_problems.iter_rows(named=True)
        assert problem[REASON_CODE] == code and problem["field"] == "Value" and '"V"' in problem[REASON]
        assert problem["reject_value"] == cell.strip()[: rows.FIELD_VALUE_CHARS]


def test_field_problem_values_are_cut_to_the_documented_length() -> None:
    res = run([{"email": "a@x.com", "Note": "n" * 1000}])
    (problem,) = res.field_problems.iter_rows(named=True)
    assert (
        problem[REASON_CODE] == "too_long" and len(problem["reject_value"]) == rows.FIELD_VALUE_CHARS == 200
    )


def test_field_problems_are_listed_for_the_bad_cells_only_in_row_then_column_order() -> None:
    res = run(
        [
            {"email": "a@x.com", "A": "x" * 300, "B": "ok"},
            {"email": "bad", "A": "x" * 300, "B": "y" * 300},  # rejected: its cells are not listed
            {"email": "c@x.com", "A": "fine", "B": "z" * 300},
            {"email": "d@x.com", "A": "y" * 300, "B": "w" * 300},
        ]
    )
    assert res.counts.valid == 3 and res.counts.rejected == 1
    assert res.field_problems.select("row_id", "field").rows() == [(0, "A"), (2, "B"), (3, "A"), (3, "B")]
    assert res.field_problem_raw.get_column("row_id").to_list() == [0, 2, 3]
    assert res.canonical.select("A", "B").rows() == [(None, "ok"), ("fine", None), (None, None)]


# --- tags and lists ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "cell", "expected"),
    [
        ("comma", " a, b ,,a, c ", ["a", "b", "c"]),
        ("semicolon", "a; b;;c", ["a", "b", "c"]),
        ("pipe", "a|b| a", ["a", "b"]),
        ("brackets_pipe", "[2|21|24]", ["2", "21", "24"]),
        ("mailchimp", '"VIP","Blog"', ["VIP", "Blog"]),
        ("mailchimp", '"A, B", "C"', ["A, B", "C"]),
        ("mailchimp", "Editors", ["Editors"]),
        ("mailchimp", '"Lorem Editors"', ["Lorem Editors"]),
        ("mailchimp", '"VIP","VIP"', ["VIP"]),
        ("comma", None, []),
        ("comma", "", []),
    ],
)
def test_split_items(fmt: str, cell: str | None, expected: list[str]) -> None:
    assert expr_values(lambda c: rules.split_items(c, fmt), [cell]) == [expected]


@pytest.mark.parametrize("fmt", ["comma", "semicolon", "mailchimp"])
@pytest.mark.parametrize("cell", ["a;b", "a,b", '"a";"b"', '"a","b"', '"a"; "b"', ' a ; "b" ', '"a",b'])
def test_tag_separators_and_quotes_are_read_whatever_the_format(fmt: str, cell: str) -> None:
    """A hand-edited export mixes ``,`` and ``;`` and quotes: ``"a";"b"`` once became one garbage tag."""
    assert expr_values(lambda c: rules.split_items(c, fmt), [cell]) == [["a", "b"]]


@pytest.mark.parametrize("fmt", ["comma", "semicolon", "mailchimp"])
def test_a_quoted_tag_keeps_its_separators(fmt: str) -> None:
    cells = ['"Lorem, Ipsum","B"', '"Lorem; Ipsum";B', '"Lorem, Ipsum"']
    assert expr_values(lambda c: rules.split_items(c, fmt), cells) == [
        ["Lorem, Ipsum", "B"],
        ["Lorem; Ipsum", "B"],
        ["Lorem, Ipsum"],
    ]


@pytest.mark.parametrize(
    ("fmt", "cell", "expected"),
    [("pipe", "a;b|c,d", ["a;b", "c,d"]), ("brackets_pipe", "[a,b|c;d]", ["a,b", "c;d"])],
)
def test_pipe_formats_split_on_the_pipe_only(fmt: str, cell: str, expected: list[str]) -> None:
    assert expr_values(lambda c: rules.split_items(c, fmt), [cell]) == [expected]


def test_tags_and_lists_from_generic_columns() -> None:
    row = one([{"email": "a@x.com", "tags": "VIP, Blog", "lists": "News,Promo"}])
    assert (row[TAGS], row[LISTS]) == (["VIP", "Blog"], ["News", "Promo"])


def test_a_groups_column_is_read_as_lists_by_generic() -> None:
    """Sender.net (and others) name their mailing lists "groups": a proposed text field would lose them."""
    row = one([{"Email": "a@x.com", "Groups": "Newsletter, Customers"}])
    assert row[LISTS] == ["Newsletter", "Customers"]


def test_lists_fixed_and_per_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert one([{"Email Address": "a@x.com"}], "mailchimp")[LISTS] == ["Mailchimp audience"]
    p = tmp_path / "pf.toml"
    p.write_text('extends = "generic"\n[lists]\nmode = "per_file"\n')
    res = run(
        [{"email": "a@x.com"}, {"email": "b@x.com"}], str(p), files=["dir/Newsletter.csv", "x.zip::VIP.csv"]
    )
    assert res.canonical.get_column(LISTS).to_list() == [["Newsletter"], ["VIP"]]


# --- status --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "status", "code"),
    [
        ("Subscribed", "subscribed", None),
        ("  UNSUBSCRIBED ", "unsubscribed", None),
        ("bounced", "cleaned", None),
        ("unconfirmed", "pending", None),
        (None, "subscribed", None),  # empty → file prefix, then default
        ("sort of", None, "unknown_status"),
    ],
)
def test_status_column(cell: str | None, status: str | None, code: str | None) -> None:
    row = one([{"email": "a@x.com", "status": cell}])
    assert row[REASON_CODE] == code
    if code:
        assert row[REASON] == 'column "status": "sort of" is not a known status'
    else:
        assert row[STATUS] == status


@pytest.mark.parametrize(
    ("file", "status"),
    [
        ("export.zip::subscribed_members_export_ab12.csv", "subscribed"),
        ("export.zip::unsubscribed_members_export_ab12.csv", "unsubscribed"),
        ("/tmp/cleaned_members_export_ab12.csv", "cleaned"),
        ("nonsubscribed_members_export_ab12.csv", "no_consent"),
        ("members.csv", "subscribed"),  # the default
    ],
)
def test_status_from_file_name_longest_prefix(file: str, status: str) -> None:
    assert one([{"Email Address": "a@x.com"}], "mailchimp", files=[file])[STATUS] == status


def test_flag_forces_status_over_file_name() -> None:
    res = run(
        [
            {"Email Address": "a@x.com", "CLEAN_TIME": "2020-01-01 00:00:00"},
            {"Email Address": "b@x.com", "UNSUB_TIME": "2020-01-01 00:00:00"},
            {"Email Address": "c@x.com"},
        ],
        "mailchimp",
        files=["subscribed_x.csv"] * 3,
    )
    assert res.canonical.get_column(STATUS).to_list() == ["cleaned", "unsubscribed", "subscribed"]


def test_unknown_status_mapped_when_preset_says_so(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "u.toml"
    p.write_text('extends = "generic"\n[status]\nunknown = "no_consent"\n')
    assert one([{"email": "a@x.com", "status": "weird"}], str(p))[STATUS] == "no_consent"


# --- columns -------------------------------------------------------------------------------------------


def test_unmapped_columns_become_custom_text_fields() -> None:
    res = run(
        [
            {
                "email": "a@x.com",
                "First Name": "Ann",
                "Favourite Colour": " blue ",
                "status": "active",
                "key": "k1",
            }
        ]
    )
    by_label = {f.label: f for f in res.fields}
    assert by_label["First Name"].predefined == "firstName" and not by_label["First Name"].custom
    assert by_label["Favourite Colour"].custom and res.canonical["Favourite Colour"][0] == "blue"
    assert "status" not in by_label  # consumed by the status rule
    assert by_label["key (2)"].source == "key"  # never shadows a canonical column
    assert res.canonical["key (2)"][0] == "k1" and res.canonical[KEY][0] == "a@x.com"


def test_ignored_columns_are_not_fields() -> None:
    res = run(
        [{"Email Address": "a@x.com", "MEMBER_RATING": "3", "LEID": "1", "Custom Thing": "x"}], "mailchimp"
    )
    labels = {f.label for f in res.fields}
    assert "Custom Thing" in labels and not {"MEMBER_RATING", "LEID"} & labels


@pytest.mark.parametrize(
    "rule",
    [
        FlagRule(column=("F",), status=Status.UNSUBSCRIBED),
        FlagRule(column=("F",), status=Status.CLEANED, values=("yes", "true")),
        FlagRule(column=("F",), status=Status.NO_CONSENT, values=("email_marketing",), match="contains"),
        FlagRule(
            column=("F",),
            status=Status.NO_CONSENT,
            values=("email_marketing",),
            match="contains",
            absent=True,
        ),
        FlagRule(column=("F",), status=Status.UNSUBSCRIBED, values=("1",), absent=True),
    ],
    ids=["any", "equals", "contains", "contains-absent", "equals-absent"],
)
def test_vectorised_flags_agree_with_flagrule_fires(rule: FlagRule) -> None:
    cells = [None, "", "  ", "yes", " TRUE ", "no", "1", "0", "email_marketing", "sms,EMAIL_MARKETING", "sms"]
    got = expr_values(lambda c: _fires("v", rule, None), cells)
    assert got == [rule.fires(c) for c in cells]


def test_absent_flag_never_fires_for_a_file_without_the_column() -> None:
    rule = FlagRule(column=("F",), status=Status.NO_CONSENT, values=("x",), absent=True)
    frame = pl.DataFrame({"v": [None, None, "y"], "source_file": ["has.csv", "lacks.csv", "has.csv"]})
    got = frame.select(_fires("v", rule, {"has.csv": {"v"}, "lacks.csv": set()})).to_series().to_list()
    assert got == [True, False, True]


# --- spreadsheet dates ---------------------------------------------------------------------------------


def _dates(cells: list[str | None], fmts: tuple[str, ...] = ()) -> list[str | None]:
    out = rules.cascade(pl.Series(cells, dtype=pl.String), rules.datetime_attempts(fmts))
    return [v.isoformat(sep=" ") if v else None for v in out.to_list()]


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        # M/D/YY H:MM, as Excel re-saves a HubSpot export (two-digit years: 00–68 → 20xx, 69–99 → 19xx)
        (["2/5/24 1:51", "12/31/23 23:59"], ["2024-02-05 01:51:00", "2023-12-31 23:59:00"]),
        (["1/2/68", "1/2/69"], ["2068-01-02 00:00:00", "1969-01-02 00:00:00"]),
        # M/D/YYYY H:MM[:SS] [AM/PM]
        (
            ["1/2/2024 1:51:09 PM", "1/2/2024 12:05 AM", "1/2/2024 12:05 pm", "1/2/2024 7:05"],
            ["2024-01-02 13:51:09", "2024-01-02 00:05:00", "2024-01-02 12:05:00", "2024-01-02 07:05:00"],
        ),
        (["1/2/2024 13:05 PM", "1/2/2024 24:00", "2/30/2024"], [None, None, None]),
        # D.M.YYYY: day-first when nothing proves otherwise
        (["01.02.2024", "5.6.24"], ["2024-02-01 00:00:00", "2024-06-05 00:00:00"]),
        # Excel serial day numbers: a column of them only
        (["45327", "45327.0756"], ["2024-02-05 00:00:00", "2024-02-05 01:48:52"]),
        (["45327", "abc"], [None, None]),  # not all numbers: not serials
        (["45327", "12"], [None, None]),  # 12 is no plausible serial: the column is not dates
        (["2/5/24 1:51 x", "2/5.24", "2/5/245"], [None, None, None]),
    ],
)
def test_spreadsheet_date_forms(cells: list[str], expected: list[str | None]) -> None:
    assert _dates(cells) == expected


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        # a first part over 12 proves day-first for the whole column, ambiguous cells included
        (["13/02/2024", "01/02/2024"], ["2024-02-13", "2024-02-01"]),
        # a second part over 12 proves month-first, even with dots
        (["02.13.2024", "01.02.2024"], ["2024-02-13", "2024-01-02"]),
        # nothing proves either: month-first for "/", day-first for "."
        (["01/02/2024"], ["2024-01-02"]),
        (["01.02.2024"], ["2024-02-01"]),
        # contradicting evidence: self-evident cells (and day == month) are read, ambiguous ones are not
        (
            ["13/02/2024", "02/13/2024", "01/02/2024", "03/03/2024"],
            ["2024-02-13", "2024-02-13", None, "2024-03-03"],
        ),
    ],
)
def test_day_or_month_first_is_decided_per_column(cells: list[str], expected: list[str | None]) -> None:
    assert rules.parse_date(pl.Series(cells)).to_list() == expected


def test_the_preset_format_still_comes_first_and_only_leftovers_cascade() -> None:
    """A cell the preset's own format reads is never re-read as a spreadsheet date (``%d/%m/%Y`` here)."""
    assert _dates(["05/02/2024", "2/5/24 1:51"], ("%d/%m/%Y",)) == [
        "2024-02-05 00:00:00",
        "2024-02-05 01:51:00",
    ]


def test_date_field_and_event_time_read_spreadsheet_dates_through_validate() -> None:
    res = run(
        [
            {"Email": "a@x.com", "Create Date": "2/5/24 1:51"},
            {"Email": "b@x.com", "Create Date": "12/31/23 23:59"},
            {"Email": "c@x.com", "Create Date": "garbage"},
        ],
        "hubspot",
    )
    assert res.counts.valid == 3 and res.counts.rejected == 0
    assert res.canonical.get_column("Created Date").to_list() == ["2024-02-05", "2023-12-31", None]
    assert res.canonical.get_column(EVENT_TIME).to_list()[0].isoformat() == "2024-02-05T01:51:00+00:00"
    assert res.field_problems.select("field", REASON_CODE, "reject_value").rows() == [
        ("Created Date", "bad_date", "garbage")
    ]


def test_day_month_order_carries_across_batches_of_one_export() -> None:
    """Validate reads a big export in batches: a batch that proves nothing follows the order an earlier
    batch proved, and one proving the other order makes the column's ambiguous cells problems."""
    from etl.validate.core import _Batches

    def batch(start: int, dates: list[str]) -> pl.DataFrame:
        raw = make_raw([{"Email": f"p{start + i}@x.com", "Create Date": d} for i, d in enumerate(dates)])
        return raw.with_columns(pl.col("row_id") + start)

    batches = _Batches(
        ["Email", "Create Date"], load_preset("hubspot"), {"export.csv": {"Email", "Create Date"}}
    )
    batches.add(batch(0, ["13/02/2024 10:00", "01/02/2024 10:00"]))  # proves day-first
    batches.add(batch(10, ["03/04/2024 10:00"]))  # proves nothing: still day-first
    batches.add(batch(20, ["02/14/2024 10:00", "05/06/2024 10:00"]))  # proves month-first: contradiction
    res = batches.finish((), None)
    assert res.canonical.get_column("Created Date").to_list() == [
        "2024-02-13",
        "2024-02-01",
        "2024-04-03",
        "2024-02-14",
        None,
    ]
    assert res.field_problems.select("row_id", REASON_CODE).rows() == [(21, "bad_date")]


@pytest.mark.parametrize(
    ("source", "base", "stem"),
    [
        ("exports/contacts.xlsx [Unsubscribed]", "Unsubscribed", "Unsubscribed"),
        ("a.zip::lists/book.xlsx [unsubscribed_members]", "unsubscribed_members", "unsubscribed_members"),
        ("book.xlsx [Members v1.2]", "Members v1.2", "Members v1.2"),  # a sheet's name has no extension
        ("a.zip::dir/cleaned_x.csv", "cleaned_x.csv", "cleaned_x"),
        ("C:\\exports\\subscribed.csv", "subscribed.csv", "subscribed"),
        ("notes [draft].csv", "notes [draft].csv", "notes [draft]"),  # brackets alone make no sheet
    ],
)
def test_file_base_of_a_sheet_is_the_sheets_name(source: str, base: str, stem: str) -> None:
    assert (rules.file_base(source), rules.file_stem(source)) == (base, stem)


def test_a_sheets_name_takes_part_in_a_presets_file_rule() -> None:
    """Mailchimp's ``unsubscribed_`` prefix reads a sheet named like the file it was pasted from; a sheet
    whose name says nothing leaves the word to its workbook's name."""
    files = [
        "book.xlsx [subscribed_members]",
        "book.xlsx [unsubscribed_members]",
        "unsubscribed.xlsx [Sheet1]",
        "cleaned.xlsx [subscribed_x]",  # the preset's rule reads the sheet; the workbook's name says cleaned
        "book.xlsx [Sheet1]",
    ]
    assert rows.file_statuses(files, load_preset("mailchimp")) == {
        "book.xlsx [subscribed_members]": "subscribed",
        "book.xlsx [unsubscribed_members]": "unsubscribed",
        "unsubscribed.xlsx [Sheet1]": "unsubscribed",
        "cleaned.xlsx [subscribed_x]": "cleaned",  # the most restrictive name wins (name_says)
    }
    assert rules.file_bases("a.zip::unsubscribed.xlsx [Sheet1]") == ("Sheet1", "unsubscribed.xlsx")
    assert rules.file_bases("a.zip::unsubscribed.csv") == ("unsubscribed.csv",)
