"""Per-value rules as polars expressions: email syntax, dates, numbers, booleans, text, tags, lists.

Everything here is vectorised; Python runs per value only on the small subset a fast expression cannot
settle (addresses the ASCII pre-check does not clearly accept, numbers in exotic notation). Each parser
returns the *normalised* value and leaves "did it parse?" to the caller, which compares with the raw cell:
a non-empty cell whose normalised value is null is a reject.

Normal forms (the canonical frame contract in ``etl/model.py``): dates ``YYYY-MM-DD`` (UTC date),
recurrent dates ``MM-DD``, numbers as plain decimals (``1e3`` → ``1000``, ``+5`` → ``5``), booleans
``true``/``false``, text trimmed with empty → null.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal, InvalidOperation

import email_validator
import polars as pl

from etl.frames import aligned
from etl.names import col as column
from etl.sheets import book_of, sheet_of

MAX_TEXT_LENGTH = 255  # Benchmark text fields; longer values are rejected (``too_long``), never truncated
MAX_EMAIL_LENGTH = 254

# The fast path: a plain dot-atom local part and an LDH domain with an alphabetic TLD. Anything this does
# not accept (IDN, odd punctuation, one-letter TLDs, typos) goes to email_validator; special-use domains
# (``.test``, ``.local`` …) also go there so both paths give the same verdict.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
FAST_EMAIL = (
    rf"^{_ATOM}(?:\.{_ATOM})*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?\.)+[A-Za-z]{{2,63}}$"
)
_SPECIAL_TLDS = rf"(?i)\.(?:{'|'.join(re.escape(d) for d in email_validator.SPECIAL_USE_DOMAIN_NAMES)})$"

BOOLEAN_TRUE = ("true", "yes", "1", "y", "x")  # a boolean field's values (consent flags: presets.consent)
BOOLEAN_FALSE = ("false", "no", "0", "n")

# ISO 8601 and the near-ISO forms seen in exports, tried after a preset's own formats. Values are first
# normalised: ``T`` → space, trailing ``Z``/`` UTC`` → ``+0000`` (polars' ``%z`` takes ``-0400`` and ``+02:00``).
ISO_FORMATS = (
    "%Y-%m-%d %H:%M:%S%.f%z",
    "%Y-%m-%d %H:%M%z",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
)
RECURRENT_FORMATS = ("%m-%d", "--%m-%d")  # ISO month-day, tried after the rule's own formats
_LEAP_YEAR = "2000"  # lets a year-less format accept 29 February

_PLAIN_NUMBER = r"^(?:0|-?[1-9][0-9]*)(?:\.[0-9]*[1-9])?$|^-?0\.[0-9]*[1-9]$"  # already canonical
_NUMBER_LIKE = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
_THOUSANDS = re.compile(r"^[+-]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?$")


def empty_list() -> pl.Expr:
    return pl.lit([], dtype=pl.List(pl.String))


def clean(expr: pl.Expr) -> pl.Expr:
    """Trimmed cell, empty → null: the common first step of every rule."""
    s = expr.str.strip_chars()
    return pl.when(s.str.len_bytes() > 0).then(s)


def needs_clean(expr: pl.Expr) -> pl.Expr:
    """True when ``clean`` would change some cell of the column (an empty cell, or one with edge space).

    Exports are mostly tidy: a column ``clean`` leaves unchanged is used as is, so its cells are shared
    with the raw frame instead of being copied (a million-row frame's strings are most of its memory).
    """
    n = expr.str.len_bytes()
    return ((n == 0) | (expr.str.strip_chars().str.len_bytes() != n)).any()


def cleaned(frame: pl.DataFrame, columns: Iterable[str]) -> pl.DataFrame:
    """``frame`` with ``clean`` applied in place to those of ``columns`` that need it (see ``needs_clean``)."""
    cols = list(dict.fromkeys(columns))
    if not cols or frame.height == 0:
        return frame
    # one multi-column expression (pl.nth of every index), not one per column: 10,000 columns build fast
    at = {c: i for i, c in enumerate(frame.columns)}
    need = frame.select(needs_clean(pl.nth([at[c] for c in cols]))).row(0)
    dirty = [c for c, n in zip(cols, need, strict=True) if n]
    return frame.with_columns(clean(column(c)).alias(c) for c in dirty) if dirty else frame


# --- email -----------------------------------------------------------------------------------------------


def email_fast_ok(trimmed: pl.Expr) -> pl.Expr:
    """True when the trimmed address is clearly valid without the full grammar (the vast majority)."""
    return (
        trimmed.str.contains(FAST_EMAIL)
        & (trimmed.str.len_bytes() <= MAX_EMAIL_LENGTH)
        & (trimmed.str.find("@", literal=True) <= 64)
        & ~trimmed.str.contains(_SPECIAL_TLDS)
    ).fill_null(False)


def email_surely_bad(trimmed: pl.Expr) -> pl.Expr:
    """True for addresses no grammar accepts, settled without email_validator: without a quoted local
    part an address has exactly one ``@`` (``a@@b.com``, a common typo, costs nothing per value here)."""
    return ~trimmed.str.contains('"', literal=True) & (trimmed.str.count_matches("@", literal=True) != 1)


def invalid_emails(values: Iterable[str]) -> set[str]:
    """The addresses (trimmed) that fail RFC 5321/6531 syntax; IDN domains allowed, no DNS look-up."""
    bad = set()
    for v in values:
        try:
            email_validator.validate_email(v, check_deliverability=False)
        except email_validator.EmailNotValidError:
            bad.add(v)
    return bad


# --- dates -----------------------------------------------------------------------------------------------


def _iso_normalised(cell: pl.Expr) -> pl.Expr:
    s = cell.str.replace(r"^(\d{4}-\d{2}-\d{2})[Tt]", "$1 ")
    return s.str.replace(r"(?i)\s*(?:z|utc|gmt)$", "+0000")


def _try(cell: pl.Expr, fmt: str) -> pl.Expr:
    """One format → naive UTC datetime (offsets are converted, naive values are taken as UTC)."""
    parsed = cell.str.to_datetime(fmt, strict=False, time_unit="us")
    if "%z" in fmt or "%#z" in fmt or "%:z" in fmt:
        parsed = parsed.dt.replace_time_zone(None)
    return parsed


Attempt = Callable[[pl.Expr], pl.Expr]  # trimmed cell → naive UTC datetime, null when it does not fit


def _fmt(fmt: str, iso: bool = False) -> Attempt:
    return lambda c: _try(_iso_normalised(c) if iso else c, fmt)


def _yearless(fmt: str) -> Attempt:
    return lambda c: _try(pl.concat_str([pl.lit(_LEAP_YEAR + "|"), c]), f"%Y|{fmt}")


def datetime_attempts(formats: Sequence[str] = ()) -> list[Attempt]:
    """The given formats in order, then ISO 8601 (``Z``, ``-0400``, ``+02:00``, `` UTC``)."""
    return [_fmt(f) for f in dict.fromkeys(formats)] + [_fmt(f, iso=True) for f in ISO_FORMATS]


def recurrent_attempts(formats: Sequence[str] = ()) -> list[Attempt]:
    """Month-day formats (a leap year is supplied so ``02/29`` parses), full-date formats, then ISO."""
    fmts = list(dict.fromkeys([*formats, *RECURRENT_FORMATS]))
    return (
        [_yearless(f) for f in fmts if not _has_year(f)]
        + [_fmt(f) for f in fmts if _has_year(f)]
        + datetime_attempts()
    )


def cascade(
    values: pl.Series,
    attempts: Sequence[Attempt],
    *,
    trimmed: bool = False,
    orders: dict[str, str] | None = None,
) -> pl.Series:
    """Parse each non-empty cell with the first attempt that fits → naive UTC datetimes (null: none fit).

    Cells no attempt fits are then read as a spreadsheet writes dates (``sheet_dates``: ``2/5/24 1:51``,
    ``13.02.2024``, Excel day numbers when the whole column is such numbers), with the day/month order
    decided from those cells together.

    Each attempt only sees the cells every earlier attempt left unparsed, so a column in the preset's own
    format costs one vectorised parse, not one per candidate format. The result has the chunk layout of
    ``values`` (see ``split_column``). ``trimmed``: the cells are already ``clean`` (trimmed, empty →
    null), as ``canonical_rows`` hands them: cleaning them again costs twice the parse itself.
    ``orders`` carries the day/month order the column's earlier batches proved (keyed by the series'
    name; see ``sheet_dates``), so a batch without proof reads like the ones before it.
    """
    n = values.len()
    v = pl.col("v") if trimmed else clean(pl.col("v"))
    if attempts:  # the usual column: the first attempt parses every cell, no bookkeeping needed
        first = pl.DataFrame({"v": values}).select(attempts[0](v).alias("t"), v.is_not_null().alias("has"))
        if not (first.get_column("has") & first.get_column("t").is_null()).any():
            return aligned(first.get_column("t").alias(values.name), values)
    todo = (
        pl.DataFrame({"v": values})
        .with_row_index("i")
        .select(pl.col("i"), v.alias("v"))
        .filter(pl.col("v").is_not_null())
    )
    parts = []
    for attempt in attempts:
        if not todo.height:
            break
        got = todo.with_columns(attempt(pl.col("v")).alias("t"))
        parts.append(got.filter(pl.col("t").is_not_null()).select("i", "t"))
        todo = got.filter(pl.col("t").is_null()).drop("t")
    if todo.height:  # what no format read: spreadsheet forms, decided for the column as a whole
        left = todo.get_column("v")
        serials = todo.height == n - values.null_count() and all_serials(left)
        got = todo.with_columns(sheet_dates(left, serials=serials, orders=orders).alias("t"))
        parts.append(got.filter(pl.col("t").is_not_null()).select("i", "t"))
    found = pl.concat(parts) if parts else pl.DataFrame(schema={"i": pl.UInt32, "t": pl.Datetime("us")})
    full = pl.DataFrame({"i": pl.int_range(n, dtype=pl.UInt32, eager=True)}).join(
        found, on="i", how="left", maintain_order="left"
    )
    return aligned(full.get_column("t").alias(values.name), values)


# Spreadsheet forms (a CSV re-saved by Excel, Numbers, LibreOffice): ``2/5/24 1:51``, ``2/5/2024 1:51:09 PM``,
# ``13/02/2024``, ``13.02.2024`` and serial day numbers. Tried after every format and ISO, on the cells
# those left, with the day/month order decided once for the whole column (see ``sheet_dates``).
_SHEET_DATE = (
    r"^(\d{1,2})([/.])(\d{1,2})([/.])(\d{4}|\d{2})"
    r"(?:(?:\s+|T)(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?(?:\s*([AaPp])\.?[Mm]\.?)?)?$"
)
_SHEET_PARTS = ("a", "sep", "b", "sep2", "year", "hour", "minute", "second", "half")
_YEAR_PIVOT = 68  # two-digit years 00–68 → 20xx, 69–99 → 19xx (what strptime's %y does)
SERIAL_RANGE = (20_000, 80_000)  # Excel day numbers 1954-10-03 … 2119-01-10: a column of these is dates
_SERIAL_EPOCH = "1899-12-30"  # Excel's day 0 (its 1900 leap-year bug makes day 60 = 1900-02-29)
_SERIAL = r"^\d{5}(?:\.\d+)?$"
DAY_FIRST, MONTH_FIRST = "day_first", "month_first"


def date_order(a: pl.Series, b: pl.Series) -> str | None:
    """The day/month order a column's ``a/b/…`` cells prove: a first part over 12 proves day-first, a
    second part over 12 month-first. None: nothing proves either; ``"both"``: the column contradicts
    itself (then only cells that prove their own order can be read)."""
    day = bool(((a > 12) & (b <= 12)).any())
    month = bool(((b > 12) & (a <= 12)).any())
    if day and month:
        return "both"
    return DAY_FIRST if day else MONTH_FIRST if month else None


def sheet_dates(
    values: pl.Series, *, serials: bool = False, orders: dict[str, str] | None = None
) -> pl.Series:
    """Trimmed, non-empty cells in spreadsheet forms → naive datetimes (null: not such a date).

    Day/month order is decided for the whole of ``values`` (one column): proven by the cells
    (``date_order``), else month-first for ``/`` (``2/5/24`` is 5 February, as US exports write it) and
    day-first for ``.`` (the German/Nordic form). In a column that proves both orders, a cell whose
    parts are both 12 or less (and differ) cannot be read: it stays null, so it is reported, never
    guessed. ``serials``: the column is all numbers, so numbers in ``SERIAL_RANGE`` are Excel day numbers.
    ``orders`` (column name → order proven so far, updated here) lets a column read in several batches
    keep one order: a batch proving nothing follows the earlier proof; one proving the other order makes
    the column contradictory from then on.
    """
    frame = pl.DataFrame({"v": values}).with_columns(
        pl.col("v").str.extract_groups(_SHEET_DATE).struct.rename_fields(list(_SHEET_PARTS)).alias("p")
    )
    p = (
        frame.get_column("p")
        .struct.unnest()
        .with_columns(pl.col("a", "b", "year", "hour", "minute", "second").cast(pl.Int32, strict=False))
    )
    p = p.with_columns(pl.when(pl.col("sep") == pl.col("sep2")).then(pl.col("a")).alias("a"))
    order = date_order(p.get_column("a").drop_nulls(), p.filter(pl.col("a").is_not_null()).get_column("b"))
    if orders is not None:
        known = orders.get(values.name)
        if known is not None and order is not None and known != order:
            order = "both"
        order = order or known
        if order is not None:
            orders[values.name] = order
    a, b = pl.col("a"), pl.col("b")
    if order == DAY_FIRST:
        day_first = pl.lit(True)
    elif order == MONTH_FIRST:
        day_first = pl.lit(False)
    elif order is None:
        day_first = pl.col("sep") == "."
    else:  # contradicting evidence: only self-evident cells (or day == month) are read
        day_first = pl.when(a > 12).then(True).when((b > 12) | (a == b)).then(False)
    year = pl.col("year")
    year = (
        pl.when(year < 100)
        .then(year + pl.when(year <= _YEAR_PIVOT).then(2000).otherwise(1900))
        .otherwise(year)
    )
    hour, half = pl.col("hour").fill_null(0), pl.col("half").str.to_lowercase()
    hour = (
        pl.when(half.is_null())
        .then(hour)
        .when((hour < 1) | (hour > 12))
        .then(pl.lit(None, dtype=pl.Int32))
        .otherwise(hour % 12 + pl.when(half == "p").then(12).otherwise(0))
    )

    def two(e: pl.Expr) -> pl.Expr:
        return e.cast(pl.String).str.zfill(2)

    text = pl.concat_str(
        [
            year.cast(pl.String).str.zfill(4),
            pl.lit("-"),
            two(pl.when(day_first).then(b).when(~day_first).then(a)),
            pl.lit("-"),
            two(pl.when(day_first).then(a).when(~day_first).then(b)),
            pl.lit(" "),
            two(hour),
            pl.lit(":"),
            two(pl.col("minute").fill_null(0)),
            pl.lit(":"),
            two(pl.col("second").fill_null(0)),
        ]
    )
    out = p.select(text.str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False, time_unit="us").alias("t"))
    parsed = out.get_column("t")
    if serials:
        number = values.cast(pl.Float64, strict=False)
        day = pl.lit(_SERIAL_EPOCH).str.to_datetime("%Y-%m-%d", time_unit="us")
        serial = pl.DataFrame({"n": number}).select(
            pl.when(pl.col("n").is_between(*SERIAL_RANGE))
            .then(day + pl.duration(seconds=(pl.col("n") * 86_400).round(0).cast(pl.Int64)))
            .alias("t")
        )
        parsed = parsed.fill_null(serial.get_column("t"))
    return parsed.alias(values.name)


def all_serials(values: pl.Series) -> bool:
    """True when every cell is a number in ``SERIAL_RANGE`` (so the column holds Excel day numbers)."""
    n = values.cast(pl.Float64, strict=False)
    return bool(values.len()) and bool(
        (values.str.contains(_SERIAL) & n.is_between(*SERIAL_RANGE)).fill_null(False).all()
    )


def parse_date(values: pl.Series, formats: Sequence[str] = ()) -> pl.Series:
    """Normalised ``YYYY-MM-DD`` (the UTC date), or null."""
    return cascade(values, datetime_attempts(formats)).dt.strftime("%Y-%m-%d")


def parse_recurrent(values: pl.Series, formats: Sequence[str] = ()) -> pl.Series:
    """Normalised ``MM-DD`` from a month-day (``%m/%d``) or a full date, or null."""
    return cascade(values, recurrent_attempts(formats)).dt.strftime("%m-%d")


def _has_year(fmt: str) -> bool:
    return any(d in fmt for d in ("%Y", "%y", "%G", "%C", "%F", "%D", "%c", "%x"))


# --- numbers, booleans, text -----------------------------------------------------------------------------


def number_fast(cell: pl.Expr) -> pl.Expr:
    """The cell when it is already a canonical plain decimal, else null (the caller finishes the rest)."""
    c = clean(cell)
    return pl.when(c.str.contains(_PLAIN_NUMBER)).then(c)


def normalise_number(value: str) -> str | None:
    """Plain decimal form of one cell (``+1,234.50`` → ``1234.50``, ``1e3`` → ``1000``); None if not a number."""
    v = value.strip()
    if _THOUSANDS.match(v):
        v = v.replace(",", "")
    if not _NUMBER_LIKE.match(v):
        return None
    try:
        d = Decimal(v)
    except InvalidOperation:
        return None
    if not d.is_finite() or abs(d.adjusted()) > 30:
        return None
    out = format(d, "f")
    if "." in out:
        out = out.rstrip("0").rstrip(".")
    return "0" if out in ("-0", "") else out


def parse_boolean(cell: pl.Expr) -> pl.Expr:
    """``true``/``false`` from the usual spellings (case-insensitive), or null."""
    c = clean(cell).str.to_lowercase()
    return (
        pl.when(c.is_in(BOOLEAN_TRUE)).then(pl.lit("true")).when(c.is_in(BOOLEAN_FALSE)).then(pl.lit("false"))
    )


# --- tags and lists --------------------------------------------------------------------------------------


LOOSE_ITEM_FORMATS = frozenset({"comma", "semicolon", "mailchimp"})


def _tidy(items: pl.Expr, strip: str | None = None) -> pl.Expr:
    """Trim each item, drop empties, dedupe keeping first-seen order; null cell → empty list."""
    tidy = items.list.eval(pl.element().str.strip_chars(strip))
    tidy = tidy.list.eval(pl.element().filter(pl.element().str.len_bytes() > 0))
    return tidy.list.unique(maintain_order=True).fill_null(empty_list())


def split_items(cell: pl.Expr, fmt: str) -> pl.Expr:
    """Split a multi-value cell by its export format (see ``presets.TAG_FORMATS``) into list[str].

    ``comma``, ``semicolon`` and ``mailchimp`` read the same way, whatever the preset says: items are
    separated by ``,`` or ``;`` and each may be wrapped in double quotes (``a;b``, ``"a","b"``,
    ``"a"; "b"`` are the two items ``a`` and ``b``), because exports and hand-edited files mix the two
    separators, and a quoted item keeps its separators (Mailchimp's ``"A, B","C"`` is two tags). A bare
    ``Editors`` is one item. ``brackets_pipe``: ``[2|21|24]``. ``pipe`` (or any other separator) splits
    on it alone.
    """
    if fmt in LOOSE_ITEM_FORMATS:
        return _tidy(cell.str.extract_all(r'"[^"]*"|[^,;]+'), ' \t\r\n"')
    if fmt == "brackets_pipe":
        return _tidy(cell.str.strip_chars().str.strip_chars("[]").str.split("|"))
    sep = {"comma": ",", "semicolon": ";", "pipe": "|"}.get(fmt, fmt)
    return _tidy(cell.str.split(sep))


def split_column(values: pl.Series, fmt: str) -> pl.Series:
    """``split_items`` computed once per distinct cell and mapped back: exports repeat a few tag sets.

    Like ``cascade``, the result has the chunk layout of ``values``: adding a column of another layout to
    a frame makes polars rechunk (copy) every column of it."""
    frame = pl.DataFrame({"v": values})
    distinct = frame.unique("v").with_columns(split_items(pl.col("v"), fmt).alias("t"))
    out = frame.join(distinct, on="v", how="left", nulls_equal=True, maintain_order="left").get_column("t")
    return aligned(out.alias(values.name), values)


def file_base(source_file: str) -> str:
    """The base name of a source: a ZIP member's own name for ``x.zip::dir/member.csv``, and the sheet's
    name for ``book.xlsx [Unsubscribed]`` — a sheet is a source of its own, and its name says what it
    holds as a file's name does, so a preset's file rule (``unsubscribed_``) sees it the same way."""
    sheet = sheet_of(source_file)
    if sheet is not None:
        return sheet
    tail = source_file.rsplit("::", 1)[-1]
    return re.split(r"[\\/]", tail)[-1]


def file_bases(source_file: str) -> tuple[str, ...]:
    """Every base name a source answers to, the most specific first: a sheet's name, then its workbook's
    (``unsubscribed.xlsx [Sheet1]`` → ``Sheet1``, ``unsubscribed.xlsx``), so a rule on names sees both."""
    book = book_of(source_file)
    return (file_base(source_file),) if book == source_file else (file_base(source_file), file_base(book))


def file_stems(source_file: str) -> tuple[str, ...]:
    """``file_stem`` of the source and, for a sheet, of its workbook (``unsubscribed.xlsx [Sheet1]`` →
    ``Sheet1``, ``unsubscribed``): either name may state its rows' consent."""
    return tuple(dict.fromkeys((file_stem(source_file), file_stem(book_of(source_file)))))


def file_stem(source_file: str) -> str:
    """``file_base`` without its extension; a sheet's name has none (``Members v1.2`` stays whole)."""
    base = file_base(source_file)
    if sheet_of(source_file) is not None:
        return base
    return base.rsplit(".", 1)[0] if "." in base.lstrip(".") else base
