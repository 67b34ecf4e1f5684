"""How a verification is shown: terminal lines, ``verify.json``, and a section of the run's ``report.html``.

``verify.json`` (in the run's report dir) is the machine-readable contract: ``run_id``, ``checked``,
``sampled``, ``ok``, ``mismatches`` (``key``, ``kind``, ``field``/``field_id`` where one applies,
``expected``, ``actual``), ``lists`` (``list_id``, ``name``, ``expected``, ``actual``, ``total_records``),
``requests`` (``total``, ``planned``, ``by_endpoint``, ``plan``) plus ``not_checked`` and ``notes``.

The run's ``report.html`` is rendered again from ``report.json`` and this document (``etl.report``), so a
re-run replaces the read-back on the page instead of adding another.
"""

from __future__ import annotations

import json
from pathlib import Path

from etl.atomic import write_text_atomically
from etl.verify.compare import describe
from etl.verify.readback import ReadPlan
from etl.verify.verifier import VerifyResult

SHOWN = 10  # mismatches listed in the terminal


def read_plan_lines(plan: ReadPlan) -> list[str]:
    """The request bill, printed before the read-back spends it."""
    if plan.strategy == "export":
        how = (
            "no request: the run read the account by export and wrote nothing since (paging would cost "
            f"{plan.paging_cost:,}, batched KEY searches {plan.batched_cost:,})"
        )
    elif plan.strategy == "paging":
        how = (
            f"{plan.reads:,} more page(s) of the structure ({plan.structure_total:,} contacts at pageSize "
            f"{plan.page_size}); batched KEY searches would cost {plan.batched_cost:,}"
        )
    else:
        how = (
            f"{plan.reads:,} batched KEY search(es) ({plan.page_size} keys each) + {plan.list_counts:,} list "
            f"total(s); paging the structure would cost {plan.paging_cost:,}"
        )
    lines = [
        f"plan: {plan.total:,} search request(s) in all = {plan.probe} probe (spent) + {how}",
        f"checking {plan.keys:,} of {plan.population:,} keys: {plan.reason}",
    ]
    if plan.sampled:
        lines.append(
            f"SAMPLE: only {plan.keys:,} of {plan.population:,} keys are checked (seeded by the run id)"
        )
    return lines


def verify_lines(result: VerifyResult) -> list[str]:
    kinds = result.by_kind()
    skipped = ", ".join(f"{k} {v:,}" for k, v in result.not_checked.items())
    lines = [
        f"run {result.run_id} ({result.run_state}, on-existing {result.policy}): checked {result.checked:,}"
        + (f" (sample of {result.plan.population:,})" if result.sampled else "")
        + f"; not checked: {skipped}",
        f"ok {result.ok:,}, mismatches {len(result.mismatches):,}"
        + (" (" + ", ".join(f"{k} {v:,}" for k, v in kinds.items()) + ")" if kinds else ""),
    ]
    lines += ["  " + describe(m) for m in result.mismatches[:SHOWN]]
    if len(result.mismatches) > SHOWN:
        lines.append(f"  … and {len(result.mismatches) - SHOWN:,} more (see verify.json)")
    for x in result.lists:
        flag = "" if x.expected == x.actual else "  MISMATCH"
        members = f"{x.total_records:,}" if x.total_records is not None else "?"
        lines.append(
            f'list "{x.name}": {x.actual:,} of {x.expected:,} checked contacts in it; '
            f"{members} members in the account{flag}"
        )
    lines += [f"note: {n}" for n in result.notes[:SHOWN]]
    if len(result.notes) > SHOWN:
        lines.append(f"note: … and {len(result.notes) - SHOWN:,} more (see verify.json)")
    spent = sum(result.requests.values())
    lines.append(f"requests: {spent:,} (planned {result.plan.total:,}), searches only")
    lines.append("verified: clean" if result.clean else "verify FOUND MISMATCHES")
    return lines


def write_verify_json(result: VerifyResult, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "verify.json"
    write_text_atomically(path, json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n")
    return path
