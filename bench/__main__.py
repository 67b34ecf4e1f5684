"""Run every ``bench/bench_*.py`` module's ``run(args)`` in name order (or only those named on the line).

Usage: ``python -m bench [name …]`` e.g. ``python -m bench sandbox``.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    wanted = [f"bench_{a}" if not a.startswith("bench_") else a for a in argv]
    for name in names:
        if wanted and name not in wanted:
            continue
        mod = importlib.import_module(f"bench.{name}")
        print(f"== {name[6:]} ==", flush=True)
        t0 = time.perf_counter()
        mod.run()
        print(f"   ({time.perf_counter() - t0:.1f}s)\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
