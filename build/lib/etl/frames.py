"""Polars helpers every stage may use (kept below the stages so validate need not borrow from extract)."""

from __future__ import annotations

import polars as pl


def aligned(values: pl.Series, like: pl.Series | None) -> pl.Series:
    """``values`` re-sliced (zero-copy) into the same chunk lengths as ``like``.

    Why: a frame's columns must share chunk boundaries; a computed column (one chunk) set beside chunked
    ones would force polars to rechunk the whole frame.
    """
    if like is None or like.n_chunks() == 1:
        return values
    values = values.rechunk()  # slices of one chunk: a slice across two chunks would be two chunks
    parts, offset = [], 0
    for length in like.chunk_lengths():
        parts.append(values.slice(offset, length))
        offset += length
    return pl.concat(parts, rechunk=False)
