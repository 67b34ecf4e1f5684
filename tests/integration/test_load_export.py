"""The export strategy over real HTTP: the dedup index read in one ``POST /api/contact/export``.

Every reading of the undocumented export the sandbox can act out (fields by label, by ``_id``) is used when
it carries what the decision needs; every doubt (404, a missing column, a row count that disagrees with
search, a body that is not CSV, an answer slower than the timeout) falls back to paging, is said once and
remembered for the account in ``<state dir>/accounts.json``. Request counts come from the sandbox.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from etl.benchmark.client import utc_iso
from etl.clock import FakeClock
from etl.config import Secret
from etl.load.run import LoadSettings, load
from etl.sandbox.knobs import Knobs
from tests.load_support import (
    Account,
    account_contacts,
    make_plans,
    seed_contacts,
    setup_account,
)

N = 20_000
EXPORT = "POST /api/contact/export"
SEARCH = "POST /api/contact/search"
WRITES = ("POST /api/contact", "PUT /api/contact/{contactId}", "PATCH /api/contact/{contactId}")


def _account(sandbox_factory: Any, n: int, **knobs: Any) -> tuple[Any, Account, list[Any], FakeClock]:
    clock = FakeClock()
    box = sandbox_factory(knobs=Knobs(hourly_limit=10**9, monthly_limit=10**9, **knobs), clock=clock)
    account = setup_account(box.url, box.api_key)
    plans = make_plans(account, n)
    seed_contacts(box.app, account, plans)
    box.app.reset_counts()
    return box, account, plans, clock


def _load(
    box: Any,
    account: Account,
    plans: list[Any],
    state_dir: Path,
    clock: FakeClock,
    run_id: str = "run",
    **kw: Any,
) -> Any:
    notes: list[str] = []
    settings = LoadSettings(box.url, Secret(box.api_key), state_dir, account.structure_id, run_id, **kw)
    summary = load(plans, settings, clock=clock, on_note=notes.append)
    return summary, notes


def _writes(counts: dict[str, int]) -> int:
    return sum(n for ep, n in counts.items() if ep in WRITES)


def _verdict(state_dir: Path) -> dict[str, Any]:
    doc = json.loads((state_dir / "accounts.json").read_text(encoding="utf-8"))
    (entry,) = doc.values()
    return entry["export"]


@pytest.mark.slow
@pytest.mark.parametrize("columns", ["label", "id"])
def test_rerun_of_20000_contacts_with_export_costs_at_most_5_requests(
    sandbox_factory: Any, tmp_path: Path, columns: str
) -> None:
    box, account, plans, clock = _account(sandbox_factory, N, export_columns=columns)
    summary, notes = _load(box, account, plans, tmp_path, clock)
    served = box.app.request_counts()
    assert summary.requests == served
    assert summary.index_strategy == "export" and notes == []
    assert served[EXPORT] == 1 and served[SEARCH] <= 2 and _writes(served) == 0  # the probe learns pageSize
    assert sum(served.values()) <= 5, served
    if columns == "id":  # lists given by id: no request to learn their names
        assert "GET /api/contact-structure/{contactStructureId}/lists/all" not in served
    assert summary.rows == {"unchanged": N}
    assert _verdict(tmp_path)["usable"] is True


@pytest.mark.parametrize("columns", ["label", "id"])
def test_export_reading_builds_the_same_index_as_paging(
    sandbox_factory: Any, tmp_path: Path, columns: str
) -> None:
    """Half the plan exists with other values: the export's index must drive exactly the writes paging's does."""
    results = {}
    for strategy in ("export", "paging"):
        box, account, plans, clock = _account(sandbox_factory, 0, export_columns=columns)
        old = make_plans(account, 300)
        seed_contacts(box.app, account, old[:150])
        changed = make_plans(account, 300, unsub_every=7)
        box.app.reset_counts()
        summary, notes = _load(box, account, changed, tmp_path / strategy, clock, index_strategy=strategy)
        served = box.app.request_counts()
        assert summary.index_strategy == strategy and notes == []
        f, li, t = account.field_ids, account.list_ids, account.tag_ids  # each sandbox has its own ids
        state = {
            k: (
                sorted((f.index(fid), v) for fid, v in c.fields),
                sorted(li.index(x) for x in c.lists),
                sorted(t.index(x) for x in c.tags),
                c.status,
                c.secondary,
            )
            for k, c in account_contacts(box.app).items()
        }
        results[strategy] = (summary.rows, _writes(served), state)
    assert results["export"] == results["paging"]
    rows, writes, _ = results["export"]
    assert rows == {"created": 150, "unchanged": 131, "updated": 19} and writes == 169


@pytest.mark.parametrize(
    ("knobs", "why"),
    [
        ({"export_columns": "absent"}, "404"),
        ({"export_columns": "label", "export_drop": "lists"}, "no column for lists"),
        ({"export_columns": "id", "export_drop": "id"}, "no column for id"),
        ({"export_columns": "label", "export_answer": "short"}, "but search counts"),
        ({"export_columns": "label", "export_answer": "garbage"}, "not"),
    ],
)
def test_a_doubtful_export_falls_back_to_paging_says_why_once_and_is_remembered(
    sandbox_factory: Any, tmp_path: Path, knobs: dict[str, Any], why: str
) -> None:
    n = 1000
    box, account, plans, clock = _account(sandbox_factory, n, **knobs)
    summary, notes = _load(box, account, plans, tmp_path, clock)
    served = box.app.request_counts()
    assert summary.index_strategy == "paging" and summary.rows == {"unchanged": n}
    assert served[EXPORT] == 1 and _writes(served) == 0
    assert sum(served.values()) <= n / 100 + 10, served
    assert len(notes) == 1 and why in notes[0] and "export not used" in notes[0], notes
    verdict = _verdict(tmp_path)
    assert verdict["usable"] is False and why in verdict["reason"]

    # the next run (another run id, same state dir) does not probe again, and says so once
    box.app.reset_counts()
    settings = LoadSettings(box.url, Secret(box.api_key), tmp_path, account.structure_id, "second")
    again: list[str] = []
    summary = load(plans, settings, clock=clock, on_note=again.append)
    served = box.app.request_counts()
    assert EXPORT not in served and summary.index_strategy == "paging"
    assert len(again) == 1 and "export not tried" in again[0] and "--index-strategy export" in again[0]


def test_a_slow_export_meets_the_timeout_and_falls_back(sandbox_factory: Any, tmp_path: Path) -> None:
    n = 500
    box, account, plans, clock = _account(
        sandbox_factory, n, export_columns="label", export_delay_seconds=1.5
    )
    summary, notes = _load(box, account, plans, tmp_path, clock, export_timeout=0.3)
    served = box.app.request_counts()
    assert summary.index_strategy == "paging" and summary.rows == {"unchanged": n}
    assert served[EXPORT] == 1  # not retried: paging is the answer to a slow export
    assert len(notes) == 1 and "ReadTimeout" in notes[0]


def test_forced_export_probes_despite_a_remembered_verdict(sandbox_factory: Any, tmp_path: Path) -> None:
    box, account, plans, clock = _account(sandbox_factory, 300, export_columns="id")
    (tmp_path / "accounts.json").write_text(
        json.dumps(
            {
                f"{box.url}|{account.structure_id}": {
                    "export": {"usable": False, "reason": "404 earlier", "at": "2026-01-01T00:00:00Z"}
                }
            }
        ),
        encoding="utf-8",
    )
    summary, _ = _load(box, account, plans, tmp_path, clock)
    assert summary.index_strategy == "paging" and EXPORT not in box.app.request_counts()
    box.app.reset_counts()
    settings = LoadSettings(
        box.url, Secret(box.api_key), tmp_path, account.structure_id, "forced", index_strategy="export"
    )
    summary = load(plans, settings, clock=clock)
    assert summary.index_strategy == "export" and box.app.request_counts()[EXPORT] == 1
    assert _verdict(tmp_path)["usable"] is True


def test_small_accounts_never_probe_the_export(sandbox_factory: Any, tmp_path: Path) -> None:
    """Paging one or two pages costs no more than the export's two requests: it is not tried."""
    box, account, plans, clock = _account(sandbox_factory, 150, export_columns="label")
    summary, notes = _load(box, account, plans, tmp_path, clock)
    assert EXPORT not in box.app.request_counts() and summary.index_strategy in ("paging", "batched")
    assert notes == [] and not (tmp_path / "accounts.json").exists()


# --- remembered verdicts expire ---------------------------------------------------------------------------
DAY = 86400.0


def test_a_404_verdict_skips_the_export_for_a_week_then_it_is_tried_again(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    """Day 0: 404, read by paging; day 3: the export is not probed, and the note says until when; day 8 (the
    export enabled meanwhile): probed again, and the account is read by it."""
    n = 1000
    box, account, plans, clock = _account(sandbox_factory, n, export_columns="absent")
    summary, notes = _load(box, account, plans, tmp_path, clock)
    assert summary.index_strategy == "paging" and box.app.request_counts()[EXPORT] == 1
    verdict = _verdict(tmp_path)
    assert verdict["usable"] is False and verdict["kind"] == "structural" and "404" in verdict["reason"]
    day0 = utc_iso(clock.now())
    assert "auto tries the export again after " + _when(clock.now() + 7 * DAY) in notes[0], notes

    clock.advance(3 * DAY)
    box.app.knobs = replace(box.app.knobs, export_columns="label")  # the account's export works now
    box.app.reset_counts()
    summary, notes = _load(box, account, plans, tmp_path, clock, run_id="day3")
    served = box.app.request_counts()
    assert EXPORT not in served and summary.index_strategy == "paging" and summary.rows == {"unchanged": n}
    assert sum(served.values()) <= n / 100 + 2, served  # the probe page and the other pages, nothing more
    (note,) = notes
    assert f"the export failed here on {_when_iso(day0)} (" in note and "404" in note, note
    assert f"trying it again after {_when_iso(utc_iso(parse(day0) + 7 * DAY))}" in note, note

    clock.advance(5 * DAY)  # day 8
    box.app.reset_counts()
    summary, notes = _load(box, account, plans, tmp_path, clock, run_id="day8")
    served = box.app.request_counts()
    assert summary.index_strategy == "export" and notes == [] and summary.rows == {"unchanged": n}
    assert served[EXPORT] == 1 and served[SEARCH] <= 2 and sum(served.values()) <= 5, served
    assert _verdict(tmp_path)["usable"] is True


def test_a_timeout_verdict_expires_after_a_day(sandbox_factory: Any, tmp_path: Path) -> None:
    n = 1000
    box, account, plans, clock = _account(
        sandbox_factory, n, export_columns="label", export_delay_seconds=1.5
    )
    summary, notes = _load(box, account, plans, tmp_path, clock, export_timeout=1.0)
    assert summary.index_strategy == "paging" and "ReadTimeout" in notes[0]
    assert _verdict(tmp_path)["kind"] == "transient"

    box.app.knobs = replace(box.app.knobs, export_delay_seconds=0.0)  # the slow afternoon is over
    clock.advance(DAY - 60)
    box.app.reset_counts()
    summary, notes = _load(box, account, plans, tmp_path, clock, run_id="same-day", export_timeout=1.0)
    assert EXPORT not in box.app.request_counts() and summary.index_strategy == "paging"
    assert "export not tried" in notes[0] and "ReadTimeout" in notes[0], notes

    clock.advance(120)
    box.app.reset_counts()
    summary, notes = _load(box, account, plans, tmp_path, clock, run_id="next-day", export_timeout=1.0)
    assert box.app.request_counts()[EXPORT] == 1 and summary.index_strategy == "export" and notes == []


@pytest.mark.parametrize(
    ("export", "probed"),
    [
        ({"usable": False, "reason": "404 long ago"}, True),  # no time at all: expired
        ({"usable": False, "reason": "404", "at": "yesterday"}, True),  # a time we cannot read: expired
        ({"usable": False, "reason": "404", "at": "<an hour ago>"}, False),  # no kind: the day's wait
        ({"usable": False, "reason": "404", "at": "<two days ago>"}, True),
        ({"usable": True}, True),
    ],
)
def test_an_older_accounts_file_is_read_without_error(
    sandbox_factory: Any, tmp_path: Path, export: dict[str, Any], probed: bool
) -> None:
    """accounts.json as earlier versions wrote it (no ``kind``) or as a hand may have left it (no ``at``)."""
    box, account, plans, clock = _account(sandbox_factory, 1000, export_columns="id")
    ago = {"<an hour ago>": 3600, "<two days ago>": 2 * DAY}
    if export.get("at") in ago:
        export = {**export, "at": utc_iso(clock.now() - ago[export["at"]])}
    (tmp_path / "accounts.json").write_text(
        json.dumps({f"{box.url}|{account.structure_id}": {"export": export}}), encoding="utf-8"
    )
    summary, notes = _load(box, account, plans, tmp_path, clock)
    assert (EXPORT in box.app.request_counts()) is probed
    assert summary.index_strategy == ("export" if probed else "paging"), notes
    if probed:  # the old entry is replaced by one of today's format
        fresh = _verdict(tmp_path)
        assert fresh["usable"] is True and fresh["at"] == utc_iso(clock.now()) and "kind" not in fresh


def parse(iso: str) -> float:
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def _when_iso(iso: str) -> str:
    return f"{iso[:10]} {iso[11:16]} UTC"


def _when(ts: float) -> str:
    return _when_iso(utc_iso(ts))
