"""Issue #15 item 16: Ctrl-C and SIGTERM end a pacing wait of minutes within a second (exit 75, with the
summary); a --reserve the account's hourly limit cannot leave is a usage error, not an endless wait.

``bme-migrate migrate`` runs in a subprocess against a sandbox whose hourly limit (10) makes the loader
pace ~40 contacts at one request every several minutes.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from etl.clock import FakeClock
from etl.sandbox.knobs import Knobs
from tests.load_support import account_contacts, people_csv

N = 40


def _csv(tmp_path: Path) -> Path:
    return people_csv(tmp_path, N)


def _paced_sandbox(sandbox_factory):  # type: ignore[no-untyped-def]
    # the sandbox's window starts at the next hour boundary and its clock stands still, so the window's
    # reset is always 1-2 hours away in real time: the client paces ~10 requests over a whole hour
    start = math.ceil(time.time() / 3600) * 3600.0
    return sandbox_factory(knobs=Knobs(hourly_limit=10), clock=FakeClock(start=start))


def _command(tmp_path: Path, *extra: str) -> list[str]:
    return [
        str(Path(sys.executable).with_name("bme-migrate")),
        "migrate",
        str(_csv(tmp_path)),
        "--preset",
        "generic",
        "--no-verify",
        "--state-dir",
        str(tmp_path / "s"),
        "--report-dir",
        str(tmp_path / "r"),
        *extra,
    ]


def _env(box) -> dict[str, str]:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BME_", "LEGACY_"))}
    return {**env, "BME_BASE_URL": box.url, "BME_API_KEY": box.api_key}


def _wait_until_pacing(box, proc: subprocess.Popen[bytes]) -> None:  # type: ignore[no-untyped-def]
    """Until the loader has sent its first contact request and then nothing for a second (it sleeps)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        counts = box.app.request_counts()
        if any(k.startswith(("POST /api/contact", "GET /api/contact/")) for k in counts):
            time.sleep(1.0)
            if box.app.request_counts() == counts:
                return
        time.sleep(0.1)
    out, err = proc.communicate(timeout=5) if proc.poll() is not None else (b"", b"")
    proc.kill()
    pytest.fail(f"the run never reached a pacing wait: {(out + err).decode()}")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_item16_a_signal_ends_a_pacing_wait_at_once(  # type: ignore[no-untyped-def]
    sandbox_factory, tmp_path: Path, signum: int
) -> None:
    box = _paced_sandbox(sandbox_factory)
    cmd = _command(tmp_path)
    proc = subprocess.Popen(cmd, env=_env(box), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_until_pacing(box, proc)
    sent = sum(box.app.request_counts().values())
    signalled = time.monotonic()
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=30)
    elapsed = time.monotonic() - signalled
    text = (out + err).decode()
    assert proc.returncode == 75, text
    # well under 2 s on an idle machine (the wait itself would last minutes); the bound is loose because the
    # suite runs a test per core and the exit writes the reports, which a loaded CPU slows
    assert elapsed < 8.0, (elapsed, text)
    assert "interrupted" in text and "to resume, run: bme-migrate migrate" in text
    assert "Traceback" not in text and "unexpected error" not in text
    assert sum(box.app.request_counts().values()) == sent  # nothing more was sent after the signal
    assert len(account_contacts(box.app)) < N  # paused, not finished; the ledger knows where


def test_item16_a_reserve_at_the_hourly_limit_is_a_usage_error(sandbox_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    box = _paced_sandbox(sandbox_factory)
    started = time.monotonic()
    proc = subprocess.run(
        _command(tmp_path, "--reserve", "10"), env=_env(box), cwd=tmp_path, capture_output=True, timeout=120
    )
    text = (proc.stdout + proc.stderr).decode()
    assert proc.returncode == 2, text
    assert time.monotonic() - started < 60
    lines = [line for line in proc.stderr.decode().splitlines() if line.startswith("error: ")]
    assert lines == [
        "error: --reserve 10 is not below the account's hourly limit of 10 requests, so no request could "
        "ever be sent; use a smaller --reserve"
    ], text
    assert account_contacts(box.app) == {}  # stopped after one read, before any write
    assert box.app.request_counts() == {"GET /api/contact-structure": 1}
