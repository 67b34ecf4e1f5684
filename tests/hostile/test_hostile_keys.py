"""Issue #15 items 12, 22 and 19: hostile keys, credentials in the base URL, formulas in rejects.csv.

Each case goes through the CLI and asserts the exit code, the one-line message, that the secret is never
echoed and that nothing was written (no ledger, no report) when the settings are refused.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest

SECRET = "SECRETKEY0123456789abcdef"


def _csv(tmp_path: Path) -> Path:
    path = tmp_path / "contacts.csv"
    path.write_text("Email,First Name\nann@example.com,Ann\n", encoding="utf-8")
    return path


def _migrate(run, tmp_path: Path, env: dict[str, str], *extra: str):  # type: ignore[no-untyped-def]
    args = ["migrate", str(_csv(tmp_path)), "--state-dir", str(tmp_path / "s")]
    return run([*args, "--report-dir", str(tmp_path / "r"), *extra], env)


def _refused(result, *hidden: str) -> str:  # type: ignore[no-untyped-def]
    assert result.exit_code == 2, result.output
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output and "unexpected error" not in result.output
    for secret in hidden:
        assert secret not in result.output
    return lines[0]


BASE = {"BME_BASE_URL": "http://127.0.0.1:9"}  # never contacted: the settings are refused first


@pytest.mark.parametrize(
    ("key", "words"),
    [
        (f"{SECRET}\nsecond", "contains whitespace"),
        (f"{SECRET[:8]} {SECRET[8:]}", "contains whitespace"),
        (f"{SECRET}é", "printable ASCII"),
        (f"{SECRET}\x07", "printable ASCII"),
        (SECRET * 40, "longer than"),
    ],
    ids=["newline", "space", "non-ascii", "control", "too-long"],
)
def test_item12_a_malformed_key_in_the_environment_is_one_line_exit_2(
    run, tmp_path: Path, key, words
) -> None:  # type: ignore[no-untyped-def]
    line = _refused(_migrate(run, tmp_path, {**BASE, "BME_API_KEY": key}), SECRET[:12])
    assert "BME_API_KEY" in line and words in line
    assert not (tmp_path / "s").exists() and not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"\x00\xff\xfe\x89PNG\r\n" + SECRET.encode(), "not text"),
        (f"{SECRET}\nsomething else\n".encode(), "more than one line"),
        (f"{SECRET}\u00e9\n".encode(), "printable ASCII"),
        (b"\n\n  \n", "is empty"),
        (SECRET.encode() * 400, "larger than"),
    ],
    ids=["binary", "two-lines", "non-ascii", "blank", "huge"],
)
def test_item12_a_bad_key_file_is_one_line_exit_2_never_showing_it(
    run, tmp_path: Path, content, words
) -> None:  # type: ignore[no-untyped-def]
    key_file = tmp_path / "key.txt"
    key_file.write_bytes(content)
    for env, extra in (
        ({**BASE, "BME_API_KEY_FILE": str(key_file)}, ()),
        (BASE, ("--api-key-file", str(key_file))),
    ):
        line = _refused(_migrate(run, tmp_path, env, *extra), SECRET[:12], str(key_file))
        assert "the file given by --api-key-file / BME_API_KEY_FILE" in line and words in line
    assert not (tmp_path / "s").exists()


def test_item12_dev_zero_as_key_file_is_refused_at_once(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    line = _refused(_migrate(run, tmp_path, BASE, "--api-key-file", "/dev/zero"))
    assert time.monotonic() - started < 10 and "larger than 4,096 bytes" in line


def test_item22_a_key_given_as_the_key_file_path_is_never_echoed(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for env, extra in (
        ({**BASE, "BME_API_KEY_FILE": SECRET}, ()),
        (BASE, ("--api-key-file", SECRET)),
    ):
        line = _refused(_migrate(run, tmp_path, env, *extra), SECRET)
        assert line == (
            "error: cannot read the file given by --api-key-file / BME_API_KEY_FILE: No such file or directory"
        )
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("url", ["http://user:hunter2pass@127.0.0.1:9", "https://:hunter2pass@api.example"])
def test_item22_credentials_in_the_base_url_are_refused_and_never_stored(
    run, tmp_path: Path, url: str
) -> None:  # type: ignore[no-untyped-def]
    line = _refused(
        _migrate(run, tmp_path, {"BME_BASE_URL": url, "BME_API_KEY": "bme_ok_key"}), "hunter2pass"
    )
    assert "BME_BASE_URL must not carry credentials" in line
    assert not (tmp_path / "s").exists()  # no ledger.db holding the URL


def test_item19_rejects_csv_neutralises_headers_and_file_names(run, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)  # the file is given by its bare name, as a user would
    src = Path("=cmd.csv")
    src.write_text(
        'Email,=HYPERLINK("http://evil"),@SUM(1),First Name\n'
        "not-an-email,=1+1,x,Ann\n"
        "bob@example.com,y,z,Bob\n",
        encoding="utf-8",
    )
    result = run(["validate", str(src), "--report-dir", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    with (tmp_path / "r" / "rejects.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    header, row = rows[0], dict(zip(rows[0], rows[1], strict=True))
    assert header[:4] == ["Email", '\'=HYPERLINK("http://evil")', "'@SUM(1)", "First Name"]
    assert row["source_file"] == "'=cmd.csv" and row['\'=HYPERLINK("http://evil")'] == "'=1+1"
    assert len(rows) == 2 and row["Email"] == "not-an-email" and row["reason_code"] == "invalid_email"
    for cell in [*header, *rows[1]]:
        assert not cell or cell[0] not in "=+-@\t\r", cell
