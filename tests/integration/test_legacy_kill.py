"""A real SIGKILL between pages: the extraction runs in a child process and is killed after two pages.

The emulator's latency keeps the child's next request in flight when the kill lands, which is the honest
worst case: that in-flight page may be served twice (the child never received it), but no page the child
had checkpointed is ever read again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

from etl.clock import FakeClock
from etl.config import Secret
from etl.extract.legacy_api import ENV_LEGACY_TOKEN, extract_legacy
from tests.fixtures.legacy import LegacyServer

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import os, sys
from pathlib import Path
from etl.extract.legacy_api import extract_legacy, legacy_token_from_env

def on_page(offset, count, total):
    print(offset, flush=True)

extract_legacy(sys.argv[1], legacy_token_from_env(os.environ), state_dir=Path(sys.argv[2]), on_page=on_page)
print("done", flush=True)
"""


def test_sigkill_between_pages_then_resume(legacy_api: LegacyServer, tmp_path: Path) -> None:
    legacy_api.app.latency = 0.3  # seconds per request, on the real clock
    env = {**os.environ, ENV_LEGACY_TOKEN: legacy_api.token, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, legacy_api.url, str(tmp_path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(60, child.kill)
    watchdog.start()
    try:
        assert child.stdout is not None
        checkpointed = [int(child.stdout.readline()), int(child.stdout.readline())]
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        watchdog.cancel()
    assert checkpointed == [0, 200] and child.returncode == -signal.SIGKILL

    legacy_api.app.latency = 0.0
    served_before = len(legacy_api.app.served_list_offsets())
    result = extract_legacy(legacy_api.url, Secret(legacy_api.token), state_dir=tmp_path, clock=FakeClock())
    assert result.frame.height == 1000 and result.frame["row_id"].to_list() == list(range(1000))
    assert result.pages_reused == 2
    served = legacy_api.app.served_list_offsets()
    assert not set(served[served_before:]) & set(checkpointed)  # checkpointed pages are never re-read
    counts = Counter(served)
    assert set(counts) == {0, 200, 400, 600, 800}
    assert counts[0] == counts[200] == 1 and max(counts.values()) <= 2  # only the in-flight page may repeat
