"""Only migrate migrates: every other command says what it does with the embedded sandbox (issue 14)."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import Run
from tests.load_support import people_csv


def test_undo_apply_and_the_read_only_commands_never_say_migrating(run: Run, tmp_path: Path) -> None:
    csv = people_csv(tmp_path, 3, company=True)
    state = ["--state-dir", str(tmp_path / "state")]
    reports = ["--report-dir", str(tmp_path / "r")]
    migrated = run(["migrate", str(csv), *state, *reports], {})
    assert migrated.exit_code == 0, migrated.output
    assert "migrating into the embedded local sandbox" in migrated.output
    said = {
        "undoing a run in the embedded local sandbox": ["undo", "latest", *state, *reports, "--yes"],
        "planning an undo (read-only) against the embedded local sandbox": [
            "undo",
            "latest",
            *state,
            *reports,
        ],
        "creating fields, lists and tags in the embedded local sandbox": [
            "mappings",
            "apply",
            str(csv),
            *state,
            "--list",
            "Imported",
            "--create-lists",
        ],
        "planning against the embedded local sandbox": ["mappings", "plan", str(csv), *state],
    }
    quiet = {
        "status": ["status", *state],
        "validate": ["validate", str(csv), *reports],
        "detect": ["mappings", "detect", str(csv)],
    }
    for words, args in [*said.items(), *((None, args) for args in quiet.values())]:
        result = run(args, {})
        assert result.exit_code == 0, (args, result.output)
        assert words is None or words in result.output, (args, result.output)
        assert "migrating" not in result.output.lower(), (args, result.output)
