"""A refused key and a missing scope, end to end: the real entry point against the sandbox over HTTP.

Each refusal must be one ``error:`` line saying which check failed — the key itself (401: unknown,
revoked, expired; named by where it came from) or a scope the valid key lacks (which one, and what the
command was doing) — exit 4, no traceback, and never the key. The sandbox acts out both readings of a
missing scope (403 as documented, and 401 naming the scope: the ``missing_scope_status`` knob).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from etl.sandbox.knobs import ALL_SCOPES, Knobs
from etl.sandbox.server import LocalSandbox
from tests.e2e.conftest import Result, Run
from tests.load_support import people_csv

FULL = "bme_us_everything_5d2c8e0a4f6b1d3cEFGH"
READ_ONLY = "bme_us_readonly_4f9c2a7e1b3d5c6aWXYZ"  # contacts:read only
NO_CONTACTS = "bme_us_campaigns_8e1d3f5a7c9b2e4dQRST"  # campaigns:read: no contacts scope at all
UNKNOWN = "bme_us_unknown_0a1b2c3d4e5f6a7bLMNO"  # registered nowhere
KEYS = (FULL, READ_ONLY, NO_CONTACTS, UNKNOWN)
COMMANDS = ("migrate", "verify", "mappings plan", "undo")


def _box(sandbox_factory, missing_scope_status: int = 403) -> LocalSandbox:  # type: ignore[no-untyped-def]
    keys = {FULL: sorted(ALL_SCOPES), READ_ONLY: ["contacts:read"], NO_CONTACTS: ["campaigns:read"]}
    knobs = Knobs(
        api_keys=keys,
        missing_scope_status=missing_scope_status,
        hourly_limit=10**6,
        monthly_limit=10**9,
    )
    box: LocalSandbox = sandbox_factory(knobs)
    return box


def _env(box: LocalSandbox, key: str) -> dict[str, str]:
    return {"BME_BASE_URL": box.url, "BME_API_KEY": key}


def _migrated(run: Run, box: LocalSandbox, tmp_path: Path) -> tuple[Path, list[str]]:
    """A complete run of three people, made with the all-scopes key: ``(csv, --state-dir args)``."""
    csv = people_csv(tmp_path, 3)
    state = ["--state-dir", str(tmp_path / "state")]
    done = run(["migrate", str(csv), *state, "--report-dir", str(tmp_path / "r")], _env(box, FULL))
    assert done.exit_code == 0, done.output
    return csv, state


def _args(command: str, csv: Path, state: list[str], tmp_path: Path) -> list[str]:
    """``command``'s invocation against the run ``_migrated`` made (migrate: a new state dir, so it sends)."""
    return {
        "migrate": ["migrate", str(csv), "--state-dir", str(tmp_path / "fresh")],
        "verify": ["verify", *state, "--report-dir", str(tmp_path / "v")],
        "mappings plan": ["mappings", "plan", str(csv), *state],
        "undo": ["undo", "latest", *state, "--report-dir", str(tmp_path / "u")],
    }[command]


def _refused(result: Result, tmp_path: Path) -> str:
    """The one ``error:`` line of a command that ended in exit 4, with no traceback and no key anywhere."""
    assert result.exit_code == 4, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.err
    for key in KEYS:
        assert key not in result.output
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(key.encode() in data for key in KEYS), path
    return errors[0]


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unknown_key_is_named_refused_by_where_it_came_from(
    run: Run, sandbox_factory, tmp_path: Path, command: str
) -> None:
    box = _box(sandbox_factory)
    csv, state = _migrated(run, box, tmp_path)
    line = _refused(run(_args(command, csv, state, tmp_path), _env(box, UNKNOWN)), tmp_path)
    assert f"the API key from BME_API_KEY (ending …LMNO) was refused at {box.url}" in line, line
    assert "401 UnauthorizedError: Invalid API key" in line and "the account does not know it" in line, line
    assert "scope" not in line, line  # a refused key is not a scope problem


def test_a_refused_key_from_a_file_names_the_file_option(run: Run, sandbox_factory, tmp_path: Path) -> None:
    box = _box(sandbox_factory)
    key_file = tmp_path / "key.txt"
    key_file.write_text(UNKNOWN + "\n")
    csv = people_csv(tmp_path, 2)
    result = run(
        ["migrate", str(csv), "--state-dir", str(tmp_path / "s"), "--api-key-file", str(key_file)],
        {"BME_BASE_URL": box.url},
    )
    key_file.unlink()  # the key file holds the key by design: everything else must not
    line = _refused(result, tmp_path)
    assert "the API key from the file given by --api-key-file (ending …LMNO) was refused" in line, line
    by_env = run(
        ["mappings", "plan", str(csv), "--state-dir", str(tmp_path / "s")],
        {"BME_BASE_URL": box.url, "BME_API_KEY_FILE": str(_write(tmp_path / "k2.txt", UNKNOWN))},
    )
    (tmp_path / "k2.txt").unlink()
    assert "the API key from the file named by BME_API_KEY_FILE (ending …LMNO)" in _refused(by_env, tmp_path)


def _write(path: Path, text: str) -> Path:
    path.write_text(text + "\n")
    return path


READS = {
    "migrate": "reading the contact structures",
    "verify": "searching contacts",
    "mappings plan": "reading the contact structures",
    "undo": "searching contacts",
}


@pytest.mark.parametrize("status", [403, 401], ids=["403-as-documented", "401-naming-the-scope"])
@pytest.mark.parametrize("command", COMMANDS)
def test_a_missing_read_scope_names_it_and_what_was_being_read(
    run: Run, sandbox_factory, tmp_path: Path, command: str, status: int
) -> None:
    box = _box(sandbox_factory, status)
    csv, state = _migrated(run, box, tmp_path)
    line = _refused(run(_args(command, csv, state, tmp_path), _env(box, NO_CONTACTS)), tmp_path)
    assert "the API key from BME_API_KEY (ending …QRST) is valid but lacks the contacts:read scope" in line
    assert f"which {READS[command]} needs" in line, line
    assert f"({status} " in line and "add contacts:read to the key under Settings > API Keys" in line, line
    assert "was refused" not in line, line  # the key itself was fine


@pytest.mark.parametrize("status", [403, 401], ids=["403-as-documented", "401-naming-the-scope"])
def test_a_missing_write_scope_at_resolution_and_at_the_first_write(
    run: Run, sandbox_factory, tmp_path: Path, status: int
) -> None:
    """A read-only key: plan and verify work; migrate stops creating a field (resolution) or the first
    contact (the load); mappings apply and undo --yes stop at their first write. Each names contacts:write."""
    box = _box(sandbox_factory, status)
    csv, state = _migrated(run, box, tmp_path)
    ro = _env(box, READ_ONLY)
    for sub in ("co", "more"):
        (tmp_path / sub).mkdir()
    with_company = people_csv(tmp_path / "co", 2, company=True)  # Company is not in the account
    more = people_csv(tmp_path / "more", 4)  # every field exists: the first request that writes is a create

    def stops(args: list[str], action: str) -> None:
        line = _refused(run(args, ro), tmp_path)
        assert "(ending …WXYZ) is valid but lacks the contacts:write scope" in line, line
        assert f"which {action} needs" in line and f"({status} " in line, line

    fresh = ["--state-dir", str(tmp_path / "fresh")]
    stops(
        ["migrate", str(with_company), *fresh, "--create-fields"],
        "adding fields or tags to the contact structure",
    )
    stops(["migrate", str(more), "--state-dir", str(tmp_path / "f2")], "creating contacts")
    stops(
        ["mappings", "apply", str(with_company), *state, "--create-fields"],
        "adding fields or tags to the contact structure",
    )
    stops(["undo", "latest", *state, "--yes", "--report-dir", str(tmp_path / "u")], "deleting contacts")
    planned = run(["mappings", "plan", str(with_company), *state, "--create-fields"], ro)
    assert planned.exit_code == 0, planned.output  # a plan only reads: a read-only key is enough
    checked = run(["verify", *state, "--report-dir", str(tmp_path / "v")], ro)
    assert checked.exit_code == 0, checked.output


def test_an_expired_key_says_so(run: Run, sandbox_factory, tmp_path: Path) -> None:
    box = sandbox_factory(Knobs(api_keys={FULL: {"scopes": ["contacts:write"], "expires_at": 1.0}}))
    csv = people_csv(tmp_path, 2)
    line = _refused(
        run(["mappings", "plan", str(csv), "--state-dir", str(tmp_path / "s")], _env(box, FULL)), tmp_path
    )
    assert "the API key from BME_API_KEY (ending …EFGH) was refused" in line, line
    assert "(401 UnauthorizedError: API key expired): it has expired; create a new key under" in line, line
