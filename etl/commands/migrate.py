"""``bme-migrate migrate``: extract → validate → resolve → transform → load, resumable, with a report."""

from __future__ import annotations

import os
import shlex
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from etl.commands.target import open_target
from etl.config import target_from_env
from etl.errors import ConfigError, Paused
from etl.load.decide import POLICIES
from etl.load.dryrun import dry_run_lines
from etl.load.ledger import file_digest
from etl.load.loader import Progress
from etl.load.migrate import Hooks, MigrateOptions, migrate
from etl.load.pacing import Pacer
from etl.mapping.presets import load_preset, preset_names


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """SIGINT/SIGTERM set a flag: the request in flight finishes, the loader checkpoints and pauses (75)."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():  # a second Ctrl-C: the user really wants out
            signal.default_int_handler(signum, frame)
        stop.set()

    for s in previous:
        signal.signal(s, handler)
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


class _Bar:
    """tqdm bar: contacts done, counts by outcome, requests left this hour and month, ETA."""

    def __init__(self) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=0,
            unit=" contacts",
            desc="migrating",
            file=sys.stderr,
            dynamic_ncols=True,
            disable=not sys.stderr.isatty(),
        )
        self.pacer: Pacer | None = None

    def start(self, loader: Any, pacer: Pacer) -> None:
        self.pacer = pacer

    def total(self, n: int) -> None:
        self.bar.reset(total=n)

    def progress(self, p: Progress) -> None:
        self.bar.n = p.done
        post = {k: v for k, v in sorted(p.counts.items()) if v}
        if self.pacer is not None:
            post["requests"] = self.pacer.sent
            if self.pacer.remaining is not None:
                post["hour left"] = self.pacer.remaining
            if self.pacer.monthly_remaining is not None:
                post["month left"] = self.pacer.monthly_remaining
        self.bar.set_postfix(post, refresh=False)
        self.bar.set_description("migrating", refresh=False)
        self.bar.refresh()

    def wait(self, seconds: float, reason: str) -> None:
        if seconds >= 1:
            self.bar.set_description(f"waiting {seconds:.0f}s ({reason})")

    def close(self) -> None:
        self.bar.close()


def _resume_command(ctx: click.Context) -> str:
    """The same command, rebuilt from what click parsed (the key is never a flag, so it cannot leak)."""
    words = ["bme-migrate", "migrate", *ctx.params["sources"]]
    for param in ctx.command.params:
        if not isinstance(param, click.Option) or param.name in (None, "sources"):
            continue
        value = ctx.params.get(param.name)
        flag = param.opts[0]
        if param.is_flag:
            words += [flag] if value else []
        elif param.multiple:
            for v in value or ():
                words += [flag, str(v)]
        elif value is not None and value != param.default:
            words += [flag, str(value)]
    return " ".join(shlex.quote(w) for w in words)


@click.command("migrate")
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@click.option(
    "--preset", metavar="NAME", help="Platform preset (default: detected from headers and file names)."
)
@click.option(
    "--mapping",
    "mapping_file",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Your own mapping TOML (may `extends` a preset); replaces --preset.",
)
@click.option(
    "--list", "lists", multiple=True, metavar="NAME", help="Add every contact to this list too (repeatable)."
)
@click.option("--create-fields", is_flag=True, help="Create missing custom fields in the contact structure.")
@click.option("--create-lists", is_flag=True, help="Create missing lists.")
@click.option("--create-tags", is_flag=True, help="Create missing tags in the contact structure.")
@click.option(
    "--on-existing",
    type=click.Choice(POLICIES),
    default="merge",
    show_default=True,
    help="Contacts already in the account: merge (add lists/tags, fill empty fields), overwrite "
    "(our non-empty values win) or skip. Unsubscribes always apply; Inactive is never reactivated.",
)
@click.option(
    "--import-unconfirmed",
    is_flag=True,
    help="Import pending/no-consent contacts as Inactive instead of skipping them.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Read the account (read-only requests) and report the exact create/update/unchanged/skip "
    "split and the request bill; write nothing.",
)
@click.option(
    "--max-requests",
    type=click.IntRange(min=1),
    default=None,
    help="Stop cleanly (exit 75) after this many API requests; run again to continue.",
)
@click.option(
    "--reserve",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Requests per hourly window left unused for other integrations on the account.",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Ledger, lock and embedded sandbox directory [default: $BME_STATE_DIR or .etl].",
)
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where report.json, report.html and rejects.csv go [default: reports/<run id>].",
)
@click.option(
    "--structure",
    "structure_id",
    metavar="ID",
    default=None,
    help="Target contact structure _id [default: the account's default structure].",
)
@click.option(
    "--api-key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File whose first line is the API key (overrides BME_API_KEY).",
)
def command(
    sources: tuple[str, ...],
    preset: str | None,
    mapping_file: Path | None,
    lists: tuple[str, ...],
    create_fields: bool,
    create_lists: bool,
    create_tags: bool,
    on_existing: str,
    import_unconfirmed: bool,
    dry_run: bool,
    max_requests: int | None,
    reserve: int,
    state_dir: Path | None,
    report_dir: Path | None,
    structure_id: str | None,
    api_key_file: Path | None,
) -> None:
    """Migrate an export into Benchmark: resumable, rate-aware, about one request per contact.

    Every row ends with one outcome (created, updated, unchanged, skipped, failed, rejected) in the
    ledger and the report. Into the embedded sandbox (no BME_API_KEY), missing fields, lists and tags
    are created as if --create-fields/--create-lists/--create-tags were given. Interrupted (Ctrl-C, --max-requests, monthly quota)? Run the same command
    again: it resumes the same run and never creates a contact twice.

    \b
    Examples:
      bme-migrate migrate members_export.zip --dry-run
      bme-migrate migrate contacts.csv --preset hubspot --create-fields --create-lists
      bme-migrate migrate a.csv --list "Imported 2026" --max-requests 3000 --reserve 200
    """
    if preset and mapping_file:
        raise ConfigError("use either --preset or --mapping, not both")
    if preset and preset not in preset_names() and not Path(preset).exists():
        raise ConfigError(f"unknown preset {preset!r}; known: {', '.join(preset_names())}")
    source = mapping_file or preset
    chosen = load_preset(source) if source else None
    mapping_id = (
        f"file:{file_digest(mapping_file)}" if mapping_file else f"preset:{preset}" if preset else "detected"
    )
    settings = target_from_env(os.environ, state_dir=state_dir, key_file=api_key_file)
    if settings.embedded:  # a rehearsal in the local sandbox: create whatever the export needs
        create_fields = create_lists = create_tags = True
    resume = _resume_command(click.get_current_context())
    opts = MigrateOptions(
        sources=sources,
        preset=chosen,
        mapping_id=mapping_id,
        lists=lists,
        create_fields=create_fields,
        create_lists=create_lists,
        create_tags=create_tags,
        on_existing=on_existing,
        import_unconfirmed=import_unconfirmed,
        dry_run=dry_run,
        max_requests=max_requests,
        reserve=reserve,
        structure_id=structure_id,
        report_dir=report_dir,
        resume_command=resume,
        # the embedded sandbox's port changes every run; its database does not
        target_id=f"embedded:{settings.sandbox_db.resolve()}" if settings.embedded else None,
    )
    bar = _Bar()
    try:
        with (
            _stop_on_signals() as stop,
            open_target(settings, lambda m: click.echo(m, err=True)) as (url, key),
        ):
            hooks = Hooks(
                on_plan=bar.total,
                on_progress=bar.progress,
                on_wait=bar.wait,
                on_start=bar.start,
                should_stop=stop.is_set,
            )
            result = migrate(opts, url, key, settings.state_dir, hooks=hooks)
    except Paused as exc:
        bar.close()
        click.echo(f"paused: {exc}", err=True)
        if exc.resume_after:
            click.echo(f"resume after {exc.resume_after} (UTC)", err=True)
        if resume:
            click.echo(f"to resume, run: {resume}", err=True)
        raise click.exceptions.Exit(exc.exit_code) from None
    bar.close()
    if result.plan is not None:
        for line in dry_run_lines(result.plan):
            click.echo(line)
    else:
        t, r = result.report["totals"], result.report["requests"]
        click.echo(
            f"run {result.run_id}: "
            + ", ".join(
                f"{k} {t.get(k, 0):,}"
                for k in ("created", "updated", "unchanged", "skipped", "failed", "rejected")
            )
        )
        click.echo(
            f"requests: {r['total']:,} (" + ", ".join(f"{k} {v:,}" for k, v in r["by_endpoint"].items()) + ")"
        )
    if result.files is not None:
        click.echo(f"report: {result.files.html} · {result.files.json.name} · {result.files.rejects.name}")
