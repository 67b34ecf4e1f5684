"""Which platform wrote this export? A transparent score over headers and file names, never a guess.

Scoring, per preset (``generic`` is only the fallback and is never scored):

* **header evidence** ``E``: every ``detect.headers`` / ``detect.strong`` entry present in the files adds
  ``weight / n`` where ``weight`` is 3 for a strong header and 1 otherwise and ``n`` is the number of
  presets that list the same (normalised) header — so a shared name is worth little and ``MEMBER_RATING`` a
  lot. A header that matches only after normalisation (``email`` for ``EMAIL``) counts half: casing is
  evidence. Names in ``GENERIC_HEADERS`` (``id``, ``email``, ``created_at``, ``status``, ``name``…) never
  count, whatever a preset lists: every platform has them, so they say nothing about which one wrote the file.
* **file evidence** ``F``: 2 when a file name matches one of ``detect.files`` (globs, case-insensitive).
* **coverage** ``C``: the share of the export's headers the preset knows (email, fields, status, tags,
  lists, ignored, detect): a tie-breaker between presets that share vocabulary.

The best preset is the highest ``E + F + C``. A preset's ``confidence`` (0..1) is the strength of its
evidence, ``1 - exp(-(E+F)/2)``, times its share of the evidence against the best other preset,
``(E+F) / ((E+F) + (E+F)_rival)`` — coverage ranks presets but is not evidence. So one file-name match
alone gives 0.63, one strong header of this preset alone 0.78, and a strong header two presets share 0.26
each. The preset is applied only when its confidence reaches ``MIN_CONFIDENCE``; below it the export goes
through ``generic`` and the Detection says so truthfully: its ``confidence`` is the closest preset's (the one
that was not enough) and ``closest`` names the two closest presets with theirs, so the user can pick one
with ``--preset NAME``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import PurePosixPath

from etl.presets.preset import Preset, load_all, norm_header
from etl.sheets import book_of

GENERIC = "generic"
# Below this a preset is not applied: the export is read with `generic`. Chosen from the export corpus
# (tests/fixtures/exports, tests/unit/test_detect_corpus.py): every platform case scores at least 0.63 (the
# weakest, Kit, has only its file-name pattern), most above 0.9; a file whose only evidence is one header
# two presets share scores 0.26, one non-strong header of one preset 0.39, generic names alone 0.
MIN_CONFIDENCE = 0.5
STRONG_WEIGHT = 3.0
FILE_WEIGHT = 2.0

# Column names every platform uses: never evidence for one of them (compared after norm_header).
GENERIC_HEADERS: frozenset[str] = frozenset(
    norm_header(h)
    for h in (
        "id", "email", "e-mail", "email address", "e-mail address", "mail", "email_address",
        "created_at", "updated_at", "created", "updated", "modified", "date", "date_added", "created_on",
        "first name", "last name", "name", "full name", "firstname", "lastname",
        "status", "state", "type", "title", "source", "language", "tags", "tag", "labels", "lists", "list",
        "phone", "phone number", "mobile", "city", "country", "company", "address", "zip", "zip code",
        "postal code", "province", "region", "note", "notes", "website",
    )
)  # fmt: skip


@dataclass(frozen=True)
class Detection:
    """What detection decided. For ``generic`` (nothing confident), ``confidence`` is the closest preset's
    own confidence — the one that was not enough — and ``closest`` lists the two best (preset, confidence)."""

    platform: str  # preset file name without extension
    confidence: float  # 0..1
    evidence: list[str] = field(default_factory=list)
    closest: tuple[tuple[str, float], ...] = ()

    @property
    def message(self) -> str:
        """One line for people: the detected preset, or why none was applied and how to pick one."""
        if self.platform != GENERIC:
            return f"detected, confidence {self.confidence:.0%}"
        near = ", ".join(f"{name} {conf:.0%}" for name, conf in self.closest)
        none = "" if any(c > 0 for _, c in self.closest) else "; no column is distinctive of any preset"
        return f"no preset above {MIN_CONFIDENCE:.0%}; closest: {near}{none} — pick one with --preset NAME"

    def to_dict(self) -> dict[str, object]:
        doc: dict[str, object] = {
            "platform": self.platform,
            "confidence": self.confidence,
            "evidence": list(self.evidence),
        }
        if self.platform == GENERIC:
            doc["closest"] = [{"preset": n, "confidence": c} for n, c in self.closest]
            doc["message"] = self.message
        return doc


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
    """``export.zip/subscribed_x.csv`` or ``export.zip!subscribed_x.csv`` → ``subscribed_x.csv``; a
    workbook's sheet (``MailPoet_export_x.xlsx [Sheet1]``) → the workbook's name, which the patterns name."""
    name = book_of(name)
    return PurePosixPath(name.replace("\\", "/").replace("!", "/").replace("::", "/")).name


def _file_evidence(preset: Preset, files: Iterable[str]) -> tuple[float, list[str]]:
    for f in files:
        base = _basename(f).casefold()
        full = book_of(f).replace("\\", "/").casefold()
        for pattern in preset.detect_files:
            pat = pattern.casefold()
            if fnmatch(base, pat):
                return FILE_WEIGHT, [f"file {_basename(f)!r} matches {pattern!r}"]
            if ("/" in pat or ":" in pat) and fnmatch(full, pat):
                return FILE_WEIGHT, [f"source {f!r} matches {pattern!r}"]
    return 0.0, []


def _distinctive(names: Iterable[str]) -> list[str]:
    return [h for h in names if norm_header(h) not in GENERIC_HEADERS]


def _score(
    preset: Preset, exact: set[str], normed: set[str], idf: Mapping[str, int], files: Sequence[str]
) -> tuple[float, float, float, list[str]]:
    e = 0.0
    evidence: list[str] = []
    strong = {norm_header(h) for h in preset.detect_strong}
    seen: set[str] = set()
    for h in _distinctive((*preset.detect_strong, *preset.detect_headers)):
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


def _confidence(ef: float, rival: float) -> float:
    """``1 - exp(-ef/2)`` (how much evidence) × ``ef / (ef + rival)`` (how much of it is this preset's)."""
    strength = 1.0 - math.exp(-ef / 2.0)
    margin = ef / (ef + rival) if ef + rival > 0 else 0.0
    return round(strength * margin, 3)


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
        for n in {norm_header(h) for h in _distinctive((*p.detect_headers, *p.detect_strong))}:
            idf[n] = idf.get(n, 0) + 1
    files = list(headers_by_file)
    scored = []
    for p in candidates:
        e, f, c, ev = _score(p, exact, normed, idf, files)
        scored.append((e + f + c, e + f, c, p.name, ev))
    scored.sort(key=lambda t: (-t[0], t[3]))
    if not scored:
        return Detection(GENERIC, 0.0, ["no platform presets installed"])
    # Each preset's confidence: its evidence strength times its share of the evidence, against the preset
    # with the most evidence among the others (coverage ranks presets but is not evidence).
    efs = [t[1] for t in scored]
    confs = [
        _confidence(ef, max((x for j, x in enumerate(efs) if j != i), default=0.0))
        for i, ef in enumerate(efs)
    ]
    s1, ef1, c1, name1, ev1 = scored[0]
    s2 = scored[1][0] if len(scored) > 1 else 0.0
    conf = confs[0]
    coverage = f"{round(c1 * len(normed))}/{len(normed)} headers known to {name1}"
    if conf < MIN_CONFIDENCE:
        order = sorted(range(len(scored)), key=lambda i: (-confs[i], -scored[i][0], scored[i][3]))
        closest = tuple((scored[i][3], confs[i]) for i in order[:2])
        why = (
            f"best platform {name1} has too little distinctive evidence "
            f"(confidence {conf:.2f} < {MIN_CONFIDENCE}): read with the generic preset"
        )
        return Detection(GENERIC, closest[0][1], [why, *ev1, coverage], closest)
    runner = f"runner-up {scored[1][3]} scored {s2:.2f} vs {s1:.2f}" if len(scored) > 1 else ""
    return Detection(name1, conf, [*ev1, coverage, *([runner] if runner else [])])
