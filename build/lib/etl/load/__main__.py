"""``python -m etl.load``: run the load stage alone from a plan file (JSON lines of planned contacts).

For rehearsals, scripted pipelines and the crash tests (which SIGKILL this process and run it again).
The target comes from the environment exactly as for ``bme-migrate`` (``BME_BASE_URL`` + ``BME_API_KEY`` or
``BME_API_KEY_FILE``); the run id is a fingerprint of the plan and the target, so the same command resumes.

Example: ``python -m etl.load --plan plan.jsonl --structure 64a1… --state-dir .etl``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from etl.atomic import write_text_atomically
from etl.config import target_from_env
from etl.errors import ConfigError, MigrationError
from etl.load.ledger import plan_from_json, plan_to_json
from etl.load.run import LoadSettings, load, plan_run_id
from etl.model import PlannedContact


def write_plan_file(plans: Sequence[PlannedContact], path: str | Path) -> None:
    write_text_atomically(Path(path), "".join(plan_to_json(p) + "\n" for p in plans))


def read_plan_file(path: str | Path) -> list[PlannedContact]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read plan file {path}: {exc.strerror or exc}") from None
    return [plan_from_json(line) for line in lines if line.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m etl.load", description=__doc__.splitlines()[0])
    parser.add_argument("--plan", required=True, help="JSON-lines plan file")
    parser.add_argument("--structure", required=True, help="target contact structure _id")
    parser.add_argument("--state-dir", default=None, help="ledger directory (default $BME_STATE_DIR or .etl)")
    parser.add_argument("--on-existing", choices=("merge", "overwrite", "skip"), default="merge")
    parser.add_argument("--max-requests", type=int, default=None)
    parser.add_argument("--reserve", type=int, default=0)
    parser.add_argument("--backoff-base", type=float, default=0.5, help="seconds; first retry wait")
    args = parser.parse_args(argv)
    try:
        settings = target_from_env(os.environ, state_dir=args.state_dir)
        if settings.base_url is None or settings.api_key is None:
            raise ConfigError(
                "python -m etl.load needs BME_BASE_URL and an API key (no embedded sandbox here)"
            )
        plans = read_plan_file(args.plan)
        run_id = plan_run_id(plans, settings.base_url, args.structure)
        summary = load(
            plans,
            LoadSettings(
                settings.base_url,
                settings.api_key,
                settings.state_dir,
                args.structure,
                run_id,
                on_existing=args.on_existing,
                reserve=args.reserve,
                max_requests=args.max_requests,
            ),
            backoff_base=args.backoff_base,
        )
    except MigrationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(
        json.dumps(
            {
                "run_id": summary.run_id,
                "state": summary.state,
                "rows": summary.rows,
                "requests": summary.requests,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
