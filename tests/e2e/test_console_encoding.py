"""A console that cannot encode our output (Windows cp1252, an ASCII pipe) gets ASCII decorations, not a crash."""

from __future__ import annotations

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
