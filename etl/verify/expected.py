"""What the ledger says a run intended, and whether the current target is the one it went to (read-only).

Target identity: a run records its base URL and structure id. Another base URL is refused (one line,
exit 2). The embedded sandbox gets a new loopback port on every start but always lives in
``<state dir>/sandbox.db`` — the state dir that also holds the ledger — so an embedded target matches any
run recorded against a loopback URL (its structure must still exist there, which ``verify`` checks).

The run's ``--on-existing`` policy is read from the ledger's meta ``on_existing`` when the load recorded it,
else from the run's resume command (the CLI always records one), else the default ``merge``.
"""

from __future__ import annotations

import shlex
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

from etl.errors import ConfigError
from etl.load.ledger import DONE, Ledger, RunInfo, RunLedger
from etl.mapping.resolve import resolved_from_json
from etl.verify.compare import CHECKED_OUTCOMES, Expected, Names, expected_state

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def find_run(ledger: Ledger, ref: str | None) -> RunInfo:
    runs = ledger.runs()  # most recently updated first
    if not runs:
        raise ConfigError(f"no runs in {ledger.path.parent}: run `bme-migrate migrate` first")
    if ref is None:
        return runs[0]
    hits = [r for r in runs if r.run_id.startswith(ref.strip())]
    if not hits:
        known = ", ".join(r.run_id for r in runs[:5])
        raise ConfigError(f"no run {ref!r} in {ledger.path.parent} (runs: {known})")
    if len(hits) > 1:
        raise ConfigError(f"run prefix {ref!r} is ambiguous: {', '.join(r.run_id for r in hits)}")
    return hits[0]


def _origin(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def check_target(run: RunInfo, base_url: str, *, embedded: bool) -> None:
    """Refuse to compare a run with an account it was not loaded into (see the module doc)."""
    if run.base_url is None or run.structure_id is None:
        raise ConfigError(f"run {run.run_id} has no recorded target: nothing was loaded")
    if embedded:
        if urlsplit(run.base_url).hostname not in LOOPBACK:
            raise ConfigError(
                f"run {run.run_id} was loaded into {run.base_url}, not the embedded sandbox: set BME_API_KEY "
                "and BME_BASE_URL to that account to verify it"
            )
        return
    if _origin(run.base_url) != _origin(base_url):
        raise ConfigError(
            f"run {run.run_id} was loaded into {run.base_url}, not {base_url}: verify needs the same target"
        )


def run_policy(ledger: RunLedger, run: RunInfo) -> str:
    """The run's ``--on-existing``: from the ledger's meta when recorded, else its resume command."""
    saved = ledger.get_meta("on_existing")
    if saved:
        return saved
    words = shlex.split(run.resume_command or "")
    for i, word in enumerate(words):
        if word == "--on-existing" and i + 1 < len(words):
            return words[i + 1]
        if word.startswith("--on-existing="):
            return word.split("=", 1)[1]
    return "merge"


def run_names(ledger: RunLedger) -> Names:
    saved = ledger.get_meta("resolved_mapping")
    if not saved:
        return Names({}, {}, {})
    m = resolved_from_json(saved)
    return Names(
        {fid: label for label, fid in m.field_ids},
        {lid: name for name, lid in m.list_ids},
        {tid: label for label, tid in m.tag_ids},
    )


def expectations(
    ledger: RunLedger, policy: str, before: dict[str, dict[str, Any]]
) -> tuple[list[Expected], dict[str, int]]:
    """The checked population (ledger order) and the counts of what is not checked, by reason.

    ``before``: the run's dedup index (pre-run documents of the keys that already existed).
    """
    population: list[Expected] = []
    skipped: Counter[str] = Counter()
    bases = ledger.bases()  # the cut-over delta's: keys an earlier run wrote were merged three ways
    on_conflict = ledger.get_meta("on_conflict") or "target"
    for row in ledger.iter_contacts([DONE]):
        if row.outcome not in CHECKED_OUTCOMES:
            skipped[row.outcome or "unknown"] += 1
            continue
        population.append(
            expected_state(
                row.plan,
                outcome=row.outcome,
                contact_id=row.contact_id,
                ours=row.ours,
                before=None if row.ours else before.get(row.plan.key),
                policy=policy,
                base=None if row.ours or row.plan.key not in bases else bases[row.plan.key][0],
                on_conflict=on_conflict,
            )
        )
    pending = ledger.contact_totals().get("pending", 0)
    rejected = ledger.row_totals().get("rejected", 0)
    not_checked = {
        "skipped": skipped.pop("skipped", 0),
        "failed": skipped.pop("failed", 0),
        "rejected": rejected,
        "pending": pending,
    }
    not_checked.update(skipped)
    return population, not_checked
