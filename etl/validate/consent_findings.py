"""What validate found about consent: which columns carry it, how each value was read, which signal
decided each row's status — and the columns a person must settle before anything is written.

The per-batch counts come from ``etl/validate/status.py``; this module sums them and words them for the
report, the console and the stop message (``ConsentUnclear``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from etl.model import STATUS, Status
from etl.presets.consent import NO_SIGNAL, UNREADABLE, VOCABULARY, normalise_value
from etl.terminal import printable
from etl.validate.canonical import ColumnPlan
from etl.validate.status import CONSENT_SCHEMA, SOURCES_SCHEMA, UNDECIDED_STATUS

_SHOWN_VALUES = 8  # values quoted per column in a console line
_STATUSES = ", ".join(s.value for s in Status)


def _short(value: str, cap: int = 40) -> str:
    return value if len(value) <= cap else value[: cap - 1] + "…"


@dataclass(frozen=True)
class ConsentColumn:
    """One column that carries (or may carry) consent, with its values: (value, reading, rows), most rows
    first. ``reading`` is a status, ``-`` (no signal against consent) or ``?`` (unreadable)."""

    column: str
    kind: str  # positive | negative | event | status | weak | value (etl/presets/consent.py)
    values: tuple[tuple[str, str, int], ...] = ()

    @property
    def needs_decision(self) -> bool:
        return any(r == UNREADABLE for _, r, _ in self.values)

    def question(self) -> str:
        """One line: the column, its values and the flags that settle it (data escaped: a newline or an
        escape sequence in a header or a cell cannot break the line or reach the terminal)."""
        return printable(self._question())

    def _question(self) -> str:
        shown = ", ".join(f'"{_short(v)}" {n:,}' for v, _, n in self.values[:_SHOWN_VALUES])
        more = f" and {len(self.values) - _SHOWN_VALUES} more" if len(self.values) > _SHOWN_VALUES else ""
        unread = [v for v, r, _ in self.values if r == UNREADABLE]
        unknown = [v for v, _, _ in self.values if normalise_value(v) not in VOCABULARY][:_SHOWN_VALUES]
        pairs = " ".join(f'--status-value "{_short(v)}=STATUS"' for v in unknown)
        return (
            f'column "{self.column}" may carry consent ({self.kind}; values {shown}{more}; '
            f"cannot read {', '.join(repr(_short(v)) for v in unread[:4])}): "
            f'say --status-column "{self.column}"{" " + pairs if pairs else ""} (STATUS: {_STATUSES}), '
            f'or --ignore-column "{self.column}" if it carries no consent'
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "kind": self.kind,
            "needs_decision": self.needs_decision,
            "values": [{"value": v, "read_as": _read_as(r), "rows": n} for v, r, n in self.values],
        }


def _read_as(reading: str) -> str:
    return {NO_SIGNAL: "no opt-out", UNREADABLE: "unreadable"}.get(reading, reading)


@dataclass(frozen=True)
class ConsentFindings:
    """``columns``: every consent column of the run (and every watched column in which suppression words
    turned up). ``decided_by``: (signal, value, status, rows) — which column (or file name, or the default)
    decided the status of how many rows, and with which value; rows with an unreadable consent cell are
    ``undecided`` there, by that column. ``undecided``: (status, contacts) — valid contacts whose consent
    is undecided, by the status they would otherwise get: not theirs until a person settles the column,
    so the report counts them apart (``undecided_rows``), never as that status."""

    columns: tuple[ConsentColumn, ...] = ()
    decided_by: tuple[tuple[str, str | None, str, int], ...] = ()
    undecided: tuple[tuple[str, int], ...] = ()

    @classmethod
    def of(
        cls,
        plan: ColumnPlan,
        values: Sequence[pl.DataFrame],
        sources: Sequence[pl.DataFrame],
        undecided: Mapping[str, int] | None = None,
    ) -> ConsentFindings:
        found = pl.concat(list(values)) if values else pl.DataFrame(schema=CONSENT_SCHEMA)
        summed = found.group_by("column", "kind", "value", "reading").agg(pl.col("n").sum())
        columns = []
        order = [c for c, _ in plan.consent] + [c for c in plan.watch]
        kinds = {c: s.kind for c, s in plan.consent}
        # one partition, not one filter per column: a file can have 10,000 watched columns
        ranked = summed.sort(["n", "value"], descending=[True, False], maintain_order=True)
        parts = {k[0]: g for k, g in ranked.partition_by("column", as_dict=True, maintain_order=True).items()}
        for col in order:
            rows = parts.get(col, ranked.clear())
            if col not in kinds and rows.height == 0:
                continue
            columns.append(
                ConsentColumn(
                    col,
                    kinds.get(col, "value"),
                    tuple((v, r, int(n)) for v, r, n in rows.select("value", "reading", "n").iter_rows()),
                )
            )
        by = pl.concat(list(sources)) if sources else pl.DataFrame(schema=SOURCES_SCHEMA)
        decided = (
            by.group_by("by", "value", STATUS)
            .agg(pl.col("n").sum())
            .sort(["by", "n", "value"], descending=[False, True, False], nulls_last=True)
        )
        return cls(
            tuple(columns),
            tuple((b, v, s, int(n)) for b, v, s, n in decided.iter_rows()),
            tuple(sorted((undecided or {}).items())),
        )

    @property
    def undecided_rows(self) -> int:
        """Valid contacts whose consent is undecided (0 once every consent column reads)."""
        return sum(n for _, n in self.undecided)

    @property
    def unclear(self) -> tuple[ConsentColumn, ...]:
        return tuple(c for c in self.columns if c.needs_decision)

    def stop_message(self) -> str:
        """The ``ConsentUnclear`` text: a first line, then one line per column to settle."""
        cols = self.unclear
        head = (
            f"consent is unclear in {len(cols)} column{'s' if len(cols) != 1 else ''}; nothing was written. "
            "Settle each, then run the same command again:"
        )
        return "\n".join([head, *(f"  {c.question()}" for c in cols)])

    def stop_line(self) -> str:
        """The stop in one line (``load.stop_reason``, the summary's ``state:``): which columns, how many
        contacts are undecided, and that the flags settle it (the questions are in the report)."""
        cols = self.unclear
        names = ", ".join(f'"{_short(c.column)}"' for c in cols[:4]) + (", …" if len(cols) > 4 else "")
        return printable(
            f"consent is unclear in column{'s' if len(cols) != 1 else ''} {names}: "
            f"{self.undecided_rows:,} contact(s) undecided; settle each with --status-column and "
            "--status-value, or --ignore-column"
        )

    def decided_by_lines(self) -> list[str]:
        """Console lines: which signal decided how many rows' status, with which value."""
        lines = []
        for by, value, status, n in self.decided_by:
            said = "" if value is None else f' = "{_short(value)}"'
            if status == UNDECIDED_STATUS:
                lines.append(f"status {status:<12} {n:>10,} rows  {by}{said} cannot be read")
                continue
            lines.append(f"status {status:<12} {n:>10,} rows  decided by {by}{said}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": [c.to_dict() for c in self.columns],
            "decided_by": [{"by": b, "value": v, "status": s, "rows": n} for b, v, s, n in self.decided_by],
            "needs_decision": [c.column for c in self.unclear],
            "undecided_rows": self.undecided_rows,
        }
