"""How a verification is shown: terminal lines, ``verify.json``, and a section of the run's ``report.html``.

``verify.json`` (in the run's report dir) is the machine-readable contract: ``run_id``, ``checked``,
``sampled``, ``ok``, ``mismatches`` (``key``, ``kind``, ``field``/``field_id`` where one applies,
``expected``, ``actual``), ``lists`` (``list_id``, ``name``, ``expected``, ``actual``, ``total_records``),
``requests`` (``total``, ``planned``, ``by_endpoint``, ``plan``) plus ``not_checked`` and ``notes``.

The HTML section sits between two comment markers so a re-run replaces it instead of adding another.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from etl.atomic import write_text_atomically
from etl.verify.compare import describe
from etl.verify.readback import ReadPlan
from etl.verify.verifier import VerifyResult

SHOWN = 10  # mismatches listed in the terminal and the HTML section
START, END = "<!-- bme-verify:start -->", "<!-- bme-verify:end -->"
_SECTION = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)


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


def section_html(result: VerifyResult, generated_at: str) -> str:
    e = html.escape
    kinds = ", ".join(f"{e(k)} {v:,}" for k, v in result.by_kind().items()) or "none"
    items = "".join(f"<li>{e(describe(m))}</li>" for m in result.mismatches[:SHOWN])
    more = (
        f"<li>… and {len(result.mismatches) - SHOWN:,} more in verify.json</li>"
        if len(result.mismatches) > SHOWN
        else ""
    )
    rows = "".join(
        f'<tr><td>{e(x.name)}</td><td class="num">{x.expected:,}</td><td class="num">{x.actual:,}</td>'
        f'<td class="num">{"" if x.total_records is None else f"{x.total_records:,}"}</td></tr>'
        for x in result.lists
    )
    notes = "".join(f"<li>{e(n)}</li>" for n in result.notes[:SHOWN])
    verdict = "clean" if result.clean else "mismatches found"
    sample = f" (a seeded sample of {result.plan.population:,})" if result.sampled else ""
    return (
        f'{START}<section id="verify"><h1>Verification — {e(verdict)}</h1>'
        f'<p class="muted">{e(generated_at)} · {sum(result.requests.values()):,} read requests '
        f"({e(result.plan.strategy)})</p>"
        f"<p>Checked {result.checked:,}{e(sample)}: ok {result.ok:,}, mismatches "
        f"{len(result.mismatches):,} ({kinds}).</p>"
        + (f"<ul>{items}{more}</ul>" if items else "")
        + (
            "<table><tr><th>list</th><th>expected</th><th>in the account</th><th>list total</th></tr>"
            f"{rows}</table>"
            if rows
            else ""
        )
        + (f"<ul>{notes}</ul>" if notes else "")
        + f"</section>{END}"
    )


def append_to_report(report_html: Path, section: str) -> bool:
    """Put ``section`` into an existing report page (replacing a previous one); ``False`` if no page."""
    if not report_html.is_file():
        return False
    page = report_html.read_text(encoding="utf-8")
    if _SECTION.search(page):
        page = _SECTION.sub(lambda _: section, page, count=1)
    elif "</main>" in page:
        page = page.replace("</main>", section + "</main>", 1)
    elif "</body>" in page:
        page = page.replace("</body>", section + "</body>", 1)
    else:
        page += section
    write_text_atomically(report_html, page)
    return True
