"""Memory: extract streams its bookkeeping pass, so its peak stays close to polars' own CSV read.

Peak RSS is measured in fresh subprocesses (``VmHWM``); ``tracemalloc`` cannot see polars' Rust
allocations. The bound is relative to a bare ``pl.read_csv`` of the same file, which is what the
design promises ("≤ 3× file size" holds at 1,000,000 rows; polars alone needs ~2.5× there, more on
smaller files where fixed costs dominate — see ``bench/bench_extract.py`` for the absolute figures).
The bookkeeping pass streams 16 MiB blocks, so its share does not grow with the file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from samples.generate import write_large

PROBE = r"""
import json, sys
mode, path = sys.argv[1], sys.argv[2]
if mode == "dry":
    from etl.allocator import configure
    configure()  # what the bme-migrate entry point does before polars loads
import polars as pl
from etl.extract import read_sources
from etl.validate.core import validate_sources
if mode == "bare":
    rows = pl.read_csv(path, infer_schema=False).height
elif mode == "dry":
    rows = validate_sources([path], preset=None, field_values=False).counts.rows_read
else:
    res = read_sources([path])
    rows = res.frame.height + res.rejects.height
# VmHWM, not ru_maxrss: Linux carries the (large) pytest parent's high-water mark into ru_maxrss
peak = next(int(x.split()[1]) for x in open("/proc/self/status") if x.startswith("VmHWM:"))
print(json.dumps({"rows": rows, "peak_kib": peak}))
"""


def peak(mode: str, path: Path) -> dict[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode, str(path)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_peak_rss_close_to_a_bare_polars_read(tmp_path: Path) -> None:
    path = tmp_path / "large.csv"
    write_large(path, 300_000)
    bare, ours = peak("bare", path), peak("extract", path)
    assert ours["rows"] == 300_000
    size_kib = path.stat().st_size / 1024
    # the scan's fixed cost (a few 16 MiB blocks in flight, polars' per-thread arenas) is ~50-90 MiB
    assert ours["peak_kib"] <= max(bare["peak_kib"] * 1.25, bare["peak_kib"] + 96 * 1024), (
        ours,
        bare,
        size_kib,
    )


@pytest.mark.slow
def test_dry_run_validate_needs_no_more_than_a_bare_polars_read(tmp_path: Path) -> None:
    """The validate command's path streams: extract, rules, dedup and outcomes together peak no higher
    than polars' own read of the file (which holds every cell at once), plus a fixed allowance for one
    batch in flight and the validate stage's imports (at 1,000,000 rows it peaks well below the bare
    read: ``make bench``)."""
    path = tmp_path / "large.csv"
    write_large(path, 300_000)
    bare, dry = peak("bare", path), peak("dry", path)
    assert dry["rows"] == 300_000
    assert dry["peak_kib"] <= bare["peak_kib"] + 128 * 1024, (dry, bare, path.stat().st_size / 1024)
