"""Which platform wrote this export? A transparent score over headers and file names, never a guess.

Scoring, per preset (``generic`` is only the fallback and is never scored):

* **header evidence** ``E``: every ``detect.headers`` / ``detect.strong`` entry present in the files adds
  ``weight / n`` where ``weight`` is 3 for a strong header and 1 otherwise and ``n`` is the number of
  presets that list the same (normalised) header — so ``Email`` is worth little and ``MEMBER_RATING`` a lot.
  A header that matches only after normalisation (``email`` for ``EMAIL``) counts half: casing is evidence.
* **file evidence** ``F``: 2 when a file name matches one of ``detect.files`` (globs, case-insensitive).
* **coverage** ``C``: the share of the export's headers the preset knows (email, fields, status, tags,
  lists, ignored, detect): a tie-breaker between presets that share vocabulary.

The winner is the highest ``E + F + C``. When its ``E + F`` is below ``THRESHOLD`` (not even one
distinctive header), the export is "unknown" and ``generic`` is returned. ``confidence`` (0..1) is the
strength of the winner's evidence, ``1 - exp(-(E+F)/2)``, times its margin over the runner-up,
``s1 / (s1 + s2)``; for the generic fallback it is ``1 -`` the best platform's confidence.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import PurePosixPath

from etl.mapping.presets import Preset, load_all, norm_header

GENERIC = "generic"
THRESHOLD = 1.0
STRONG_WEIGHT = 3.0
FILE_WEIGHT = 2.0


@dataclass(frozen=True)
class Detection:
    platform: str  # preset file name without extension
    confidence: float  # 0..1
    evidence: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {"platform": self.platform, "confidence": self.confidence, "evidence": list(self.evidence)}


def known_headers(preset: Preset) -> set[str]:
    """Every (normalised) column name the preset gives a meaning to."""
    names: list[str] = [
        *preset.email,
        *preset.ignore,
        *preset.event_time,
        *preset.detect_headers,
        *preset.detect_strong,
        *preset.status.columns,
        *preset.tags.columns,
        *preset.lists.columns,
    ]
    for rule in preset.fields:
        names.extend(rule.sources)
    for flag in preset.status.flags:
        names.extend(flag.column)
    return {norm_header(n) for n in names}


def _basename(name: str) -> str:
    """``export.zip/subscribed_x.csv`` or ``export.zip!subscribed_x.csv`` → ``subscribed_x.csv``."""
    return PurePosixPath(name.replace("\\", "/").replace("!", "/").replace("::", "/")).name


def _file_evidence(preset: Preset, files: Iterable[str]) -> tuple[float, list[str]]:
    for f in files:
        base = _basename(f).casefold()
        full = f.replace("\\", "/").casefold()
        for pattern in preset.detect_files:
            pat = pattern.casefold()
            if fnmatch(base, pat):
                return FILE_WEIGHT, [f"file {_basename(f)!r} matches {pattern!r}"]
            if ("/" in pat or ":" in pat) and fnmatch(full, pat):
                return FILE_WEIGHT, [f"source {f!r} matches {pattern!r}"]
    return 0.0, []


def _score(
    preset: Preset, exact: set[str], normed: set[str], idf: Mapping[str, int], files: Sequence[str]
) -> tuple[float, float, float, list[str]]:
    e = 0.0
    evidence: list[str] = []
    strong = {norm_header(h) for h in preset.detect_strong}
    seen: set[str] = set()
    for h in (*preset.detect_strong, *preset.detect_headers):
        n = norm_header(h)
        if n in seen or n not in normed:
            continue
        seen.add(n)
        w = (STRONG_WEIGHT if n in strong else 1.0) / max(1, idf.get(n, 1))
        factor = 1.0 if h in exact else 0.5
        e += w * factor
        kind = "strong header" if n in strong else "header"
        evidence.append(f"{kind} {h!r} (+{w * factor:.2f}{', case differs' if factor < 1 else ''})")
    f, fev = _file_evidence(preset, files)
    known = known_headers(preset)
    c = len(normed & known) / len(normed) if normed else 0.0
    return e, f, c, [*fev, *evidence]


def detect_platform(
    headers_by_file: Mapping[str, Sequence[str]], presets: Sequence[Preset] | None = None
) -> Detection:
    """Score every preset against the headers of all files of one export (see module doc)."""
    all_presets = list(presets) if presets is not None else load_all()
    candidates = [p for p in all_presets if p.name != GENERIC]
    exact = {h.strip() for hs in headers_by_file.values() for h in hs if h and h.strip()}
    normed = {norm_header(h) for h in exact} - {""}
    idf: dict[str, int] = {}
    for p in candidates:
        for n in {norm_header(h) for h in (*p.detect_headers, *p.detect_strong)}:
            idf[n] = idf.get(n, 0) + 1
    files = list(headers_by_file)
    scored = []
    for p in candidates:
        e, f, c, ev = _score(p, exact, normed, idf, files)
        scored.append((e + f + c, e + f, c, p.name, ev))
    scored.sort(key=lambda t: (-t[0], t[3]))
    if not scored:
        return Detection(GENERIC, 1.0, ["no platform presets installed"])
    s1, ef1, c1, name1, ev1 = scored[0]
    s2 = scored[1][0] if len(scored) > 1 else 0.0
    strength = 1.0 - math.exp(-ef1 / 2.0)
    margin = s1 / (s1 + s2) if s1 + s2 > 0 else 0.0
    conf = round(strength * margin, 3)
    coverage = f"{round(c1 * len(normed))}/{len(normed)} headers known to {name1}"
    if ef1 < THRESHOLD:
        why = f"best platform {name1} has too little distinctive evidence ({ef1:.2f} < {THRESHOLD})"
        return Detection(GENERIC, round(1.0 - conf, 3), [why, *ev1, coverage])
    runner = f"runner-up {scored[1][3]} scored {s2:.2f} vs {s1:.2f}" if len(scored) > 1 else ""
    return Detection(name1, conf, [*ev1, coverage, *([runner] if runner else [])])
