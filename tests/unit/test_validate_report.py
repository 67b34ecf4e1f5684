"""The report files: report.json keys and numbers, HTML escaping and self-containment, rejects.csv safety."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from etl.validate.report import build_report, plan_estimate, validation_lines, write_report
from tests.unit.test_validate_rules import run

EVIL = "<script>alert(1)</script>"


def _result():  # type: ignore[no-untyped-def]
    return run(
        [
            {
                "email": "ann@x.com",
                "First Name": "Ann",
                "status": "subscribed",
                "tags": "VIP",
                "<img src=x>": "1",
            },
            {
                "email": "ANN@x.com",
                "First Name": None,
                "status": "unsubscribed",
                "tags": "Blog",
                "<img src=x>": None,
            },
            {
                "email": f"{EVIL}@x.com",
                "First Name": EVIL,
                "status": "subscribed",
                "tags": None,
                "<img src=x>": None,
            },
            {
                "email": "bob@x.com",
                "First Name": '=HYPERLINK("http://evil")',
                "status": "what",
                "tags": None,
                "<img src=x>": "+1",
            },
            {
                "email": "cy@x.com",
                "First Name": "-2",
                "status": "pending",
                "tags": None,
                "<img src=x>": "@SUM(A1)",
            },
            {"email": None, "First Name": "\tTab", "status": None, "tags": None, "<img src=x>": "\rcr"},
        ],
        files=["<b>evil</b>.csv"] * 6,
    )


def test_report_json_keys_and_totals(tmp_path: Path) -> None:
    files, doc = write_report(_result(), tmp_path / "r", generated_at="2026-01-01T00:00:00+00:00")
    on_disk = json.loads(files.json.read_text(encoding="utf-8"))
    assert on_disk == json.loads(json.dumps(doc, default=str))
    for key in (
        "platform",
        "rows",
        "by_status",
        "rejects_by_reason",
        "fill_rates",
        "files",
        "duplicates",
        "plan",
        "generated_at",
        "version",
        "tool_version",
    ):
        assert key in on_disk
    assert (on_disk["schema"], on_disk["version"]) == ("bme-migrate/report", 2) and "totals" not in on_disk
    assert on_disk["platform"] == "generic"
    assert on_disk["rows"] == {"read": 6, "valid": 2, "rejected": 3, "merged_duplicate": 1}
    assert on_disk["by_status"] == {
        "subscribed": 0,
        "unsubscribed": 1,
        "cleaned": 0,
        "pending": 1,
        "no_consent": 0,
    }
    assert on_disk["rejects_by_reason"] == {"invalid_email": 1, "missing_email": 1, "unknown_status": 1}
    assert on_disk["fill_rates"]["First Name"] == 1.0 and on_disk["fill_rates"]["tags"] == 0.5
    dup = on_disk["duplicates"]
    assert (dup["groups"], dup["rows_merged"]) == (1, 1)
    assert dup["sample"][0]["status"] == "unsubscribed" and dup["sample"][0]["kept"] == "<b>evil</b>.csv:3"
    assert any("dry-run" in a for a in on_disk["plan"]["estimate"]["assumptions"])


def test_plan_counts_only_loadable_statuses() -> None:
    rows = [{"email": f"u{i}@x.com", "status": "subscribed"} for i in range(150)]
    rows += [{"email": f"p{i}@x.com", "status": "pending"} for i in range(7)]
    plan = plan_estimate(run(rows))
    assert plan["contacts_to_create"] == 150 and plan["skipped_by_status"] == 7
    assert plan["dedup_searches"] == 2
    assert plan["requests"] == 150 + 2 + plan["setup_requests"]
    assert plan["hours"] == round(plan["requests"] / 3600, 3)


def test_html_is_escaped_and_self_contained(tmp_path: Path) -> None:
    files, _ = write_report(_result(), tmp_path, generated_at="now")
    page = files.html.read_text(encoding="utf-8")
    assert "<script" not in page.lower() and "<img" not in page and "<b>evil" not in page
    assert "&lt;script&gt;" in page and "&lt;b&gt;evil&lt;/b&gt;.csv" in page and "&lt;img src=x&gt;" in page
    assert "<link" not in page and "@import" not in page and "url(" not in page
    assert page.count("http") == page.count('xmlns="http://www.w3.org/2000/svg"')  # no external asset
    assert "<svg" in page and "<style>" in page


def test_rejects_csv_neutralises_formulas_and_has_bom(tmp_path: Path) -> None:
    files, _ = write_report(_result(), tmp_path, generated_at="now")
    data = files.rejects.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(data.decode("utf-8-sig").splitlines(keepends=True)))
    assert list(rows[0])[-5:] == ["reason_code", "reason", "source_file", "source_line", "field"]
    assert {r["field"] for r in rows} == {""}  # whole-row rejects name no field
    assert list(rows[0])[:5] == ["email", "First Name", "status", "tags", "<img src=x>"]
    by_line = {r["source_line"]: r for r in rows}
    assert by_line["5"]["First Name"] == '\'=HYPERLINK("http://evil")'
    assert by_line["5"]["<img src=x>"] == "'+1" and by_line["5"]["reason_code"] == "unknown_status"
    assert by_line["7"]["First Name"] == "'\tTab" and by_line["7"]["<img src=x>"] == "'\rcr"
    assert by_line["4"]["First Name"] == EVIL  # not a formula: left as is
    assert {r["reason_code"] for r in rows} == {"invalid_email", "unknown_status", "missing_email"}


def test_summary_lines_mention_the_essentials() -> None:
    doc = build_report(_result(), generated_at="now")
    text = "\n".join(validation_lines(doc))
    assert "read 6 rows" in text and "rejected 3" in text and "invalid_email 1" in text
    assert "merged duplicates 1" in text and "unsubscribed 1" in text and "requests" in text


def test_column_samples_are_the_first_distinct_non_empty_values_of_each_field_column() -> None:
    from etl.validate.report import SAMPLE_CHARS, SAMPLE_VALUES, column_samples

    long = "x" * (SAMPLE_CHARS + 20)
    cells = [None, "", "b", "a", "b", long, "c", "d"]
    result = run([{"email": f"p{i}@x.com", "Colour": v, "*": "star"} for i, v in enumerate(cells)])
    samples = column_samples(result)
    assert samples["Colour"] == ["b", "a", long[:SAMPLE_CHARS]][:SAMPLE_VALUES]
    assert samples["*"] == ["star"]  # a header polars would read as a pattern is still one column
