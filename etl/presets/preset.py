"""Per-platform presets: declarative TOML files in ``mappings/`` loaded into frozen dataclasses.

A preset says, for one platform's export: how to find the email column, which source columns go to which
target field (by ``predefinedField`` or by label, with a data type and parse format), where the consent
status comes from (a column, the file name, boolean flag columns), how tags and lists are encoded, which
column dates a row (for "latest row wins"), and which columns are deliberately ignored.

Column matching is by name, never position, and tolerant of case, spacing and punctuation
(``"Email Address"`` == ``"EMAIL_ADDRESS"`` == ``" email address "``) — see ``norm_header``.
The file format is documented in ``mappings/README.md``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from etl.errors import ConfigError
from etl.model import Status

DATA_TYPES = ("text", "number", "date", "boolean", "recurrent_date")
TAG_FORMATS = ("comma", "semicolon", "pipe", "mailchimp", "brackets_pipe")
LIST_MODES = ("none", "fixed", "per_file", "column")
UNMAPPED_POLICIES = ("ignore", "custom_text")


def _catalog() -> Path:
    """Where the presets are: ``mappings/`` in a checkout (where users edit them), else the copy an installed
    wheel carries as ``etl/presets/catalog`` (pyproject maps that package to ``mappings/``)."""
    checkout = Path(__file__).resolve().parents[2] / "mappings"
    return checkout if checkout.is_dir() else Path(__file__).resolve().parent / "catalog"


DEFAULT_DIR = _catalog()

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def norm_header(name: str) -> str:
    """Case-, space- and punctuation-insensitive form of a column name (letters of any script kept)."""
    return _NON_WORD.sub("", name.replace("\ufeff", "").casefold())


@dataclass(frozen=True)
class FieldRule:
    """One target field fed by the first source column that matches any of ``sources``."""

    sources: tuple[str, ...]
    target: str  # the target field's label in the Benchmark contact structure
    predefined: str | None = None  # Benchmark predefinedField (firstName, lastName, …)
    data_type: str = "text"
    formats: tuple[str, ...] = ()  # strptime formats for dates, tried in order before ISO
    note: str | None = None  # shown by `mappings show` and in the mapping report


FLAG_MATCHES = ("equals", "contains")


@dataclass(frozen=True)
class FlagRule:
    """A boolean-ish column that, when true (non-empty unless ``values`` given), forces a status.

    ``match = "contains"`` tests whether the cell *contains* one of ``values`` (case-insensitive), for
    multi-valued cells such as Brevo's ``_SUBSCRIBED`` (``email_marketing,sms_marketing``).
    ``absent = true`` inverts the test: the flag fires when the cell does NOT match (an empty cell does not
    match), e.g. "``_SUBSCRIBED`` lacks ``email_marketing`` → no_consent". A flag whose column is missing
    from a file never fires, whatever ``absent`` says: absence of evidence is not a status.
    """

    column: tuple[str, ...]
    status: Status
    values: tuple[str, ...] = ()  # lower-cased cell values that count as true; empty → any non-empty
    match: str = "equals"  # equals | contains
    absent: bool = False  # fire when the cell does NOT match

    def fires(self, cell: str | None) -> bool:
        """The reference semantics for one cell (validate's vectorised form must agree with this)."""
        v = (cell or "").strip().casefold()
        if not self.values:
            hit = bool(v)
        elif self.match == "contains":
            hit = bool(v) and any(x in v for x in self.values)
        else:
            hit = bool(v) and v in self.values
        return not hit if self.absent else hit


@dataclass(frozen=True)
class StatusRule:
    columns: tuple[str, ...] = ()  # a column holding the platform's status word
    values: Mapping[str, Status] = field(
        default_factory=lambda: MappingProxyType({})
    )  # lower-cased value → status
    files: Mapping[str, Status] = field(
        default_factory=lambda: MappingProxyType({})
    )  # file-name prefix → status
    flags: tuple[FlagRule, ...] = ()  # checked in order; the first true flag wins over the column
    default: Status = Status.SUBSCRIBED  # when no column, file or flag says otherwise
    unknown: Status | None = None  # status for an unrecognised value; None → reject the row


@dataclass(frozen=True)
class TagsRule:
    columns: tuple[str, ...] = ()
    format: str = "comma"


@dataclass(frozen=True)
class ListRule:
    mode: str = "none"
    name: str | None = None  # for mode = "fixed"
    columns: tuple[str, ...] = ()  # for mode = "column"
    separator: str = ","
    format: str | None = None  # a TAG_FORMATS name for bracketed cells ("[2|21]"); overrides separator
    prefix: str = ""  # prepended to each value: ids-only columns become readable names ("Brevo list 2")


@dataclass(frozen=True)
class Preset:
    name: str  # the file name without extension: the platform id
    title: str
    email: tuple[str, ...]  # aliases of the email column, most specific first
    fields: tuple[FieldRule, ...] = ()
    status: StatusRule = field(default_factory=StatusRule)
    tags: TagsRule = field(default_factory=TagsRule)
    lists: ListRule = field(default_factory=ListRule)
    event_time: tuple[str, ...] = ()  # columns that date a row, by preference; formats from `date_formats`
    date_formats: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    unmapped: str = "ignore"  # what to do with columns no rule names: ignore, or propose custom text fields
    detect_headers: tuple[str, ...] = ()  # headers whose presence is evidence for this platform
    detect_files: tuple[str, ...] = ()  # glob patterns of file names that are evidence
    detect_strong: tuple[str, ...] = ()  # headers (also evidence) that almost only this platform writes
    extends: str | None = None
    not_consent: tuple[str, ...] = ()  # columns a person said carry no consent (see etl/presets/consent.py)


@dataclass(frozen=True)
class ConsentChoices:
    """What a person said about consent on the command line, applied on top of the chosen or detected
    preset: ``--status-column COL`` (COL holds the status; its words read with the preset's values, the
    given ``--status-value WORD=STATUS`` pairs and the built-in vocabulary) and ``--ignore-column COL`` (COL
    carries no consent: it is handled like any other column)."""

    status_column: str | None = None
    status_values: Mapping[str, Status] = field(default_factory=lambda: MappingProxyType({}))
    not_consent: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.status_column or self.status_values or self.not_consent)

    def apply(self, preset: Preset) -> Preset:
        status = preset.status
        if self.status_column or self.status_values:
            values = {**status.values, **{k.strip().casefold(): v for k, v in self.status_values.items()}}
            status = replace(
                status,
                columns=(self.status_column,) if self.status_column else status.columns,
                values=MappingProxyType(values),
            )
        return replace(preset, status=status, not_consent=(*preset.not_consent, *self.not_consent))


def _tuple(v: object, what: str, src: str) -> tuple[str, ...]:
    if v is None:
        return ()
    if isinstance(v, str):
        return (v,)
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return tuple(v)
    raise ConfigError(f"{src}: {what} must be a string or a list of strings")


def _status(v: object, what: str, src: str) -> Status:
    try:
        return Status(str(v))
    except ValueError:
        raise ConfigError(
            f"{src}: {what} = {v!r} is not one of {', '.join(s.value for s in Status)}"
        ) from None


def _parse(data: Mapping[str, object], name: str, src: str) -> Preset:
    def section(key: str) -> Mapping[str, object]:
        v = data.get(key, {})
        if not isinstance(v, Mapping):
            raise ConfigError(f"{src}: [{key}] must be a table")
        return v

    email = section("email")
    fields = []
    raw_fields = data.get("fields", [])
    if not isinstance(raw_fields, list):
        raise ConfigError(f"{src}: [[fields]] must be an array of tables")
    for i, f in enumerate(raw_fields):
        where = f"fields[{i}]"
        if not isinstance(f, Mapping) or "target" not in f:
            raise ConfigError(f"{src}: {where} needs a target")
        dt = str(f.get("type", "text"))
        if dt not in DATA_TYPES:
            raise ConfigError(f"{src}: {where}.type = {dt!r} is not one of {', '.join(DATA_TYPES)}")
        fields.append(
            FieldRule(
                sources=_tuple(f.get("source"), f"{where}.source", src) or (str(f["target"]),),
                target=str(f["target"]),
                predefined=str(f["predefined"]) if f.get("predefined") else None,
                data_type=dt,
                formats=_tuple(f.get("formats"), f"{where}.formats", src),
                note=str(f["note"]) if f.get("note") else None,
            )
        )
    st = section("status")
    flags = []
    raw_flags: Any = st.get("flags", []) or []
    for i, fl in enumerate(raw_flags):
        match = str(fl.get("match", "equals"))
        if match not in FLAG_MATCHES:
            raise ConfigError(
                f"{src}: status.flags[{i}].match = {match!r} is not one of {', '.join(FLAG_MATCHES)}"
            )
        absent = fl.get("absent", False)
        if not isinstance(absent, bool):
            raise ConfigError(f"{src}: status.flags[{i}].absent must be true or false")
        flags.append(
            FlagRule(
                column=_tuple(fl.get("column"), f"status.flags[{i}].column", src),
                status=_status(fl.get("status"), f"status.flags[{i}].status", src),
                values=tuple(
                    x.casefold() for x in _tuple(fl.get("values"), f"status.flags[{i}].values", src)
                ),
                match=match,
                absent=absent,
            )
        )
    values: Any = st.get("values", {}) or {}
    files: Any = st.get("files", {}) or {}
    status = StatusRule(
        columns=_tuple(st.get("column"), "status.column", src),
        values=MappingProxyType(
            {str(k).strip().casefold(): _status(v, f"status.values.{k}", src) for k, v in values.items()}
        ),
        files=MappingProxyType(
            {str(k).casefold(): _status(v, f"status.files.{k}", src) for k, v in files.items()}
        ),
        flags=tuple(flags),
        default=_status(st.get("default", "subscribed"), "status.default", src),
        unknown=_status(st["unknown"], "status.unknown", src) if st.get("unknown") else None,
    )
    tg = section("tags")
    tags = TagsRule(
        columns=_tuple(tg.get("column"), "tags.column", src), format=str(tg.get("format", "comma"))
    )
    if tags.format not in TAG_FORMATS:
        raise ConfigError(f"{src}: tags.format = {tags.format!r} is not one of {', '.join(TAG_FORMATS)}")
    ls = section("lists")
    lists = ListRule(
        mode=str(ls.get("mode", "none")),
        name=str(ls["name"]) if ls.get("name") else None,
        columns=_tuple(ls.get("column"), "lists.column", src),
        separator=str(ls.get("separator", ",")),
        format=str(ls["format"]) if ls.get("format") else None,
        prefix=str(ls.get("prefix", "")),
    )
    if lists.format is not None and lists.format not in TAG_FORMATS:
        raise ConfigError(f"{src}: lists.format = {lists.format!r} is not one of {', '.join(TAG_FORMATS)}")
    if lists.mode not in LIST_MODES:
        raise ConfigError(f"{src}: lists.mode = {lists.mode!r} is not one of {', '.join(LIST_MODES)}")
    if lists.mode == "fixed" and not lists.name:
        raise ConfigError(f"{src}: lists.mode = 'fixed' needs lists.name")
    det = section("detect")
    unmapped = str(data.get("unmapped", "ignore"))
    if unmapped not in UNMAPPED_POLICIES:
        raise ConfigError(f"{src}: unmapped = {unmapped!r} is not one of {', '.join(UNMAPPED_POLICIES)}")
    aliases = _tuple(email.get("aliases"), "email.aliases", src)
    if not aliases:
        raise ConfigError(f"{src}: [email] aliases must name at least one column")
    ignore = _tuple(data.get("ignore"), "ignore", src)
    return Preset(
        name=name,
        title=str(data.get("title", name)),
        email=aliases,
        fields=_without_ignored(fields, ignore),
        status=status,
        tags=tags,
        lists=lists,
        event_time=_tuple(data.get("event_time"), "event_time", src),
        date_formats=_tuple(data.get("date_formats"), "date_formats", src),
        ignore=ignore,
        unmapped=unmapped,
        detect_headers=_tuple(det.get("headers"), "detect.headers", src),
        detect_files=_tuple(det.get("files"), "detect.files", src),
        detect_strong=_tuple(det.get("strong"), "detect.strong", src),
        extends=str(data["extends"]) if data.get("extends") else None,
        not_consent=_tuple(data.get("not_consent"), "not_consent", src),
    )


def _without_ignored(fields: Sequence[FieldRule], ignore: Sequence[str]) -> tuple[FieldRule, ...]:
    """``ignore`` wins over field rules, so a mapping file can drop a column its base preset maps: ignored
    names leave each rule's sources, and a rule left without sources is dropped."""
    if not ignore:
        return tuple(fields)
    gone = {norm_header(i) for i in ignore}
    out = []
    for rule in fields:
        kept = tuple(s for s in rule.sources if norm_header(s) not in gone)
        if kept:
            out.append(rule if kept == rule.sources else replace(rule, sources=kept))
    return tuple(out)


def _merge(base: Mapping[str, object], over: Mapping[str, object]) -> dict[str, object]:
    """A user file extends a preset: tables merge key by key, ``fields`` append (same target replaces)."""
    out: dict[str, object] = dict(base)
    for k, v in over.items():
        if k == "fields" and isinstance(v, list):
            base_fields: Any = base.get("fields", []) or []
            keep = [f for f in base_fields if f.get("target") not in {x.get("target") for x in v}]
            out[k] = keep + v
        elif isinstance(v, Mapping) and isinstance(base.get(k), Mapping):
            out[k] = _merge(base[k], v)  # type: ignore[arg-type]
        else:
            out[k] = v
    return out


def _read(path: Path) -> dict[str, object]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"mapping file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def load_preset(name_or_path: str | Path, directory: Path = DEFAULT_DIR) -> Preset:
    """Load a preset by platform name (``mailchimp``) or a user mapping file (which may ``extends``)."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        data = _read(p)
        name = p.stem
    else:
        p = directory / f"{name_or_path}.toml"
        if not p.exists():
            raise ConfigError(f"unknown preset {name_or_path!r}; known: {', '.join(preset_names(directory))}")
        data = _read(p)
        name = str(name_or_path)
    parent = data.get("extends")
    if parent:
        base = _read(directory / f"{parent}.toml")
        data = _merge(base, {k: v for k, v in data.items() if k != "extends"})
        data["extends"] = parent
    return _parse(data, name, str(p))


def preset_names(directory: Path = DEFAULT_DIR) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.toml"))


def load_all(directory: Path = DEFAULT_DIR) -> list[Preset]:
    return [load_preset(n, directory) for n in preset_names(directory)]


def find_column(headers: Sequence[str], aliases: Iterable[str]) -> str | None:
    """The first header matching any alias (aliases in preference order), compared by ``norm_header``."""
    by_norm: dict[str, str] = {}
    for h in headers:
        by_norm.setdefault(norm_header(h), h)
    for a in aliases:
        hit = by_norm.get(norm_header(a))
        if hit is not None:
            return hit
    return None
