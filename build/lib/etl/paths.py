"""Where a run keeps its state and writes its reports: resolved here, and nowhere else.

The state dir (ledger, lock, embedded sandbox, legacy snapshots) is ``--state-dir``, else
``$BME_STATE_DIR``, else ``.etl``; a run's report dir is ``--report-dir``, else ``reports/<run name>``.
Every command and the pipeline ask these functions, so a default cannot differ between two of them.
The environment is passed in (the CLI passes ``os.environ``): nothing below the edge reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

ENV_STATE_DIR = "BME_STATE_DIR"
DEFAULT_STATE_DIR = ".etl"
DEFAULT_REPORTS = "reports"


def state_dir(explicit: str | Path | None, env: Mapping[str, str]) -> Path:
    """``--state-dir`` if given, else ``$BME_STATE_DIR``, else ``.etl`` (an empty value counts as unset)."""
    return Path(explicit or env.get(ENV_STATE_DIR) or DEFAULT_STATE_DIR)


def reports_root(explicit: Path | None) -> Path:
    """The dir a run's report dir is made in (``--report-dir`` itself when given): what must be writable
    before the run's name is known."""
    return explicit or Path(DEFAULT_REPORTS)


def report_dir(explicit: Path | None, run_name: str) -> Path:
    """``--report-dir`` if given, else ``reports/<run_name>`` (a run id, or ``validate-<time>``)."""
    return explicit or Path(DEFAULT_REPORTS) / run_name
