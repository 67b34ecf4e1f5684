"""Wire one load: ledger (locked) + pacer + client + loader, for the CLI, ``python -m etl.load`` and tests.

The run id is a fingerprint of what defines the work: the sources' content (or the plan itself), the
mapping, and the target (base URL + structure id). Same command → same id → resume.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from etl.benchmark.client import BenchmarkClient
from etl.benchmark.pacing import Pacer
from etl.clock import Clock, SystemClock
from etl.config import Secret
from etl.load.accounts import AccountNotes
from etl.load.index import EXPORT_TIMEOUT
from etl.load.ledger import Ledger, fingerprint, plan_to_json
from etl.load.loader import Loader, LoadSummary, Progress
from etl.model import PlannedContact
from etl.retry import Patience


def plan_run_id(plans: Sequence[PlannedContact], base_url: str, structure_id: str) -> str:
    """A run id for a load driven by a plan alone (no source files at hand)."""
    return fingerprint("plan", "\n".join(plan_to_json(p) for p in plans), base_url, structure_id)


@dataclass(frozen=True)
class LoadSettings:
    base_url: str
    api_key: Secret
    state_dir: Path
    structure_id: str
    run_id: str
    on_existing: str = "merge"
    on_conflict: str = "target"  # the delta's side for fields edited in Benchmark since our last write
    reserve: int = 0
    max_requests: int | None = None  # for every request of this invocation, ``requests_sent`` included
    requests_sent: int = 0  # already sent by this invocation before the load (resolution)
    patience: Patience = field(default_factory=Patience)  # outages and quota waits ridden out in place
    window_seconds: float = 3600.0
    label: str | None = None
    resume_command: str | None = None
    target_id: str | None = None  # the target's identity when the base URL is not (the embedded sandbox)
    index_strategy: str = "auto"  # --index-strategy: auto | paging | search | export
    export_timeout: float = EXPORT_TIMEOUT


def load(
    plans: Sequence[PlannedContact] | None,
    settings: LoadSettings,
    *,
    clock: Clock | None = None,
    transport: httpx.BaseTransport | None = None,
    http: httpx.Client | None = None,
    rng: random.Random | None = None,
    on_wait: Callable[[float, str], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    variants: Mapping[str, Sequence[str]] | None = None,
    on_start: Callable[[Loader, Pacer], None] | None = None,
    backoff_base: float = 0.5,
    ledger: Ledger | None = None,
    on_note: Callable[[str], None] | None = None,
) -> LoadSummary:
    """Run (or resume) the load; raises ``Paused`` (exit 75) when it stops early, ``AuthError`` (exit 4).

    ``plans``: None when the run's plan is already in the ledger (``Loader.run``).

    ``ledger``: an already open (locked) ledger, when the caller needs it before and after the load.
    """
    if ledger is None:
        with Ledger.open(settings.state_dir) as own:
            return load(
                plans,
                settings,
                clock=clock,
                transport=transport,
                http=http,
                rng=rng,
                on_wait=on_wait,
                on_progress=on_progress,
                should_stop=should_stop,
                variants=variants,
                on_start=on_start,
                backoff_base=backoff_base,
                ledger=own,
                on_note=on_note,
            )
    clock = clock or SystemClock()
    run = ledger.run(settings.run_id)
    run.start(
        base_url=settings.base_url,
        structure_id=settings.structure_id,
        label=settings.label,
        resume_command=settings.resume_command,
    )
    target = settings.target_id or settings.base_url
    if run.get_meta("target") != target:  # the delta's bases are the earlier runs of the same target
        run.set_meta("target", target)
    pacer = make_pacer(settings, clock, on_wait)
    client = BenchmarkClient(
        settings.base_url,
        settings.api_key,
        http=http,
        transport=transport,
        clock=clock,
        rng=rng,
        pacer=pacer,
        backoff_base=backoff_base,
        on_request=run.count_request,
        patience=settings.patience,
    )
    with client:
        loader = Loader(
            client,
            run,
            settings.structure_id,
            on_existing=settings.on_existing,
            on_conflict=settings.on_conflict,
            on_progress=on_progress,
            should_stop=should_stop,
            variants=variants,
            index_strategy=settings.index_strategy,
            notes=AccountNotes(settings.state_dir),
            export_timeout=settings.export_timeout,
            on_note=on_note,
            target=target,
        )
        if on_start is not None:
            on_start(loader, pacer)
        return loader.run(plans)


def make_pacer(settings: LoadSettings, clock: Clock, on_wait: Callable[[float, str], None] | None) -> Pacer:
    return Pacer(
        clock,
        reserve=settings.reserve,
        window_seconds=settings.window_seconds,
        max_requests=settings.max_requests,
        on_wait=on_wait,
        sent=settings.requests_sent,
    )
