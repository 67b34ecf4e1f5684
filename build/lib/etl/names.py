"""Column references by exact name.

polars reads a column name given to ``pl.col`` (or as a string to ``select``/``with_columns``) as a
pattern when it is ``*`` (every column) or ``^…$`` (a regular expression). Exports can have such headers,
and field labels are made from headers, so every reference to a column named by the data goes through
``col``: a pattern-like name becomes the regular expression that matches exactly that name.
"""

from __future__ import annotations

import re

import polars as pl


def positions(frame: pl.DataFrame) -> dict[str, int]:
    """Each column's index, for ``pl.nth``: one ``frame.columns`` call (it copies every name), not one per
    column looked up — a file can have 10,000 columns (issue #15 item 15)."""
    return {c: i for i, c in enumerate(frame.columns)}


def col(name: str) -> pl.Expr:
    """``pl.col(name)`` that selects the column called ``name``, whatever characters it holds."""
    if name == "*" or (name.startswith("^") and name.endswith("$")):
        return pl.col(f"^{re.escape(name)}$")
    return pl.col(name)
