"""Every undocumented corner of the Benchmark API as a named setting, with the adversarial reading as default.

docs/reference/benchmark-api.md §13 lists what the provider leaves open: case rules of key matching, whether create accepts a
status, the maximum page size, how the hourly window moves … The sandbox must pick *one* behaviour per run,
and tests must be able to pick the other one, so each ambiguity is a field here rather than a branch hidden
in a route. Defaults are the strictest documented-or-plausible reading, so a client that passes against the
defaults does not depend on the provider being lenient.

A ``Knobs`` value is frozen: build it once (defaults, then a JSON/TOML file, then CLI flags) and inject it.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from etl.config import SANDBOX_KEY
from etl.errors import ConfigError

READONLY_KEY = "bme_sandbox_readonly"
ALL_SCOPES = frozenset(
    {"contacts:read", "contacts:write", "campaigns:read", "campaigns:write", "reports:read", "domains:read"}
)
THIRTY_DAYS = 30 * 24 * 3600


@dataclass(frozen=True)
class ApiKey:
    """One registered key: its scopes (``x:write`` implies ``x:read``) and an optional Unix expiry time."""

    scopes: frozenset[str]
    expires_at: float | None = None

    def grants(self, scope: str) -> bool:
        if scope in self.scopes:
            return True
        resource, _, access = scope.partition(":")
        return access == "read" and f"{resource}:write" in self.scopes


def default_api_keys() -> dict[str, ApiKey]:
    return {SANDBOX_KEY: ApiKey(ALL_SCOPES), READONLY_KEY: ApiKey(frozenset({"contacts:read"}))}


_CHOICES: dict[str, tuple[str, ...]] = {
    "key_match": ("sensitive", "insensitive"),
    "unique_match": ("insensitive", "sensitive"),
    "status_on_create": ("accept", "ignore", "reject"),
    "tags_on_create": ("accept", "ignore"),
    "export_columns": ("absent", "label", "id"),
    "export_answer": ("full", "short", "garbage"),
}
EXPORT_ROLES = ("id", "key", "status", "secondary", "fields", "lists", "tags")


@dataclass(frozen=True)
class Knobs:
    """Behaviour switches of the sandbox. docs/sandbox.md gives the meaning of each."""

    # search EQ on KEY: "sensitive" matches the stored key byte for byte (adversarial default)
    key_match: str = "sensitive"
    # duplicate rule on create/PUT: "insensitive" means Jane@x.com collides with jane@x.com
    unique_match: str = "insensitive"
    # what POST /api/contact does with a ``status``: accept it, ignore it (always Active) or reject the body
    status_on_create: str = "accept"
    # what POST /api/contact does with ``tags``: accept or silently drop them
    tags_on_create: str = "accept"
    max_page_size: int = 100
    # several values in one EQ criterion: False → 400 (undocumented, do not depend on it); True → any-of
    eq_multi_values: bool = False
    hourly_limit: int = 3600
    window_seconds: int = 3600
    monthly_limit: int = 100_000
    # Unix time the current billing period ends; None → the next UTC calendar-month boundary
    period_end: float | None = None
    # once ``period_end`` passes, the next period is this long
    period_seconds: int = THIRTY_DAYS
    # do 4xx/5xx answers to authenticated requests consume the hourly and monthly budgets
    count_failed_requests: bool = True
    # PUT (contact, structure) and PATCH (list) without ``__v`` are rejected
    strict_version: bool = True
    api_keys: Mapping[str, ApiKey] = field(default_factory=default_api_keys)
    # the status a known key lacking the route's scope gets: 403 ForbiddenError as documented, or 401
    # UnauthorizedError (same message, naming the scope) so a client is tested against both readings
    missing_scope_status: int = 403
    # POST /api/contact/export (body and columns undocumented): "absent" answers 404 (default: a client
    # must work without it); "label" / "id" name the field columns by field label / by field _id
    export_columns: str = "absent"
    # "full"; "short" loses the last rows (the row count disagrees with search); "garbage" is not CSV
    export_answer: str = "full"
    # a column role the export leaves out (id, key, status, secondary, fields, lists, tags); None = none
    export_drop: str | None = None
    # wall-clock seconds the export takes before answering (a slow export meets the client's timeout)
    export_delay_seconds: float = 0.0
    # fault injection (authenticated /api requests only)
    fail_rate: float = 0.0  # fraction answered 500 before anything is done
    lost_response_rate: float = 0.0  # fraction of successful writes applied, then the connection dropped
    latency_ms: float = 0.0  # added before every answer
    seed: int | None = None  # seeds the fault RNG so a failing run can be replayed
    # scripted answers: route name ("GET /api/contact-structure") → the answers its first requests get, in
    # order, before anything is done: "500", "503", "429" (Retry-After 1), "429:30" / "503:5" (Retry-After
    # 30 s / 5 s), "drop" (the connection closed without an answer); then the route behaves normally
    script: Mapping[str, Sequence[str]] = field(default_factory=dict)
    # an outage window: after ``outage_after`` authenticated requests, every request is answered
    # ``outage_status`` (503; 0 = the connection closed without an answer) for ``outage_seconds`` of the clock
    outage_after: int | None = None
    outage_seconds: float = 0.0
    outage_status: int = 503

    def __post_init__(self) -> None:
        # accept the file/CLI shapes when constructed directly too ({key: [scopes]}, ISO period_end)
        object.__setattr__(self, "api_keys", _parse_keys(self.api_keys))
        object.__setattr__(self, "period_end", _parse_time(self.period_end, "period_end"))
        for name, allowed in _CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"sandbox knob {name} must be one of {', '.join(allowed)}")
        for name in ("max_page_size", "hourly_limit", "window_seconds", "monthly_limit", "period_seconds"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"sandbox knob {name} must be a positive integer")
        for name in ("fail_rate", "lost_response_rate"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
                raise ConfigError(f"sandbox knob {name} must be a fraction between 0 and 1")
        if self.export_drop is not None and self.export_drop not in EXPORT_ROLES:
            raise ConfigError(f"sandbox knob export_drop must be one of {', '.join(EXPORT_ROLES)}")
        if not isinstance(self.export_delay_seconds, int | float) or self.export_delay_seconds < 0:
            raise ConfigError("sandbox knob export_delay_seconds must be >= 0")
        if not isinstance(self.latency_ms, int | float) or self.latency_ms < 0:
            raise ConfigError("sandbox knob latency_ms must be >= 0")
        if self.missing_scope_status not in (401, 403):
            raise ConfigError("sandbox knob missing_scope_status must be 401 or 403")
        if not self.api_keys:
            raise ConfigError("sandbox knob api_keys must register at least one key")
        object.__setattr__(self, "script", _parse_script(self.script))
        if self.outage_after is not None and (
            not isinstance(self.outage_after, int) or self.outage_after < 0
        ):
            raise ConfigError("sandbox knob outage_after must be an integer >= 0")
        if not isinstance(self.outage_seconds, int | float) or self.outage_seconds < 0:
            raise ConfigError("sandbox knob outage_seconds must be >= 0")
        if self.outage_status not in (0, 500, 502, 503, 504):
            raise ConfigError("sandbox knob outage_status must be 0 (connection closed) or a 5xx status")

    def with_overrides(self, **overrides: Any) -> Knobs:
        """A copy with the non-``None`` overrides applied (CLI flags left unset are ``None``)."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return replace(self, **_coerce(given))


SCRIPTED = re.compile(r"^(drop|(429|500|502|503|504)(:\d+)?)$")


def _parse_script(raw: Any) -> dict[str, tuple[str, ...]]:
    """``{route name: [answer, …]}``; every answer checked against ``SCRIPTED``."""
    if not isinstance(raw, Mapping):
        raise ConfigError("sandbox knob script must be a table of route name → answers")
    out: dict[str, tuple[str, ...]] = {}
    for route, answers in raw.items():
        if isinstance(answers, str) or not isinstance(answers, list | tuple):
            raise ConfigError(f"sandbox knob script.{route} must list its answers")
        for answer in answers:
            if not isinstance(answer, str) or not SCRIPTED.match(answer):
                raise ConfigError(
                    f"sandbox knob script.{route}: {answer!r} is not drop, 429, 5xx or STATUS:RETRY_AFTER"
                )
        out[str(route)] = tuple(answers)
    return out


def _parse_time(value: Any, name: str) -> float | None:
    if value is None or isinstance(value, int | float) and not isinstance(value, bool):
        return None if value is None else float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise ConfigError(f"sandbox knob {name} must be a Unix time or an ISO-8601 timestamp")


def _parse_keys(raw: Any) -> dict[str, ApiKey]:
    """``{key: [scopes]}`` or ``{key: {"scopes": [...], "expires_at": time}}``."""
    if isinstance(raw, Mapping) and all(isinstance(v, ApiKey) for v in raw.values()):
        return dict(raw)
    if not isinstance(raw, Mapping):
        raise ConfigError("sandbox knob api_keys must be a table of key → scopes")
    keys: dict[str, ApiKey] = {}
    for key, spec in raw.items():
        expires: float | None = None
        if isinstance(spec, Mapping):
            scopes = spec.get("scopes", [])
            expires = _parse_time(spec.get("expires_at"), f"api_keys.{key}.expires_at")
        else:
            scopes = spec
        if not isinstance(scopes, list | tuple | frozenset | set) or not all(
            isinstance(s, str) for s in scopes
        ):
            raise ConfigError(f"sandbox knob api_keys.{key} must list its scopes as strings")
        keys[str(key)] = ApiKey(frozenset(scopes), expires)
    return keys


def _coerce(raw: Mapping[str, Any]) -> dict[str, Any]:
    known = {f.name for f in fields(Knobs)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"unknown sandbox knob(s): {', '.join(unknown)}")
    return dict(raw)


def knobs_from_mapping(raw: Mapping[str, Any]) -> Knobs:
    return Knobs(**_coerce(raw))


def load_knobs(path: str | Path) -> Knobs:
    """Read knobs from a ``.toml`` or ``.json`` file (a flat table; ``api_keys`` is a sub-table)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read sandbox knobs file {p}: {exc.strerror or exc}") from None
    try:
        raw = tomllib.loads(text) if p.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"{p}: not valid {'TOML' if p.suffix.lower() == '.toml' else 'JSON'}: {exc}"
        ) from None
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{p}: sandbox knobs must be a table/object")
    try:
        return knobs_from_mapping(raw)
    except TypeError as exc:
        raise ConfigError(f"{p}: {exc}") from None
