"""Read a run's SOURCE arguments — export files, or one legacy platform API — into a validation result.

``validate`` and ``migrate`` both start here, so a ``legacy+https://host/base`` source behaves the same in
each: extracted with ``etl.extract.legacy_api.extract_legacy`` (resumable, snapshotted in the state dir),
read with the ``legacy_api`` preset unless another is given, then validated exactly like a file.

``SourceRead.identity`` is what a run id digests for the sources. For files it is their content digest; for
the API it is the listing URL, the status filter and a digest of the snapshot's content, so the same
command re-run against the same snapshot is the same run (and a ``--legacy-fresh`` extraction that found
the same contacts is too), while a re-extraction that found different contacts starts a new run.

Mixing a legacy API source with files in one run is refused: their row ids would collide and one run id
could not say which snapshot it loaded. Migrate them as two runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from etl.clock import Clock
from etl.config import Secret
from etl.errors import ConfigError, InputError
from etl.extract import SourceStream, stream_sources
from etl.extract.legacy_api import (
    LegacyExtract,
    OnPage,
    extract_legacy,
    is_legacy_source,
    parse_legacy_source,
)
from etl.extract.options import ReadOptions
from etl.load.ledger import file_digest
from etl.model import ROW_ID
from etl.presets.preset import ConsentChoices, Preset, load_preset
from etl.retry import Patience
from etl.validate.core import ValidationResult, validate_frame, validate_sources

LEGACY_PRESET = "legacy_api"


@dataclass(frozen=True)
class LegacyOptions:
    """How to read a ``legacy+https://`` source. The token comes from the environment, never a flag."""

    token: Secret | None = None
    status: str | None = None  # subscribed | unsubscribed | None (everyone)
    fresh: bool = False  # discard the snapshot and page the API again
    patience: Patience = field(default_factory=Patience)  # --max-outage for the legacy API too


@dataclass(frozen=True)
class SourceRead:
    validation: ValidationResult
    identity: tuple[str, ...]  # what the run id digests for the sources
    legacy: LegacyExtract | None = None
    warnings: tuple[str, ...] = ()  # printed by the commands: legacy API notes, encodings detected
    options: ReadOptions = ReadOptions()  # --encoding / --delimiter the files were read with


def has_legacy_source(sources: Sequence[str]) -> bool:
    return any(is_legacy_source(str(s)) for s in sources)


def require_sources(sources: Sequence[str]) -> None:
    """Refuse a source path that does not exist before any other work: ``migrate`` would otherwise start
    the embedded sandbox and announce the rehearsal before it found out there is nothing to read."""
    for source in sources:
        if not is_legacy_source(str(source)) and not Path(source).exists():
            raise InputError("file not found", path=str(source))


def read_inputs(
    sources: Sequence[str],
    *,
    preset: Preset | None,
    state_dir: Path,
    legacy: LegacyOptions | None = None,
    progress: Callable[..., Any] | None = None,
    on_page: OnPage | None = None,
    clock: Clock | None = None,
    field_values: bool = True,
    consent: ConsentChoices | None = None,
    options: ReadOptions | None = None,
) -> SourceRead:
    """Extract and validate ``sources``; raises ``ConfigError`` for a mix or misplaced legacy options.

    ``field_values=False`` keeps only whether each field is filled: enough for a report, not for a load.
    ``options`` (``--encoding``, ``--delimiter``) apply to every file; a legacy API source refuses them.
    """
    legacy = legacy or LegacyOptions()
    options = options or ReadOptions()
    if not has_legacy_source(sources):
        if legacy.status or legacy.fresh:
            raise ConfigError("--legacy-status and --legacy-fresh apply only to a legacy+https:// SOURCE")
        result = validate_sources(
            list(sources),
            preset=preset,
            progress=progress,
            field_values=field_values,
            options=options,
            consent=consent,
        )
        identity = tuple(file_digest(s) if Path(s).is_file() else str(s) for s in sources)
        notes = tuple(note for f in result.files for note in getattr(f, "notes", ()))
        return SourceRead(result, identity, warnings=notes, options=options)
    if options.identity():
        raise ConfigError("--encoding and --delimiter apply to files, not to a legacy+https:// SOURCE")
    if len(sources) != 1:
        raise ConfigError(
            "a legacy+https:// SOURCE must be the only SOURCE of a run: migrate the API and the files "
            "as two runs"
        )
    url = parse_legacy_source(str(sources[0]))
    if legacy.token is None:
        raise ConfigError("a legacy+https:// SOURCE needs the legacy API token (LEGACY_API_TOKEN)")
    extracted = extract_legacy(
        url,
        legacy.token,
        state_dir=state_dir,
        status=legacy.status,
        fresh=legacy.fresh,
        on_page=on_page,
        clock=clock,
        patience=legacy.patience,
    )
    chosen = preset or load_preset(LEGACY_PRESET)
    result = validate_frame(extracted.result, consent.apply(chosen) if consent else chosen)
    digest = hashlib.sha256(extracted.frame.write_csv().encode())
    digest.update(extracted.result.rejects.write_csv().encode())  # as before: run ids stay
    identity = ("legacy", extracted.source, legacy.status or "all", digest.hexdigest())
    return SourceRead(result, identity, extracted, extracted.warnings)


def raw_rows(sources: Sequence[str], read: SourceRead, row_ids: Collection[int]) -> pl.DataFrame | None:
    """The rows ``row_ids`` of a run's sources as read (provenance and source columns, cells as strings),
    or None when there is none: the legacy snapshot's frame, or one more streamed pass over the files
    (validate kept only the cells of the rows it rejected; a row rejected later needs this)."""
    if not row_ids:
        return None
    wanted = pl.Series(sorted(row_ids), dtype=pl.Int64).implode()
    if read.legacy is not None:
        found = read.legacy.frame.filter(pl.col(ROW_ID).is_in(wanted))
        return found if found.height else None

    def consume(stream: SourceStream, counter: Callable[[int], None] | None) -> pl.DataFrame | None:
        parts = [b.frame.filter(pl.col(ROW_ID).is_in(wanted)) for b in stream.batches(counter)]
        parts = [p for p in parts if p.height]
        return pl.concat(parts, how="diagonal") if parts else None

    return stream_sources([str(s) for s in sources], consume, options=read.options)
