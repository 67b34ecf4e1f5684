"""``bme-migrate validate`` end to end: real files on disk, the real entry point, exit codes 0/2/3."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from etl.cli import main
from tests.e2e.conftest import Run

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
BIN = Path(sys.executable).with_name("bme-migrate")

CSV_TEXT = (
    "Email,First Name,Status,Birthday Date,Tags\n"
    "ann@example.com,Ann,subscribed,1990-01-02,VIP\n"
    "ANN@example.com ,,unsubscribed,,Blog\n"
    "not-an-email,Bob,subscribed,,\n"
    "cy@example.com,=cmd|' /C calc'!A0,subscribed,,\n"
    "dee@example.com,Dee,on holiday,,\n"
    ",Nobody,subscribed,,\n"
)


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


@pytest.fixture
def export(tmp_path: Path) -> Path:
    p = tmp_path / "contacts.csv"
    p.write_text(CSV_TEXT, encoding="utf-8")
    return p


def test_mailchimp_zip_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(
        ["validate", str(SAMPLES / "mailchimp_audience.zip"), "--report-dir", str(tmp_path)], capsys
    )
    assert code == 0, err
    doc = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert doc["platform"] == "mailchimp"
    t = doc["rows"]
    assert t["read"] == t["valid"] + t["rejected"] + t["merged_duplicate"] > 0
    assert len(doc["files"]) == 3 and all(f["kind"] == "zip-member" for f in doc["files"])
    assert doc["by_status"]["unsubscribed"] >= 1 and doc["by_status"]["cleaned"] >= 1
    assert (tmp_path / "report.html").stat().st_size > 0 and (tmp_path / "rejects.csv").exists()
    assert f"read {t['read']} rows" in out and "plan: ~" in out


def test_rejects_exit_0_by_default_and_3_with_fail_on_rejects(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(["validate", str(export), "--report-dir", str(tmp_path / "a")], capsys)
    assert code == 0 and "rejected 3" in out
    code, out, err = cli(
        ["validate", str(export), "--report-dir", str(tmp_path / "b"), "--fail-on-rejects"], capsys
    )
    assert code == 3
    assert err.count("\n") == 1 and err.startswith("error: 3 row(s) rejected")
    assert (tmp_path / "b" / "report.json").exists()  # the report is written before failing


def test_fail_on_rejects_passes_a_clean_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "clean.csv"
    p.write_text("email,name\na@example.com,A\nb@example.com,B\n", encoding="utf-8")
    code, out, _ = cli(["validate", str(p), "--report-dir", str(tmp_path / "r"), "--fail-on-rejects"], capsys)
    assert code == 0 and "valid 2" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["validate", "does-not-exist.csv"], "error: does-not-exist.csv: file not found"),
        (["validate", str(SAMPLES / "missing_email_column.csv")], "no email column: looked for 'email'"),
        (["validate", str(SAMPLES / "hubspot.csv"), "--preset", "nope"], "error: unknown preset 'nope'"),
        (
            ["validate", str(SAMPLES / "hubspot.csv"), "--preset", "generic", "--mapping", "m.toml"],
            "error: use either --preset or --mapping",
        ),
        (
            ["validate", str(SAMPLES / "hubspot.csv"), "--mapping", "missing.toml"],
            "error: mapping file not found",
        ),
    ],
)
def test_usage_and_input_errors_exit_2_with_one_line(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli([*args, "--report-dir", str(tmp_path)], capsys)
    assert code == 2
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "report.json").exists()


def test_default_report_dir(
    export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, _ = cli(["validate", str(export)], capsys)
    assert code == 0
    made = list((tmp_path / "reports").glob("validate-*T*Z/report.json"))
    assert len(made) == 1


def test_user_mapping_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "odd.csv"
    src.write_text("Kontakt,Punkte\na@example.com,12\nb@example.com,zwölf\n", encoding="utf-8")
    mapping = tmp_path / "mine.toml"
    mapping.write_text(
        'extends = "generic"\n[email]\naliases = ["Kontakt"]\n'
        '[[fields]]\nsource = "Punkte"\ntarget = "Score"\ntype = "number"\n',
        encoding="utf-8",
    )
    code, _, _ = cli(
        ["validate", str(src), "--mapping", str(mapping), "--report-dir", str(tmp_path / "r")], capsys
    )
    assert code == 0
    doc = json.loads((tmp_path / "r" / "report.json").read_text(encoding="utf-8"))
    assert doc["platform"] == "mine" and doc["rejects_by_reason"] == {}  # a bad number costs its field
    assert doc["rows"]["valid"] == 2 and doc["field_problems"]["by_field"] == {"Score": {"bad_number": 1}}
    (sample,) = doc["field_problems"]["samples"]
    assert sample["reason"] == 'column "Punkte": "zwölf" is not a number' and sample["line"] == 3


def test_rejects_csv_round_trip(export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Fix the rejected rows in rejects.csv, feed the file back: every row validates, nothing extra appears."""
    cli(["validate", str(export), "--preset", "generic", "--report-dir", str(tmp_path / "first")], capsys)
    rejects = tmp_path / "first" / "rejects.csv"
    assert rejects.read_bytes().startswith(b"\xef\xbb\xbf")
    with rejects.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["reason_code"] for r in rows] == ["invalid_email", "unknown_status", "missing_email"]
    assert [r["source_line"] for r in rows] == ["4", "6", "7"]
    fixes = {
        "4": {"Email": "bob@example.com"},
        "6": {"Status": "unsubscribed"},
        "7": {"Email": "nobody@example.com"},
    }
    for r in rows:
        r.update(fixes[r["source_line"]])
    fixed = tmp_path / "fixed.csv"
    with fixed.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    code, out, _ = cli(
        [
            "validate",
            str(fixed),
            "--preset",
            "generic",
            "--report-dir",
            str(tmp_path / "second"),
            "--fail-on-rejects",
        ],
        capsys,
    )
    assert code == 0 and "valid 3 · rejected 0" in out
    doc = json.loads((tmp_path / "second" / "report.json").read_text(encoding="utf-8"))
    labels = {f["label"] for f in doc["fields"]}
    assert labels == {"First Name", "Birthday Date"}  # bookkeeping columns are not proposed as fields
    assert doc["by_status"]["unsubscribed"] == 1


def test_formula_cells_are_neutralised_in_rejects_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = tmp_path / "f.csv"
    p.write_text("email,name,phone\nbad,=1+1,+44 20\nworse,@SUM(A1),-3\n", encoding="utf-8")
    cli(["validate", str(p), "--report-dir", str(tmp_path / "r")], capsys)
    with (tmp_path / "r" / "rejects.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["name"], r["phone"]) for r in rows] == [("'=1+1", "'+44 20"), ("'@SUM(A1)", "'-3")]


def test_installed_entry_point(tmp_path: Path) -> None:
    """The console script itself: exit codes and one-line errors through a real process."""
    ok = subprocess.run(
        [str(BIN), "validate", str(SAMPLES / "hubspot.csv"), "--report-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(
        [str(BIN), "validate", str(tmp_path / "nope.csv")], capture_output=True, text=True, timeout=120
    )
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "file not found" in bad.stderr


def test_generic_fallback_says_what_it_knows(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No preset is confident about plain column names: the platform line names the closest presets and
    their real confidences and how to pick one — never "generic (detected, confidence 100%)"."""
    code, out, err = cli(["validate", str(export), "--report-dir", str(tmp_path)], capsys)
    assert code == 0, err
    doc = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    det = doc["detection"]
    assert doc["platform"] == det["platform"] == "generic"
    assert det["confidence"] < 0.5 and det["confidence"] == det["closest"][0]["confidence"]
    closest = ", ".join(f"{c['preset']} {c['confidence']:.0%}" for c in det["closest"])
    assert det["message"].startswith(f"no preset above 50%; closest: {closest}")
    assert det["message"].endswith("— pick one with --preset NAME")
    assert f"platform: generic ({det['message']})" in out
    assert "confidence 100%" not in out and "detected" not in out.splitlines()[0]
    assert "pick one with --preset NAME" in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_a_2mb_cell_is_read_and_judged_by_the_length_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Used to end in "field larger than field limit (131072)", exit 1: now the value reaches validate."""
    big = "y" * 2_000_000
    rows = [f"r{i}@example.com,R{i},short" for i in range(12)]
    rows[0] = f"big@example.com,Big,{big}"
    rows[9] = f'late@example.com,Late,"{big}\nwith a second line"'
    p = tmp_path / "notes.csv"
    p.write_text("Email,First Name,Notes\n" + "\n".join(rows) + "\n", encoding="utf-8")
    code, out, err = cli(["validate", str(p), "--report-dir", str(tmp_path / "r")], capsys)
    assert code == 0, err
    doc = json.loads((tmp_path / "r" / "report.json").read_text(encoding="utf-8"))
    t = doc["rows"]
    assert t["read"] == 12 and t["valid"] + t["rejected"] == 12
    assert "too_long" in doc["rejects_by_reason"] or t["valid"] == 12  # the length rule decides, not extract
    assert "read 12 rows" in out


TAGGED = (
    "Email,Tags\n"
    'a@example.com,"""a"";""b"""\n'  # "a";"b"
    "b@example.com,a;b\n"
    'c@example.com,"a,b"\n'
    'd@example.com,"""a""; ""b"""\n'  # "a"; "b"
    'e@example.com,"""a"",""b"""\n'  # "a","b"
    'f@example.com,"""Lorem, Ipsum"",""b"""\n'  # Mailchimp style: one tag with a comma in it
)


def test_tag_cells_in_any_spelling_become_separate_tags(tmp_path: Path, run: Run) -> None:
    """validate reads every spelling, and the plan against the (embedded) account creates exactly the
    tags a, b and "Lorem, Ipsum" — once a tags cell ``"a";"b"`` became one garbage tag."""
    p = tmp_path / "tagged.csv"
    p.write_text(TAGGED, encoding="utf-8")
    checked = run(["validate", str(p), "--preset", "generic", "--report-dir", str(tmp_path / "r")])
    assert checked.exit_code == 0, checked.err
    doc = json.loads((tmp_path / "r" / "report.json").read_text(encoding="utf-8"))
    assert doc["rows"]["valid"] == 6 and doc["fill_rates"]["tags"] == 1.0
    env = {"BME_STATE_DIR": str(tmp_path / "state")}
    planned = run(["mappings", "plan", str(p), "--preset", "generic", "--create-tags", "--json"], env)
    assert planned.exit_code == 0, planned.err
    assert [t["label"] for t in json.loads(planned.out)["tags"]] == ["a", "b", "Lorem, Ipsum"]


def test_a_detected_code_page_is_printed_with_how_sure(tmp_path: Path, run: Run) -> None:
    from tests.unit.test_extract_encoding import CENTRAL, export_text

    p = tmp_path / "klienci.csv"
    p.write_bytes(export_text(CENTRAL).encode("cp1250"))
    result = run(["validate", str(p), "--report-dir", str(tmp_path / "r")])
    assert result.exit_code == 0, result.err
    warning = [line for line in result.err.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "read as cp1250 (detected, " in warning[0] and "% sure" in warning[0]
    doc = json.loads((tmp_path / "r" / "report.json").read_text(encoding="utf-8"))
    assert doc["files"][0]["encoding"] == "cp1250" and doc["rows"]["valid"] == 15


def test_an_ambiguous_file_exits_2_and_encoding_reads_it(tmp_path: Path, run: Run) -> None:
    p = tmp_path / "ru.csv"
    p.write_bytes("Email,Name\r\nivan@example.com,Иван\r\n".encode("cp1251"))
    refused = run(["validate", str(p), "--report-dir", str(tmp_path / "a")])
    assert refused.exit_code == 2 and refused.out == ""
    assert refused.err.count("\n") == 1 and refused.err.startswith(f"error: {p}:2:18: not UTF-8")
    assert "c8 e2 e0 ed" in refused.err and "--encoding NAME" in refused.err
    assert not (tmp_path / "a").exists()
    told = run(["validate", str(p), "--encoding", "windows-1251", "--report-dir", str(tmp_path / "b")])
    assert told.exit_code == 0, told.err
    assert "warning" not in told.err  # nothing was guessed
    doc = json.loads((tmp_path / "b" / "report.json").read_text(encoding="utf-8"))
    assert doc["files"][0]["encoding"] == "cp1251" and doc["rows"]["valid"] == 1


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--encoding", "klingon-8"], "error: unknown encoding 'klingon-8' for --encoding"),
        (["--delimiter", "#"], "error: unknown delimiter '#' for --delimiter"),
    ],
)
def test_unknown_encoding_or_delimiter_is_a_one_line_usage_error(
    export: Path, tmp_path: Path, run: Run, flags: list[str], message: str
) -> None:
    for command in (["validate"], ["mappings", "detect"], ["mappings", "plan", "--offline"], ["migrate"]):
        result = run([*command, str(export), *flags], {"BME_STATE_DIR": str(tmp_path / "s")})
        assert result.exit_code == 2, (command, result.output)
        assert result.err.startswith(message) and result.err.count("\n") == 1


def test_delimiter_tab_and_encoding_reach_mappings_detect(tmp_path: Path, run: Run) -> None:
    p = tmp_path / "export.txt"
    head = "Email Address\tFirst Name\tLast Name\tMEMBER_RATING\tOPTIN_TIME\tCONFIRM_TIME\tLEID\tEUID\tTAGS"
    p.write_bytes(f"{head}\r\na@x.io\tÅsa\tÖberg\t2\t\t\t1\tx\t\r\n".encode("cp1252"))
    got = run(["mappings", "detect", str(p), "--delimiter", "tab", "--encoding", "cp1252", "--json"])
    assert got.exit_code == 0, got.err
    assert json.loads(got.out)["platform"] == "mailchimp"
    whole = run(["mappings", "detect", str(p), "--delimiter", ";", "--json"])
    assert whole.exit_code == 0 and json.loads(whole.out)["platform"] != "mailchimp"  # one column: no match
