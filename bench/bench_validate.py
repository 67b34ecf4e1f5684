"""Validate throughput on 1,000,000 Mailchimp-shaped rows, against a bare ``polars.read_csv`` of the file.

Each measurement runs in its own subprocess so its peak RSS (``resource.getrusage``) is its own. Figures:
extract and validate wall time, bare read time, the ratio (target: validate ≲ 4× the bare read), rows/s,
and peak memory against the file's size. The file is made by ``samples/generate.py --large`` when absent.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data" / "large_1m.csv"
ROWS = int(os.environ.get("BENCH_VALIDATE_ROWS", "1000000"))


def _child(mode: str, path: str) -> None:
    """Run one measurement in this process and print its figures as JSON."""
    import polars as pl

    out: dict[str, float | int] = {}
    t0 = time.perf_counter()
    if mode == "read_csv":
        frame = pl.read_csv(path, infer_schema=False)
        out["rows"] = frame.height
    else:
        from etl.extract import read_sources
        from etl.mapping.presets import load_preset
        from etl.validate.core import validate_frame

        extracted = read_sources([path])
        out["extract_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        result = validate_frame(extracted, load_preset("mailchimp"))
        out["validate_s"] = time.perf_counter() - t1
        out["rows"] = result.counts.rows_read
        out["valid"] = result.counts.valid
        out["rejected"] = result.counts.rejected
        out["merged"] = result.counts.merged_duplicate
    out["total_s"] = time.perf_counter() - t0
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def _measure(mode: str, path: Path) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.bench_validate", mode, str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _ensure_data(path: Path) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, str(ROOT / "samples" / "generate.py"), "--large", str(ROWS), "--out", str(path)],
        check=True,
    )


def run() -> None:
    _ensure_data(DATA)
    size_mb = DATA.stat().st_size / 2**20
    bare = _measure("read_csv", DATA)
    val = _measure("validate", DATA)
    rows = val["rows"]
    print(f"   file: {DATA.relative_to(ROOT)} — {rows:,.0f} rows, {size_mb:,.0f} MiB")
    print(f"   bare polars.read_csv:   {bare['total_s']:6.2f} s   peak RSS {bare['peak_rss_mb']:7,.0f} MiB")
    print(f"   extract (read_sources): {val['extract_s']:6.2f} s")
    print(
        f"   validate_frame:         {val['validate_s']:6.2f} s   "
        f"({rows / val['validate_s']:,.0f} rows/s; {val['valid']:,.0f} valid, {val['rejected']:,.0f} rejected, "
        f"{val['merged']:,.0f} merged)"
    )
    print(
        f"   extract + validate:     {val['total_s']:6.2f} s   peak RSS {val['peak_rss_mb']:7,.0f} MiB "
        f"({val['peak_rss_mb'] / size_mb:.1f}× the file)"
    )
    print(
        f"   ratio validate / bare read: {val['validate_s'] / bare['total_s']:.1f}×   "
        f"(extract + validate / bare read: {val['total_s'] / bare['total_s']:.1f}×)"
    )


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2])
