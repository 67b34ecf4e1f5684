"""A hostile state dir and report dir, through the CLI: broken ledgers, read-only and unwritable dirs, a
SIGKILLed run, a disk that fills while a report is written. Each case ends in one line naming the path and
what to do (exit 2), or in the truth (status), and never loses or half-writes anything.
"""

from __future__ import annotations

import errno
import json
import os
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from etl.load.ledger import LEDGER_NAME, Ledger
from etl.model import PlannedContact
from etl.sandbox.knobs import Knobs
from tests.load_support import account_contacts

ROOT = Path(__file__).resolve().parents[2]
REFUSED = "is not a bme-migrate ledger ("
WHAT_TO_DO = "): move it aside or use another --state-dir"


def _csv(path: Path, n: int, *, first: str = "First") -> Path:
    lines = ["Email,First Name,Last Name"] + [f"Person{i}@Example.com,{first}{i},Last{i}" for i in range(n)]
    lines += ["not-an-address,Bad,Row"]  # one reject, so rejects.csv has a row
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def _snapshot(directory: Path) -> dict[str, bytes | None]:
    """Every path under ``directory`` with its bytes (``None`` for a directory)."""
    return {
        str(p.relative_to(directory)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(directory.rglob("*"))
    }


@pytest.fixture
def remote(sandbox_factory):  # type: ignore[no-untyped-def]
    box = sandbox_factory(knobs=Knobs(hourly_limit=10**9, monthly_limit=10**9))
    return box, {"BME_BASE_URL": box.url, "BME_API_KEY": box.api_key}


# --- (9) a ledger that is not ours -------------------------------------------------------------------------
def _real_ledger(path: Path) -> None:
    """A genuine ledger of a few hundred pages, written by the ledger itself."""
    with Ledger.open(path.parent) as ledger:
        ledger.run("r1").start(base_url="http://x", structure_id="s1")
        ledger.run("r1").add_plan([PlannedContact(f"p{i}@example.com", (i,)) for i in range(20_000)])


def _broken(kind: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "directory":
        path.mkdir()
    elif kind == "random":
        path.write_bytes(os.urandom(64 * 1024))
    elif kind == "truncated":
        _real_ledger(path)
        data = path.read_bytes()
        assert len(data) > 100_000
        for extra in path.parent.glob(LEDGER_NAME + "-*"):
            extra.unlink()
        path.write_bytes(data[: len(data) // 3])
    elif kind == "foreign":
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        db.execute("INSERT INTO users VALUES (1, 'someone else''s data')")
        db.commit()
        db.close()


@pytest.mark.parametrize("command", ["migrate", "status", "verify"])
@pytest.mark.parametrize("kind", ["directory", "random", "truncated", "foreign"])
def test_a_broken_ledger_is_refused_in_one_line_naming_it(
    run, remote, tmp_path: Path, kind: str, command: str
) -> None:
    box, env = remote
    state = tmp_path / "state"
    ledger = state / LEDGER_NAME
    _broken(kind, ledger)
    before = _snapshot(state)
    args = {
        "migrate": ["migrate", str(_csv(tmp_path / "c.csv", 5)), "--report-dir", str(tmp_path / "r")],
        "status": ["status"],
        "verify": ["verify", "--report-dir", str(tmp_path / "r")],
    }[command]
    result = run([*args, "--state-dir", str(state)], env)
    assert result.exit_code == 2, result.output
    line = _one_error_line(result.err)
    assert line.startswith(f"error: {ledger} {REFUSED}") and line.endswith(WHAT_TO_DO), line
    assert result.out == ""
    assert _snapshot(state) == before  # not migrated into, no lock, no journal left behind
    assert box.app.request_counts() == {}  # refused before the first request
    assert not (tmp_path / "r").exists()


def test_a_zero_byte_ledger_is_a_new_empty_one(run, remote, tmp_path: Path) -> None:
    box, env = remote
    state = tmp_path / "state"
    state.mkdir()
    (state / LEDGER_NAME).write_bytes(b"")
    status = run(["status", "--state-dir", str(state)])
    assert (status.exit_code, status.out.strip(), status.err) == (0, f"no runs yet in {state}", "")
    assert (state / LEDGER_NAME).read_bytes() == b""  # status wrote nothing
    empty = run(["status", "--state-dir", str(tmp_path / "none")])
    assert empty.exit_code == 0 and empty.out.strip() == f"no runs yet in {tmp_path / 'none'}"
    assert not (tmp_path / "none").exists()

    args = ["migrate", str(_csv(tmp_path / "c.csv", 5)), "--state-dir", str(state), "--no-verify"]
    done = run([*args, "--report-dir", str(tmp_path / "r")], env)
    assert done.exit_code == 0, done.output
    assert len(account_contacts(box.app)) == 5
    status = run(["status", "--state-dir", str(state)])
    assert status.exit_code == 0 and " complete  6/6 rows settled " in status.out, status.out


# --- (10) unwritable report dir, read-only state dir -------------------------------------------------------
@pytest.mark.parametrize("command", ["migrate", "validate"])
def test_an_unwritable_report_dir_fails_before_any_work(run, remote, tmp_path: Path, command: str) -> None:
    box, env = remote
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory should be\n")
    reports = blocker / "reports"
    state = tmp_path / "state"
    args = [
        command,
        str(_csv(tmp_path / "c.csv", 5)),
        "--state-dir",
        str(state),
        "--report-dir",
        str(reports),
    ]
    result = run(args, env)
    assert result.exit_code == 2, result.output
    line = _one_error_line(result.err)
    assert line.startswith(f"error: cannot write to report dir {reports} ") and "--report-dir" in line, line
    assert result.out == ""  # no summary: nothing was read, nothing sent
    assert box.app.request_counts() == {} and account_contacts(box.app) == {}
    assert not state.exists()
    assert blocker.read_text() == "a file where a directory should be\n"


def _without_root_powers() -> list[str]:
    """A prefix that runs a command without the power to ignore permission bits (root has it)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: a read-only directory cannot be simulated")
    caps = "-dac_override,-dac_read_search,-fowner"
    return [setpriv, "--bounding-set", caps, "--inh-caps", caps]


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BME_", "LEGACY_"))}
    env["PYTHONPATH"] = str(ROOT)
    code = "import sys; from etl.cli import main; main(sys.argv[1:])"
    return subprocess.run(
        [*_without_root_powers(), sys.executable, "-c", code, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def read_only() -> Iterator[list[Path]]:
    """Directories made read-only by the test (made writable again at teardown, so they can be removed)."""
    made: list[Path] = []
    yield made
    for d in made:
        for p in [d, *d.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)


def test_status_works_on_a_read_only_state_dir(run, remote, tmp_path: Path, read_only: list[Path]) -> None:
    _, env = remote
    state = tmp_path / "state"
    args = ["migrate", str(_csv(tmp_path / "c.csv", 5)), "--state-dir", str(state), "--no-verify"]
    assert run([*args, "--report-dir", str(tmp_path / "r")], env).exit_code == 0
    run_id = json.loads((tmp_path / "r" / "report.json").read_text())["run_id"]
    for p in [*state.rglob("*"), state]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    read_only.append(state)
    before = _snapshot(state)
    result = _cli(["status", "--state-dir", str(state)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"run {run_id}  complete  6/6 rows settled" in result.stdout and result.stderr == ""
    as_json = _cli(["status", "--state-dir", str(state), "--json"], tmp_path)
    assert json.loads(as_json.stdout)["runs"][0]["rows"] == {"created": 5, "rejected": 1}
    assert _snapshot(state) == before


def test_a_read_only_report_dir_is_refused_by_permission_bits(tmp_path: Path, read_only: list[Path]) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "report.json").write_text("{}\n")
    reports.chmod(0o555)
    read_only.append(reports)
    csv = _csv(tmp_path / "c.csv", 5)
    result = _cli(["validate", str(csv), "--report-dir", str(reports)], tmp_path)
    assert result.returncode == 2, result.stderr
    line = _one_error_line(result.stderr)
    assert line.startswith(f"error: cannot write to report dir {reports} (Permission denied)"), line
    assert result.stdout == "" and [p.name for p in reports.iterdir()] == ["report.json"]


# --- (18) a SIGKILLed run: status tells it from a live one; requests counted across the kill --------------
def _ledger_requests(state: Path) -> int:
    with Ledger.open(state, readonly=True) as ledger:
        return sum(sum(ledger.run(r.run_id).request_counts().values()) for r in ledger.runs())


def test_status_tells_a_killed_run_from_a_live_one_and_requests_survive_the_kill(
    run, remote, tmp_path: Path
) -> None:
    box, env = remote
    state, reports = tmp_path / "state", tmp_path / "r"
    csv = _csv(tmp_path / "c.csv", 3000)
    args = ["migrate", str(csv), "--state-dir", str(state), "--report-dir", str(reports), "--no-verify"]
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("BME_", "LEGACY_"))}
    child_env.update(env, PYTHONPATH=str(ROOT))
    code = "import sys; from etl.cli import main; main(sys.argv[1:])"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=tmp_path,
        env=child_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            if box.app.request_counts().get("POST /api/contact", 0) >= 50:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the migration ended before it could be observed"
        live = run(["status", "--state-dir", str(state)])
        assert live.exit_code == 0 and f"  running (pid {proc.pid})  " in live.out, live.output
        assert "interrupted" not in live.out
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert len(account_contacts(box.app)) < 3000, "killed too late to test anything"

    dead = run(["status", "--state-dir", str(state)])
    assert dead.exit_code == 0, dead.output
    assert "  interrupted (no process holds its lock)  " in dead.out, dead.out
    resume = next(line for line in dead.out.splitlines() if "resume with: " in line)
    words = shlex.split(resume.split("resume with: ", 1)[1])
    assert words[:2] == ["bme-migrate", "migrate"] and "--no-verify" in words
    # at most the one request in flight at the kill may be counted but never arrive
    served = sum(box.app.request_counts().values())
    assert served <= _ledger_requests(state) <= served + 1

    done = run(words[1:], env)
    assert done.exit_code == 0, done.output
    assert len(account_contacts(box.app)) == 3000 and all(
        not isinstance(c, list) for c in account_contacts(box.app).values()
    )
    served = sum(box.app.request_counts().values())
    total = _ledger_requests(state)
    assert served <= total <= served + 1, (served, total)
    doc = json.loads((reports / "report.json").read_text())
    assert doc["requests"]["total"] == total and doc["rows"]["created"] == 3000
    final = run(["status", "--state-dir", str(state)])
    assert " complete " in final.out and "interrupted" not in final.out


# --- (20) reports are replaced whole or not at all -------------------------------------------------------
def test_a_disk_that_fills_while_writing_a_report_keeps_the_previous_one(
    run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports = tmp_path / "reports"
    first = run(["validate", str(_csv(tmp_path / "a.csv", 40)), "--report-dir", str(reports)])
    assert first.exit_code == 0, first.output
    previous = _snapshot(reports)
    assert set(previous) == {"report.json", "report.html", "rejects.csv"}

    bigger = _csv(tmp_path / "b.csv", 400, first="Second")
    sizes = run(["validate", str(bigger), "--report-dir", str(tmp_path / "sizes")])
    assert sizes.exit_code == 0
    json_size = (tmp_path / "sizes" / "report.json").stat().st_size
    html_size = (tmp_path / "sizes" / "report.html").stat().st_size
    room = json_size + html_size // 2  # the disk fills half-way through report.html

    real_write = os.write
    written = 0

    def full_disk(fd: int, data: bytes) -> int:
        nonlocal written
        if written + len(data) > room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written += len(data)
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full_disk)
    failed = run(["validate", str(bigger), "--report-dir", str(reports)])
    monkeypatch.setattr(os, "write", real_write)
    assert failed.exit_code == 2, failed.output
    line = _one_error_line(failed.err)
    assert line == (
        f"error: cannot write {reports / 'report.html'} (No space left on device); "
        "the previous files are unchanged"
    ), line
    assert 0 < written < json_size + html_size
    assert _snapshot(reports) == previous  # no half page, no new JSON beside old CSV, no temp file

    again = run(["validate", str(bigger), "--report-dir", str(reports)])  # room again: all three replaced
    assert again.exit_code == 0
    now = _snapshot(reports)
    assert set(now) == set(previous) and all(now[name] != previous[name] for name in now)
    assert json.loads(now["report.json"] or b"")["rows"]["read"] == 401


def test_a_full_disk_at_the_end_of_a_migration_loses_nothing_and_a_rerun_writes_the_report(
    run, remote, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    box, env = remote
    state, reports = tmp_path / "state", tmp_path / "r"
    args = [
        "migrate",
        str(_csv(tmp_path / "c.csv", 20)),
        "--state-dir",
        str(state),
        "--report-dir",
        str(reports),
    ]

    def full_disk(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full_disk)
    failed = run([*args, "--no-verify"], env)
    monkeypatch.undo()
    assert failed.exit_code == 2, failed.output
    line = _one_error_line(failed.err)
    assert line.startswith(f"error: cannot write {reports / 'report.json'} (No space left on device)"), line
    assert line.endswith("the run's ledger is intact: run the same command again to write the report"), line
    assert list(reports.iterdir()) == []  # no half report, no temp file
    assert len(account_contacts(box.app)) == 20
    sent = sum(box.app.request_counts().values())

    again = run([*args, "--no-verify"], env)
    assert again.exit_code == 0, again.output
    assert "already complete — nothing to send" in again.output
    assert sum(box.app.request_counts().values()) == sent  # nothing sent twice
    doc = json.loads((reports / "report.json").read_text())
    assert doc["rows"]["created"] == 20 and doc["requests"]["total"] == sent
    assert sorted(p.name for p in reports.iterdir()) == ["rejects.csv", "report.html", "report.json"]
