"""A resume that writes at once: its sources are read again while the load goes on, not before it.

A resumed run's plan, resolved mapping and dedup index are in the ledger, and its run id already pins the
sources' content (their digests), the mapping and the target; reading and validating a million rows again
before the first write would only make the resume wait. The sources are still read — the report, the
rejects and the validation result need them — in a thread started once the load is under way (on a
machine of two cores a read beside the load's own setup would slow both), and whoever needs them waits
for that read (``SourcesRead.get``, which starts it if nothing has yet).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from etl.errors import ConfigError
from etl.load.ledger import Ledger
from etl.pipeline.inputs import SourceRead

# what a run's ledger must hold for its resume to write before reading its sources again
NEEDED_META = ("resolved_mapping", "upstream_recorded", "index_strategy")


def writes_at_once(state_dir: Path, run_id: str) -> bool:
    """Whether run ``run_id`` can resume from its ledger alone: begun, not complete, its plan wholly stored
    (``RunLedger.plan_stored``), its mapping resolved, its upstream outcomes and its dedup index recorded.
    Read-only and lock-free: the run itself opens the ledger (locked) afterwards. A ledger that cannot be
    read says no here; the run's own open reports why."""
    try:
        with Ledger.open(state_dir, readonly=True) as ledger:
            run = ledger.run(run_id)
            info = run.info()
            if info is None or info.state == "complete" or not run.plan_stored():
                return False
            return all(run.get_meta(name) is not None for name in NEEDED_META)
    except ConfigError:
        return False


class SourcesRead:
    """The run's sources read: at once (``now``) or in a thread (``later``), ``get`` waiting for it."""

    def __init__(self, value: SourceRead | None = None, read: Callable[[], SourceRead] | None = None) -> None:
        self._value = value
        self._read = read
        self._error: BaseException | None = None
        self._done = threading.Event()
        self._started = threading.Lock()
        if value is not None:
            self._done.set()

    @classmethod
    def now(cls, value: SourceRead) -> SourcesRead:
        return cls(value)

    @classmethod
    def later(cls, read: Callable[[], SourceRead]) -> SourcesRead:
        """``read`` to run in a daemon thread (an interrupted resume does not wait for it to exit) once
        ``start`` is called."""
        return cls(read=read)

    def start(self) -> None:
        """Begin the read (once; nothing to do for a read done ``now``)."""
        read = self._read
        if read is None or not self._started.acquire(blocking=False):
            return

        def run() -> None:
            try:
                self._value = read()
            except BaseException as exc:  # handed to whoever waits: raised there, in the run's thread
                self._error = exc
            finally:
                self._done.set()

        threading.Thread(target=run, name="bme-read-sources", daemon=True).start()

    def get(self) -> SourceRead:
        self.start()
        self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value


class LaterVariants(Mapping[str, Sequence[str]]):
    """The key spellings of sources still being read (``migration._raw_variants``): computed the first
    time the load asks for one (a duplicate on create), waiting for the read then."""

    def __init__(self, compute: Callable[[], Mapping[str, Sequence[str]]]) -> None:
        self._compute = compute
        self._value: Mapping[str, Sequence[str]] | None = None

    def _get(self) -> Mapping[str, Sequence[str]]:
        if self._value is None:
            self._value = self._compute()
        return self._value

    def __getitem__(self, key: str) -> Sequence[str]:
        return self._get()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())
