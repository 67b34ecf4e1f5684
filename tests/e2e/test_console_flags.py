"""--quiet, --verbose, --log-file, NO_COLOR and the terminal's width, through the real CLI.

One ``Console`` (etl.terminal) decides what every command shows, so these flags mean the same on every
command; a migrate ends with verify's result in one line, its bill and per-run detail behind --verbose
and in the log file, never the API key.
"""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import click
import pytest

from etl.cli import cli
from etl.presets.preset import preset_names
from etl.sandbox.knobs import Knobs

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = str(ROOT / "samples" / "hubspot.csv")  # 4 rows: 3 contacts created, 1 rejected
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z ")


def _leaf_commands() -> list[tuple[str, click.Command]]:
    out: list[tuple[str, click.Command]] = []
    for name in cli.list_commands(click.Context(cli)):
        command = cli.commands[name]
        if isinstance(command, click.Group):
            out += [(f"{name} {sub}", c) for sub, c in command.commands.items()]
        else:
            out.append((name, command))
    return out


@pytest.mark.parametrize("name,command", _leaf_commands(), ids=lambda x: x if isinstance(x, str) else "")
def test_every_command_takes_quiet_verbose_and_log_file(name: str, command: click.Command) -> None:
    flags = {opt for p in command.params for opt in p.opts}
    assert {"--quiet", "--verbose", "--log-file"} <= flags, name


def test_a_migrate_ends_with_verify_in_one_line_and_verbose_shows_its_detail(run, tmp_path: Path) -> None:
    state = ["--state-dir", str(tmp_path / "state")]
    done = run(["migrate", SAMPLE, "--report-dir", str(tmp_path / "a"), *state])
    assert done.exit_code == 0, done.output
    assert "verify:    clean — 3 contacts checked, 1 request\n" in done.out
    for detail in ("plan: ", "probe (spent)", "checking 3 of 3 keys", "verifying run", "verified: clean"):
        assert detail not in done.output, detail

    fresh = ["--state-dir", str(tmp_path / "state2")]
    verbose = run(["migrate", SAMPLE, "--report-dir", str(tmp_path / "b"), "--verbose", *fresh])
    assert verbose.exit_code == 0, verbose.output
    assert "plan: 1 search request(s) in all = 1 probe (spent)" in verbose.out
    assert "verified: clean" in verbose.out and "verify:    clean — 3 contacts checked" in verbose.out


def test_quiet_prints_only_problems_and_the_final_line(run, tmp_path: Path) -> None:
    state = ["--state-dir", str(tmp_path / "state")]
    done = run(["migrate", SAMPLE, "--report-dir", str(tmp_path / "m"), "--quiet", *state])
    assert done.exit_code == 0, done.output
    assert (done.out, done.err) == ("state:     complete\n", "")  # not even the sandbox notice

    checked = run(["validate", SAMPLE, "--report-dir", str(tmp_path / "v"), "-q"])
    assert checked.exit_code == 0 and checked.err == ""
    assert checked.out.count("\n") == 1 and checked.out.startswith("report: ")

    broken = run(["validate", str(tmp_path / "missing.csv"), "--quiet"])
    assert broken.exit_code == 2 and broken.err.startswith("error: ") and broken.out == ""

    status = run(["status", "--quiet", *state])  # one line a run
    assert status.exit_code == 0 and status.out.startswith("run ") and status.out.count("\n") == 1

    nowhere = run(["status", "--log-file", str(tmp_path / "no" / "such" / "dir.log")])
    assert nowhere.exit_code == 2 and "--log-file" in nowhere.err and "Traceback" not in nowhere.err

    both = run(["status", "--quiet", "--verbose"])
    assert both.exit_code == 2 and "either --quiet or --verbose" in both.err


def test_log_file_gets_every_line_stamped_and_never_the_key(run, sandbox_factory, tmp_path: Path) -> None:
    box = sandbox_factory(knobs=Knobs(hourly_limit=10**6, monthly_limit=10**9))
    key_file = tmp_path / "key.txt"
    key_file.write_text(box.api_key + "\n", encoding="utf-8")
    env = {"BME_BASE_URL": box.url, "BME_API_KEY_FILE": str(key_file)}
    log = tmp_path / "bme.log"
    flags = ["--state-dir", str(tmp_path / "s"), "--report-dir", str(tmp_path / "r"), "--log-file", str(log)]
    done = run(["migrate", SAMPLE, "--create-fields", "--quiet", *flags], env)
    assert done.exit_code == 0, done.output
    assert done.out == "state:     complete\n"
    text = log.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines and all(STAMP.match(line) for line in lines), lines
    assert any("plan: 1 search request(s)" in line for line in lines)  # --verbose detail, though --quiet
    assert any("verify:    clean — 3 contacts checked" in line for line in lines)
    assert box.api_key not in text

    again = run(["verify", *flags], env)  # appended, not replaced; an error line is logged too
    assert again.exit_code == 0
    failed = run(["verify", "nosuchrun", *flags], env)
    assert failed.exit_code == 2, failed.output
    after = log.read_text(encoding="utf-8")
    assert after.startswith(text) and "verified: clean" in after[len(text) :]
    assert after.rstrip().splitlines()[-1][21:].startswith("error: ") and box.api_key not in after


def _in_a_terminal(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """Run the installed command with stdout and stderr on a pseudo-terminal (as a person sees it)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "bme-migrate"), *args],
        stdout=follower,
        stderr=follower,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
        env=env,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return proc.wait(timeout=120), b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.parametrize("no_color", ["", "1"])
def test_no_color_turns_the_terminal_colours_off(tmp_path: Path, no_color: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "BME_API_KEY")}
    if no_color:
        env["NO_COLOR"] = no_color
    code, shown = _in_a_terminal(["validate", str(tmp_path / "missing.csv")], env, tmp_path)
    assert code == 2 and "error: " in shown, shown
    coloured = re.search(r"\x1b\[[0-9;]*m", shown)
    assert (coloured is None) == bool(no_color), repr(shown)


def _chars(text: str) -> Counter[str]:
    """Every visible character of a table's output, the rule under its header left out."""
    return Counter(c for line in text.splitlines() if set(line) - {"-", " "} for c in line if not c.isspace())


@pytest.mark.parametrize("preset", preset_names())
def test_mappings_show_fits_60_columns_and_loses_nothing(run, preset: str) -> None:
    narrow = run(["mappings", "show", preset], {"COLUMNS": "60"})
    wide = run(["mappings", "show", preset], {"COLUMNS": "1000"})
    assert narrow.exit_code == wide.exit_code == 0, narrow.err
    too_long = [line for line in narrow.out.splitlines() if len(line) > 60]
    assert too_long == []
    assert _chars(narrow.out) == _chars(wide.out)


def test_mappings_list_fits_60_columns(run) -> None:
    listed = run(["mappings", "list"], {"COLUMNS": "60"})
    assert listed.exit_code == 0 and max(map(len, listed.out.splitlines())) <= 60
    assert _chars(listed.out) == _chars(run(["mappings", "list"], {"COLUMNS": "1000"}).out)


def test_mappings_plan_fits_60_columns_and_loses_nothing(run, tmp_path: Path) -> None:
    args = ["mappings", "plan", SAMPLE, "--create-fields", "--state-dir", str(tmp_path)]
    narrow = run(args, {"COLUMNS": "60"})
    wide = run(args, {"COLUMNS": "1000"})
    assert narrow.exit_code == wide.exit_code == 0, narrow.err
    assert max(map(len, narrow.out.splitlines())) <= 60 < max(map(len, wide.out.splitlines()))
    assert _chars(narrow.out) == _chars(wide.out)


def test_a_pipe_gets_each_table_row_on_one_line(run) -> None:
    """No COLUMNS and no terminal: nothing is wrapped, so grep finds a row whole."""
    shown = run(["mappings", "show", "mailchimp"])
    assert any(
        line.startswith("First Name | Vorname") and "[firstName]" in line for line in shown.out.splitlines()
    )
