"""Every exit code the CLI can end with is in README's table, and each one is driven here through the real CLI.

Scripts and schedulers branch on these codes (75: run again later; 5: look at verify.json), so a code the
table does not list, or a listed code nothing produces, is a broken promise. Each ``test_exit_<code>_…``
below ends the real command with that code; the first test holds the table, the ``EXIT_*`` constants of
etl/errors.py and these tests to the same set.
"""

from __future__ import annotations

import dataclasses
import re
import signal
import subprocess
import sys
from pathlib import Path

from etl import errors
from etl.events import EventLog
from etl.sandbox.knobs import READONLY_KEY, Knobs

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = str(ROOT / "samples" / "hubspot.csv")  # 4 rows, one of them rejected (invalid email)


def _readme_codes() -> set[int]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    return {int(code) for code in re.findall(r"^\| (\d+) \|", section, re.MULTILINE)}


def test_the_readme_table_lists_every_exit_code_and_each_is_tested() -> None:
    constants = {v for k, v in vars(errors).items() if k.startswith("EXIT_")}
    tested = {int(m.group(1)) for name in globals() if (m := re.match(r"test_exit_(\d+)_", name))}
    assert _readme_codes() == constants | {130} == tested


def test_exit_0_done(run, tmp_path: Path) -> None:
    assert run(["validate", SAMPLE, "--report-dir", str(tmp_path / "r")]).exit_code == 0


def test_exit_1_the_run_a_watch_follows_failed(run, tmp_path: Path) -> None:
    state = ["--state-dir", str(tmp_path / "s")]
    failed = run(["migrate", str(tmp_path / "missing.csv"), "--report-dir", str(tmp_path / "r"), *state])
    assert failed.exit_code == 2
    watched = run(["status", "--watch", *state])
    assert watched.exit_code == 1 and "ended before its run began" in watched.out


def test_exit_2_usage_and_unreadable_input(run, tmp_path: Path) -> None:
    assert run(["validate", SAMPLE, "--no-such-flag"]).exit_code == 2
    missing = run(["validate", str(tmp_path / "missing.csv")])
    assert missing.exit_code == 2 and missing.err.startswith("error: ") and "Traceback" not in missing.err


def test_exit_3_rejects_with_fail_on_rejects(run, tmp_path: Path) -> None:
    blocked = run(["validate", SAMPLE, "--fail-on-rejects", "--report-dir", str(tmp_path / "r")])
    assert blocked.exit_code == 3 and "--fail-on-rejects" in blocked.err


def test_exit_4_a_key_without_the_scope(run, sandbox_factory, tmp_path: Path) -> None:
    box = sandbox_factory()
    key_file = tmp_path / "ro.txt"
    key_file.write_text(READONLY_KEY + "\n", encoding="utf-8")
    env = {"BME_BASE_URL": box.url, "BME_API_KEY_FILE": str(key_file)}
    refused = run(
        [
            "migrate",
            SAMPLE,
            "--create-fields",
            "--state-dir",
            str(tmp_path / "s"),
            "--report-dir",
            str(tmp_path / "r"),
        ],
        env,
    )
    assert refused.exit_code == 4 and "contacts:write" in refused.err, refused.output


def test_exit_5_verify_finds_a_difference(run, sandbox_factory, tmp_path: Path) -> None:
    box = sandbox_factory(knobs=Knobs(hourly_limit=10**6, monthly_limit=10**9))
    key_file = tmp_path / "key.txt"
    key_file.write_text(box.api_key + "\n", encoding="utf-8")
    env = {"BME_BASE_URL": box.url, "BME_API_KEY_FILE": str(key_file)}
    flags = ["--state-dir", str(tmp_path / "s"), "--report-dir", str(tmp_path / "r")]
    assert run(["migrate", SAMPLE, "--create-fields", *flags], env).exit_code == 0
    store = box.app.store
    with store.lock:  # someone edits a migrated contact in the account
        row = next(r for r in store.contacts_by_ids(store.all_contact_ids()) if r.fields)
        store.replace_contact(row, dataclasses.replace(row, fields=[(f, v + "!") for f, v in row.fields]))
    assert run(["verify", *flags], env).exit_code == 5


def test_exit_75_paused(run, tmp_path: Path) -> None:
    flags = ["--state-dir", str(tmp_path / "s"), "--report-dir", str(tmp_path / "r")]
    paused = run(["migrate", str(ROOT / "samples" / "mailchimp_audience.zip"), "--max-requests", "3", *flags])
    assert paused.exit_code == 75 and "to resume, run:" in paused.output


def test_exit_130_ctrl_c_where_no_run_can_pause(tmp_path: Path) -> None:
    """SIGINT (what Ctrl-C sends) to a real process following a migration that is reading its sources."""
    state = tmp_path / "s"
    with EventLog.for_state_dir(state) as log:  # this (live) process is "migrating"
        log.emit("start", sources=["big.csv"])
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "bme-migrate"),
            "status",
            "--watch",
            "--every",
            "0.2",
            "--state-dir",
            str(state),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()  # the watch is running
    assert "is reading its sources" in first, first
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "stopped watching" in err
