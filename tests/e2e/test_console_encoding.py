"""A console that cannot encode our output (Windows cp1252, an ASCII pipe) gets ASCII decorations, not a crash."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from etl.terminal import fit, printable

ROOT = Path(__file__).resolve().parents[2]


def test_decorations_fall_back_to_ascii() -> None:
    line = "── run abc ── ≈ 2 requests · 3 rows → done"
    assert fit(line, "utf-8") == line
    assert fit(line, "cp1252") == "-- run abc -- ~ 2 requests - 3 rows -> done"
    assert fit(line, "ascii").isascii()


def test_invisible_format_characters_are_escaped() -> None:
    """A bidi override or a zero-width space in a file name must not make it read as another name."""
    assert printable("invoice\u202egpj.exe") == "invoice\\u202egpj.exe"
    assert printable("a\u200bb") == "a\\u200bb"
    assert printable("Müller 日本") == "Müller 日本"


@pytest.mark.parametrize("encoding", ["cp1252", "ascii"])
@pytest.mark.parametrize("command", ["validate", "migrate"])
def test_cli_on_a_narrow_console_exits_0(tmp_path: Path, encoding: str, command: str) -> None:
    sample = ROOT / "samples" / "hubspot.csv"
    env = {**os.environ, "PYTHONIOENCODING": encoding, "BME_STATE_DIR": str(tmp_path / "state")}
    env.pop("BME_API_KEY", None)
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "bme-migrate"),
            command,
            str(sample),
            "--report-dir",
            str(tmp_path / "r"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr.decode(encoding, "replace")[-2000:]
    out = (done.stdout + done.stderr).decode(encoding)  # every byte is in the console's encoding
    assert "Traceback" not in out and "UnicodeEncodeError" not in out
    assert "\\u2500" not in out  # the rule line came out as ASCII, not as escapes


NARROW = {
    "cp1252": {"PYTHONIOENCODING": "cp1252"},
    "ascii": {"PYTHONIOENCODING": "ascii"},
    "LANG=C": {"LANG": "C", "LC_ALL": "C"},
}


def _narrow(tmp_path: Path, console: str, args: list[str]) -> subprocess.CompletedProcess[bytes]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("BME_API_KEY", "PYTHONIOENCODING", "LC_ALL", "LANG")
    }
    env.update(NARROW[console], BME_STATE_DIR=str(tmp_path / "state"))
    return subprocess.run(
        [str(Path(sys.executable).parent / "bme-migrate"), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=300,
    )


@pytest.mark.parametrize("console", list(NARROW))
def test_json_on_a_narrow_console_is_still_the_report(tmp_path: Path, console: str) -> None:
    """The report holds non-ASCII cells (a cp1252 export's names): a console that cannot encode them gets
    them as JSON escapes, so stdout still parses as the same document."""
    sample = ROOT / "samples" / "brevo_cp1252_semicolon.csv"
    done = _narrow(
        tmp_path, console, ["validate", str(sample), "--report-dir", str(tmp_path / "r"), "--json"]
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == json.loads((tmp_path / "r" / "report.json").read_text(encoding="utf-8"))
    assert b"Traceback" not in done.stderr


@pytest.mark.parametrize("console", list(NARROW))
def test_verbose_quiet_and_log_file_on_a_narrow_console(tmp_path: Path, console: str) -> None:
    sample = str(ROOT / "samples" / "hubspot.csv")
    log = tmp_path / "run.log"
    loud = _narrow(
        tmp_path,
        console,
        ["migrate", sample, "--report-dir", str(tmp_path / "a"), "--verbose", "--log-file", str(log)],
    )
    assert loud.returncode == 0, loud.stderr[-2000:]
    assert b"plan: 1 search request(s)" in loud.stdout and b"\\u2500" not in loud.stdout
    assert "── run " in log.read_text(encoding="utf-8")  # the log file is UTF-8 whatever the console
    quiet = _narrow(tmp_path, console, ["migrate", sample, "--report-dir", str(tmp_path / "b"), "--quiet"])
    assert quiet.returncode == 0 and quiet.stdout.startswith(b"state:") and quiet.stderr == b""
