"""``bme-migrate mappings``: list and show presets, detect an export's platform, plan a mapping against the
account (read-only) and apply it (create the missing fields, lists and tags)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

import click

from etl.commands.common import (
    chosen_preset,
    chosen_read,
    console_options,
    json_option,
    preset_options,
    print_document,
    read_flags,
    sources_argument,
    state_dir_option,
    target,
    to_stderr,
    warn,
)
from etl.errors import MappingError
from etl.mapping.headers import read_headers
from etl.presets.detect import GENERIC, MIN_CONFIDENCE, detect_platform
from etl.presets.preset import Preset, load_all, load_preset
from etl.terminal import FINAL, say, table, width, wrap

F = TypeVar("F", bound=Callable[..., Any])
MISSING = "not in the account"  # resolve's words for targets a --create-* flag would make


def preset_lines(p: Preset, columns: int | None) -> list[str]:
    """Human-readable description of a preset (what `mappings show` prints), no line wider than
    ``columns``: the column table wraps its cells, the other lines wrap under their own indent."""
    out = [f"{p.name}: {p.title}" + (f" (extends {p.extends})" if p.extends else ""), ""]
    rows = [[" | ".join(p.email), "key (email)", "", "contact key, trimmed and lower-cased"]]
    for r in p.fields:
        target = r.target + (f" [{r.predefined}]" if r.predefined else "")
        notes = "; ".join(
            x for x in [f"formats {', '.join(r.formats)}" if r.formats else "", r.note or ""] if x
        )
        rows.append([" | ".join(r.sources), target, r.data_type, notes])
    table_lines = table(rows, ["source column(s)", "target field", "type", "notes"], columns)
    st = p.status
    out = [line for text in out for line in wrap(text, columns, "  ")] + table_lines
    rest = [
        "",
        f"status (default {st.default.value}; unknown value → "
        f"{st.unknown.value if st.unknown else 'row rejected'}):",
    ]
    if st.columns:
        rest.append(
            f"  column {' | '.join(st.columns)}: "
            + ", ".join(f"{k} → {v.value}" for k, v in st.values.items())
        )
    for prefix, s in st.files.items():
        rest.append(f"  file name starting {prefix!r} → {s.value}")
    for f in st.flags:
        test = (
            "non-empty"
            if not f.values
            else f"{'contains' if f.match == 'contains' else 'is'} " + " / ".join(repr(v) for v in f.values)
        )
        rest.append(
            f"  flag {' | '.join(f.column)}: {'unless' if f.absent else 'when'} {test} → {f.status.value}"
        )
    rest.append("")
    rest.append(f"tags: {' | '.join(p.tags.columns)} ({p.tags.format})" if p.tags.columns else "tags: none")
    ls = p.lists
    desc = {
        "none": "none",
        "fixed": f"every contact joins {ls.name!r}",
        "per_file": "one list per file (named after it)",
        "column": f"column {' | '.join(ls.columns)} ({ls.format or 'separator ' + repr(ls.separator)}"
        + (f", prefix {ls.prefix!r}" if ls.prefix else "")
        + ")",
    }[ls.mode]
    rest.append(f"lists: {desc}")
    rest.append(f"ignored: {', '.join(p.ignore) or 'none'}")
    rest.append(
        "other columns: " + ("proposed as custom text fields" if p.unmapped == "custom_text" else "ignored")
    )
    if p.event_time:
        rest.append(f"event time (latest row wins): {', '.join(p.event_time)}")
    rest.append(
        f"detect: headers {len(p.detect_headers)}, strong {', '.join(p.detect_strong) or 'none'}; "
        f"files {', '.join(p.detect_files) or 'none'}"
    )
    return out + [line for text in rest for line in wrap(text, columns, "  ")]


@click.group("mappings", short_help="Presets: list, show, detect a platform, plan/apply the mapping.")
def command() -> None:
    """Platform presets: list them, show one, detect an export's platform, plan the mapping, apply it.

    \b
    Examples:
      bme-migrate mappings list
      bme-migrate mappings show mailchimp
      bme-migrate mappings detect audience_export.zip --json
      bme-migrate mappings plan audience_export.zip --create-fields --list "Imported 2026"
      bme-migrate mappings apply audience_export.zip --create-fields --list "Imported 2026"
    """


@command.command("list")
@json_option('Print {"schema": …, "version": …, "presets": [{name, title} …]}.')
@console_options()
def list_cmd(as_json: bool) -> None:
    """List the installed presets (the names --preset accepts).

    Example: bme-migrate mappings list --json
    """
    presets = load_all()
    if as_json:
        print_document("presets", {"presets": [{"name": p.name, "title": p.title} for p in presets]})
        return
    for line in table([[p.name, p.title] for p in presets], ["preset", "platform export"], width()):
        say(line, level=FINAL)  # the answer itself, not chatter: --quiet keeps it


@command.command("show")
@click.argument("preset", metavar="PRESET")
@console_options()
def show_cmd(preset: str) -> None:
    """Show what a preset (name, or a mapping TOML file) does with each column.

    Example: bme-migrate mappings show hubspot
    """
    for line in preset_lines(load_preset(preset), width()):
        say(line, level=FINAL)  # the answer itself, not chatter: --quiet keeps it


@command.command("detect")
@sources_argument()
@read_flags()
@json_option('Print {"schema": …, "version": …, "platform": …, "confidence": …, "evidence": […]}.')
@console_options()
def detect_cmd(
    sources: tuple[str, ...],
    encoding: str | None,
    delimiter: str | None,
    max_archive_size: str | None,
    max_archive_ratio: str | None,
    as_json: bool,
) -> None:
    """Guess which platform wrote an export, from its headers and file names (reads headers only).

    Example: bme-migrate mappings detect subscribed.csv unsubscribed.csv --json
    """
    read_opts = chosen_read(encoding, delimiter, max_archive_size, max_archive_ratio)
    found = detect_platform(read_headers(list(sources), read_opts))
    if as_json:
        print_document("detect", found.to_dict())
        return
    say(f"platform: {found.platform}", level=FINAL)
    if found.platform == GENERIC:  # the confidence is the closest preset's, which was not enough
        say(f"confidence: {found.confidence:.2f} (closest preset; {MIN_CONFIDENCE:.2f} needed to apply one)")
        say(f"note: {found.message}")
    else:
        say(f"confidence: {found.confidence:.2f}")
    say("evidence:")
    for e in found.evidence:
        say(f"  - {e}")


@dataclass(frozen=True)
class _PlanRequest:
    """What `mappings plan` and `mappings apply` are asked (``_plan_options``): the same request plans, then
    applies."""

    sources: tuple[str, ...]
    preset: str | None
    mapping_file: Path | None
    encoding: str | None
    delimiter: str | None
    max_archive_size: str | None
    max_archive_ratio: str | None
    structure_id: str | None
    create_fields: bool
    create_lists: bool
    create_tags: bool
    extra_lists: tuple[str, ...]
    import_unconfirmed: bool

    def validated(self) -> Any:
        """Read and validate the export as `migrate` would (its notes as warnings on stderr)."""
        from etl.validate.core import validate_sources

        chosen = chosen_preset(self.preset, self.mapping_file)
        read_opts = chosen_read(self.encoding, self.delimiter, self.max_archive_size, self.max_archive_ratio)
        result = validate_sources(list(self.sources), preset=chosen, options=read_opts)
        for f in result.files:
            for note in getattr(f, "notes", ()):
                warn(note)
        return result

    def resolve_options(self) -> Any:
        from etl.mapping.resolve import ResolveOptions

        return ResolveOptions(
            self.structure_id,
            self.create_fields,
            self.create_lists,
            self.create_tags,
            tuple(self.extra_lists),
        )


_REQUEST_NAMES = tuple(f.name for f in fields(_PlanRequest))


def _plan_options(create_verb: str) -> Callable[[F], F]:
    """The options `mappings plan` and `mappings apply` share, handed to the command as one ``request``."""

    def wrap(f: F) -> F:
        @functools.wraps(f)
        def collapsed(*args: Any, **kwargs: Any) -> Any:
            request = _PlanRequest(**{name: kwargs.pop(name) for name in _REQUEST_NAMES})
            return f(*args, request=request, **kwargs)

        command: Any = collapsed
        for option in reversed(
            (
                sources_argument(),
                preset_options(
                    preset_help="Preset to read the export with (default: detected); see `mappings list`.",
                    mapping_help='Your own mapping TOML (may `extends = "mailchimp"`); replaces --preset.',
                ),
                read_flags(),
                click.option(
                    "--structure",
                    "structure_id",
                    metavar="ID",
                    help="Contact structure _id to map into (default: the account's first structure).",
                ),
                click.option(
                    "--create-fields",
                    is_flag=True,
                    help=f"{create_verb} missing fields in the contact structure.",
                ),
                click.option("--create-lists", is_flag=True, help=f"{create_verb} missing lists."),
                click.option(
                    "--create-tags",
                    is_flag=True,
                    help=f"{create_verb} missing tags in the contact structure.",
                ),
                click.option(
                    "--list",
                    "extra_lists",
                    multiple=True,
                    metavar="NAME",
                    help="Also put every contact in this list (repeatable).",
                ),
                click.option(
                    "--import-unconfirmed",
                    is_flag=True,
                    help="Count pending / no-consent rows as imported (as Inactive), like "
                    "`migrate --import-unconfirmed`.",
                ),
            )
        ):
            command = option(command)
        return command

    return wrap


@command.command("plan", short_help="Where each column goes in the account; read-only, writes nothing.")
@_plan_options("Show (never create) the")
@click.option("--offline", is_flag=True, help="Do not contact the account: show column routes by label only.")
@state_dir_option("State directory (embedded sandbox database) [default: $BME_STATE_DIR or .etl].")
@json_option("Print the report's mapping section as JSON (with schema and version).")
@console_options()
def plan_cmd(
    request: _PlanRequest,
    offline: bool,
    state_dir: Path | None,
    as_json: bool,
) -> None:
    """Resolve an export's columns, lists and tags against the account and show where each goes.

    Read-only, always: only GET and search requests reach the account. With --create-* flags a missing
    field, list or tag is shown as "would be created" (what `mappings apply` or `migrate` with the same
    flags creates); without them it is an error that names them all and the flag that creates them.

    Example: bme-migrate mappings plan export.csv --create-fields --create-tags --list Imported
    """
    from etl.mapping.plan import as_would_create, created_targets, mapping_report, plan_lines, plan_validation

    result = request.validated()
    if offline:
        plan, planned = plan_validation(result)
    else:
        try:
            plan, planned, reads = _resolved(result, request, state_dir, simulate=True)
        except MappingError as exc:
            if MISSING not in str(exc):
                raise
            # resolve's "(add --create-fields to create them)" is migrate's and apply's truth, not plan's
            raise MappingError(
                f"{exc}; in `mappings plan` those flags show what would be created, and "
                "`mappings apply` (or `migrate`) with them creates it"
            ) from None
        plan = as_would_create(plan, reads)
    if as_json:
        print_document("mapping-plan", mapping_report(plan))
        return
    _say_wrapped(plan_lines(plan, planned))
    if offline:
        return
    would = created_targets(plan)
    if any(would.values()):
        _say_wrapped(
            [
                f"plan only, nothing was written: would create {_names(would)}; `bme-migrate mappings apply` "
                "with the same options creates them (so does `migrate` with the same --create-* flags)"
            ]
        )
    else:
        _say_wrapped(
            ["plan only, nothing was written: every field, list and tag it needs is already in the account"]
        )


@command.command("apply", short_help="Create the fields, lists and tags the --create-* flags allow.")
@_plan_options("Create")
@state_dir_option("State directory (embedded sandbox database) [default: $BME_STATE_DIR or .etl].")
@json_option("Print the report's mapping section as JSON (with schema and version; created targets marked).")
@console_options()
def apply_cmd(
    request: _PlanRequest,
    state_dir: Path | None,
    as_json: bool,
) -> None:
    """Create the missing fields, lists and tags `mappings plan` showed, then show where each column goes.

    Writes only what the --create-* flags allow (nothing without them) and no contact. Running it again
    creates nothing: what it made is found by name the second time.

    Example: bme-migrate mappings apply export.csv --create-fields --create-tags --list Imported
    """
    from etl.mapping.plan import created_targets, mapping_report, plan_lines

    result = request.validated()
    plan, planned, _ = _resolved(result, request, state_dir, simulate=False)
    made = created_targets(plan)
    summary = (
        f"created {_names(made)}"
        if any(made.values())
        else "nothing created: every field, list and tag it needs was already in the account"
    )
    if as_json:
        print_document("mapping-plan", mapping_report(plan))
        to_stderr(summary)
        return
    _say_wrapped([*plan_lines(plan, planned), summary])


def _say_wrapped(lines: list[str]) -> None:
    """The plan's lines, each wrapped to the terminal (a pipe gets each whole: ``terminal.width``)."""
    columns = width()
    for text in lines:
        for line in wrap(text, columns, "    "):
            say(line)


def _names(made: dict[str, list[str]]) -> str:
    """``2 fields ('Phone', 'City'), 1 list ('Imported')``: what was (or would be) created, by kind."""
    singular = {"fields": "field", "lists": "list", "tags": "tag"}
    return ", ".join(
        f"{len(names)} {kind if len(names) != 1 else singular[kind]} ({', '.join(repr(n) for n in names)})"
        for kind, names in made.items()
        if names
    )


def _resolved(
    result: Any, request: _PlanRequest, state_dir: Path | None, *, simulate: bool
) -> tuple[Any, Any, int]:
    """Resolve against the account: ``(plan, planned contacts, requests that reached the account)``.

    With ``simulate`` every request goes through ``SimulatedWrites`` (migrate --dry-run's guard): reads
    reach the account, the structure PUT and list POSTs are answered locally, and any other write is refused
    before it leaves, so a plan cannot write whatever the resolution asks for.
    """
    import httpx

    from etl.benchmark.client import BenchmarkClient
    from etl.benchmark.pacing import Pacer
    from etl.clock import SystemClock
    from etl.commands.target import open_target
    from etl.load.dryrun import SimulatedWrites
    from etl.mapping.plan import plan_validation

    reached = 0

    def count(endpoint: str) -> None:
        nonlocal reached
        method = endpoint.split(" ", 1)[0]
        reached += not simulate or method == "GET" or endpoint.endswith("/api/contact/search")

    clock = SystemClock()
    doing = "planning against" if simulate else "creating fields, lists and tags in"
    with (
        open_target(target(state_dir), to_stderr, doing=doing) as (url, key),
        # paced and retried like a load: a 5xx or a lost answer does not end the plan
        BenchmarkClient(
            url,
            key,
            clock=clock,
            pacer=Pacer(clock),
            on_request=count,
            transport=SimulatedWrites(httpx.HTTPTransport()) if simulate else None,
        ) as client,
    ):
        plan, planned = plan_validation(
            result, client, request.resolve_options(), import_unconfirmed=request.import_unconfirmed
        )
    return plan, planned, reached
