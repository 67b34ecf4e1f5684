"""Extract throughput and memory on a 1,000,000-row Mailchimp-style CSV, against a bare ``pl.read_csv``.

Each measurement runs in a fresh subprocess so that peak RSS (``VmHWM``, see ``bench_validate``) belongs to
that one read; ``tracemalloc`` cannot see polars' Rust allocations. The file is generated once by
``samples/generate.py --large`` into ``bench/data/`` (git-ignored) and reused. ``BME_BENCH_ROWS``
overrides the row count (the file name then carries it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPEAT = 2

PROBE = r"""
import json, sys, time
mode, path = sys.argv[1], sys.argv[2]
import polars as pl
from etl.extract import read_sources
from bench.bench_validate import peak_rss_mib
base = peak_rss_mib() * 1024
t0 = time.perf_counter()
if mode == "bare":
    rows = pl.read_csv(path, infer_schema=False).height
else:
    res = read_sources([path])
    rows = res.frame.height + res.rejects.height
secs = time.perf_counter() - t0
peak = peak_rss_mib() * 1024
print(json.dumps({"secs": secs, "rows": rows, "peak_kib": peak, "base_kib": base}))
"""


def data_file() -> Path:
    rows = int(os.environ.get("BME_BENCH_ROWS", "1000000"))
    name = "large_1m.csv" if rows == 1_000_000 else f"large_{rows}.csv"
    path = ROOT / "bench" / "data" / name
    if not path.exists():
        subprocess.run(
            [sys.executable, str(ROOT / "samples" / "generate.py"), "--large", str(rows), "--out", str(path)],
            check=True,
            cwd=ROOT,
        )
    return path


def measure(mode: str, path: Path) -> dict[str, float]:
    best: dict[str, float] | None = None
    for _ in range(REPEAT):
        out = subprocess.run(
            [sys.executable, "-c", PROBE, mode, str(path)],
            check=True,
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout
        got = json.loads(out.strip().splitlines()[-1])
        if best is None or got["secs"] < best["secs"]:
            best = got
    assert best is not None
    return best


def run() -> None:
    path = data_file()
    size = path.stat().st_size
    bare = measure("bare", path)
    ours = measure("extract", path)
    mib = 1024 * 1024
    print(f"   file: {path.relative_to(ROOT)}  {size / mib:,.1f} MiB, {ours['rows']:,} records")
    print(
        f"   bare pl.read_csv(infer_schema=False): {bare['secs']:6.2f} s   peak RSS {bare['peak_kib'] / 1024:7.0f} MiB"
        f" ({bare['peak_kib'] * 1024 / size:.2f}x file)"
    )
    print(
        f"   read_sources:                         {ours['secs']:6.2f} s   peak RSS {ours['peak_kib'] / 1024:7.0f} MiB"
        f" ({ours['peak_kib'] * 1024 / size:.2f}x file)"
    )
    print(
        f"   ratio read_sources / bare: time {ours['secs'] / bare['secs']:.2f}x, "
        f"peak RSS {ours['peak_kib'] / bare['peak_kib']:.2f}x "
        f"(interpreter + polars baseline {ours['base_kib'] / 1024:.0f} MiB)"
    )
    print(f"   read_sources: {ours['rows'] / ours['secs']:,.0f} records/s")
    load = os.getloadavg()
    print(
        f"   best of {REPEAT} runs each, fresh subprocess per run; "
        f"load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} on 2 cores"
    )
