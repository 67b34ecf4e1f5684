"""When a migration must stop before writing: nothing to write, or most rows with an address rejected."""

from __future__ import annotations

from etl.load.guard import stop_reason
from tests.unit.test_validate_rules import run


def test_most_rows_with_an_address_rejected_stops() -> None:
    rows = [{"email": f"p{i} at x.com"} for i in range(3)] + [{"email": "a@x.com"}, {"email": "b@x.com"}]
    why = stop_reason(run(rows))
    assert why is not None and why.startswith("most rows were rejected: 3 of 5 rows with an address")
    assert "invalid_email 3" in why and "only 2 contact(s) would be written" in why


def test_half_rejected_or_blank_email_rows_do_not_stop() -> None:
    half = [{"email": "bad"}, {"email": "a@x.com"}]
    assert stop_reason(run(half)) is None  # exactly half: not "more than half"
    blanks = [{"email": None, "n": "x"}] * 5 + [{"email": "a@x.com"}]  # a spreadsheet's empty lines
    assert stop_reason(run(blanks)) is None


def test_duplicates_are_not_rejects() -> None:
    rows = [{"email": "a@x.com"}] * 6 + [{"email": "bad"}, {"email": "worse"}]
    assert stop_reason(run(rows)) is None  # 2 of 8 rejected: the 5 merged rows arrived with their person


def test_nothing_to_write_stops_naming_why() -> None:
    assert stop_reason(run([{"email": "bad"}])) == (
        "no contact would be written: 0 of 1 rows are valid (rejected: invalid_email 1; see rejects.csv)"
    )
    pending = run([{"email": "a@x.com", "status": "pending"}])
    why = stop_reason(pending)
    assert why is not None and "all 1 valid contacts are pending" in why
    assert stop_reason(pending, import_unconfirmed=True) is None


def test_bad_fields_alone_never_stop() -> None:
    """The reported case: every Create Date unreadable used to reject all 717 rows; now they all load."""
    rows = [{"email": f"p{i}@x.com", "Create Date": "not a date"} for i in range(10)]
    res = run(rows, "hubspot")
    assert res.counts.valid == 10 and res.field_problems.height == 10
    assert stop_reason(res) is None
