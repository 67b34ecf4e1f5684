"""``bme-migrate undo RUN [--yes]``: plan the reverse of a run from its ledger and the account; apply with --yes."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import click

from etl import paths
from etl.atomic import writable_dir, write_text_atomically
from etl.benchmark.client import BenchmarkClient
from etl.benchmark.pacing import Pacer
from etl.benchmark.structure import structure_gone
from etl.clock import SystemClock
from etl.commands.common import (
    DOCUMENTS,
    api_key_file_option,
    budget_options,
    console_options,
    json_option,
    report_dir_option,
    state_dir_option,
    target,
    to_stderr,
)
from etl.commands.target import open_target
from etl.errors import ConfigError, InvalidRequest, NotFound
from etl.load.ledger import LEDGER_NAME, Ledger, ledger_errors
from etl.load.undo import UndoResult, apply_undo, plan_undo, undo_document, undo_lines
from etl.terminal import FINAL, console, say
from etl.verify.compare import Names
from etl.verify.expected import check_target, find_run, run_names, run_policy


@click.command("undo", short_help="Delete what a run created, unchanged since; dry unless --yes.")
@click.argument("run", metavar="RUN")
@click.option("--yes", "apply", is_flag=True, help="Apply the plan (without it nothing is written).")
@budget_options()
@state_dir_option("State directory holding the run's ledger [default: $BME_STATE_DIR or .etl].")
@report_dir_option("Where undo.json goes [default: reports/<run id>].")
@api_key_file_option()
@json_option("Print undo.json on stdout and nothing else (every other line goes to stderr), also on exit 75.")
@console_options()
def command(
    run: str,
    apply: bool,
    max_requests: int | None,
    reserve: int,
    state_dir: Path | None,
    report_dir: Path | None,
    api_key_file: Path | None,
    as_json: bool,
) -> None:
    """Take a migration run back out of the account: dry by default, applied with --yes.

    RUN is a run id or a unique prefix (see `bme-migrate status`), or `latest`. Undo reads back the
    contacts the run created and deletes those still exactly as the run wrote them; a contact changed
    since (a field, a list, a tag, its status) is kept and reported with what differs. Contacts that
    existed before the run lose only the list memberships the run added; contacts the run merely
    updated are listed with their values from before the run in undo.json, not reverted (an
    unsubscribe is never undone). Every write is logged in the ledger before it is sent, so an
    interrupted undo resumes by running it again and a finished one writes nothing more.
    Exit 0 when done (or planned), 75 when stopped by --max-requests or the quota, 2 for a bad RUN.

    \b
    Examples:
      bme-migrate undo latest                  # the plan and its request bill; nothing written
      bme-migrate undo 7e3c918c --yes          # delete / remove memberships as planned
      bme-migrate undo 7e3c918c --yes --max-requests 500
    """
    settings = target(state_dir, api_key_file)
    writable_dir(paths.reports_root(report_dir))
    if not (settings.state_dir / LEDGER_NAME).is_file():  # not created by looking: nothing to undo
        raise ConfigError(f"no runs in {settings.state_dir}: run `bme-migrate migrate` first")
    with (
        Ledger.open(settings.state_dir) as ledger,
        ledger_errors(ledger.path),
        open_target(settings, to_stderr, doing=_doing(apply)) as (url, key),
    ):
        if ledger.empty:
            raise ConfigError(f"no runs in {settings.state_dir}: run `bme-migrate migrate` first")
        info = find_run(ledger, None if run.strip().lower() == "latest" else run)
        check_target(info, url, embedded=settings.embedded)
        assert info.structure_id is not None
        run_ledger = ledger.run(info.run_id)
        policy = run_policy(run_ledger, info)
        names = run_names(run_ledger)
        counts: Counter[str] = Counter()
        clock = SystemClock()
        pacer = Pacer(clock, reserve=reserve, max_requests=max_requests)
        out_dir = paths.report_dir(report_dir, info.run_id)
        with BenchmarkClient(
            url, key, clock=clock, pacer=pacer, on_request=lambda ep: counts.update((ep,))
        ) as client:
            try:
                plan = plan_undo(
                    client,
                    run_ledger,
                    info.structure_id,
                    policy,
                    labels=names.fields,
                    on_read=lambda keys, cost: say(
                        f"reading back {keys:,} key(s) of run {info.run_id}: at most {cost:,} search request(s)"
                    ),
                )
            except (InvalidRequest, NotFound) as exc:
                if (gone := structure_gone(exc, info.run_id, info.structure_id, url, "undo")) is not None:
                    raise gone from None
                raise
            for line in undo_lines(plan, names.lists, names.fields):
                say(line)
            if info.state != "complete":
                say(
                    f"note: run {info.run_id} is {info.state}: contacts it has not written yet are not in "
                    "this plan, and resuming the migration after the undo would write them"
                )
            result = UndoResult(plan, applied=apply)
            try:
                if apply:
                    pacer.expect(plan.writes)
                    apply_undo(client, run_ledger, result)
            finally:  # an undo stopped half-way still says what it did
                written = _write(out_dir, result, names, counts)
                if as_json:
                    console().document(written)
    if apply:
        failed = [r for r in result.results.values() if r.startswith("failed")]
        say(
            f"undone: {result.count('deleted'):,} deleted, {result.count('lists removed'):,} contact(s) "
            f"lost the run's lists, {result.count('already gone') + result.count('already removed'):,} "
            f"already done; {len(plan.kept):,} kept; {sum(counts.values()):,} request(s)"
        )
        for (k, _), r in result.results.items():
            if r.startswith("failed"):
                say(f"  {k}: {r}")
        if failed:
            say(f"{len(failed):,} action(s) failed: run the same command again to retry them")
    else:
        say("dry run: nothing was written; run again with --yes to apply")
    say(f"undo report: {out_dir / 'undo.json'}", level=FINAL)


def _doing(apply: bool) -> str:
    """What the embedded-sandbox line says undo does: it never migrates, and without --yes it only reads."""
    return "undoing a run in" if apply else "planning an undo (read-only) against"


def _write(out_dir: Path, result: UndoResult, names: Names, counts: Counter[str]) -> str:
    """Write undo.json, headed by its ``schema`` and ``version`` (docs/schema/undo.schema.json); return
    the text written."""
    doc = {
        "schema": "bme-migrate/undo",
        "version": DOCUMENTS["undo"],
        **undo_document(result, names.lists, names.fields, counts),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    write_text_atomically(out_dir / "undo.json", text)
    return text
