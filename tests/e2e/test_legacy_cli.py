"""A legacy platform's API as the SOURCE of ``validate`` and ``migrate``: real HTTP on loopback to the
legacy emulator (the source) and a sandbox (the target, addressed like a real account via env vars)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from etl.model import BME_INACTIVE, BME_UNSUBSCRIBE
from tests.e2e.conftest import Run
from tests.load_support import account_contacts


@pytest.fixture
def target(sandbox) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """A non-embedded target: the CLI sees it exactly as it would see a Benchmark account."""
    return {"BME_BASE_URL": sandbox.url, "BME_API_KEY": sandbox.api_key}


def _source(url: str) -> str:
    return "legacy+" + url


def test_migrate_from_the_legacy_api_verifies_clean_and_a_rerun_sends_and_reads_nothing(
    run: Run, legacy_api_factory, sandbox, target: dict[str, str], tmp_path: Path
) -> None:
    legacy = legacy_api_factory(contacts=450)  # three pages of 200
    env = {**target, "LEGACY_API_TOKEN": legacy.token}
    args = [
        "migrate",
        _source(legacy.url),
        "--state-dir",
        str(tmp_path / "s"),
        "--report-dir",
        str(tmp_path / "r"),
        "--create-fields",
        "--create-lists",
        "--create-tags",
    ]
    first = run(args, env)
    assert first.exit_code == 0, first.output
    # not a TTY, and faster than the heartbeat's minute: no line; the events say how the listing went
    assert "extract: " not in first.err
    extract = [
        json.loads(line)
        for line in (tmp_path / "s" / "events.jsonl").read_text(encoding="utf-8").splitlines()
        if '"phase":"extract"' in line
    ]
    assert [(e["done"], e["total"]) for e in extract] == [(200, 450), (450, 450)] and extract[-1]["final"]
    assert "state:     complete" in first.output and "verify:    clean" in first.output
    doc = json.loads((tmp_path / "r" / "report.json").read_text())
    t = doc["rows"]
    assert t["read"] == 450 and t["pending"] == 0 and t["failed"] == 0
    assert doc["platform"] == "legacy_api"
    assert len(account_contacts(sandbox.app)) == t["created"] > 0
    verified = json.loads((tmp_path / "r" / "verify.json").read_text())
    assert verified["run_id"] == doc["run_id"] and not verified["mismatches"]
    assert legacy.token not in first.output
    for path in (tmp_path / "s").rglob("*"):
        if path.is_file():
            assert legacy.token.encode() not in path.read_bytes(), path

    pages_read = len(legacy.app.served_list_offsets())
    writes = sum(n for ep, n in sandbox.app.request_counts().items() if not ep.startswith("GET"))
    again = run(args, env)
    assert again.exit_code == 0, again.output
    assert f"── run {doc['run_id']}" in again.output  # the same run: the snapshot pins the content
    assert "already complete — nothing to send" in again.output and "requests:  0 this time" in again.output
    assert "legacy API" not in again.output
    assert len(legacy.app.served_list_offsets()) == pages_read  # no page re-read
    assert sum(n for ep, n in sandbox.app.request_counts().items() if not ep.startswith("GET")) == writes


def test_status_filter_and_fresh_extraction(
    run: Run, legacy_api_factory, target: dict[str, str], tmp_path: Path
) -> None:
    legacy = legacy_api_factory(contacts=70)
    env = {**target, "LEGACY_API_TOKEN": legacy.token}
    args = ["validate", _source(legacy.url), "--legacy-status", "unsubscribed", "--state-dir", str(tmp_path)]
    first = run([*args, "--report-dir", str(tmp_path / "r1")], env)
    assert first.exit_code == 0, first.output
    unsubscribed = sum(c["status"] == "unsubscribed" for c in legacy.app.contacts())
    doc = json.loads((tmp_path / "r1" / "report.json").read_text())
    assert doc["rows"]["read"] == unsubscribed > 0
    assert {r.query.get("status") for r in legacy.app.requests} == {"unsubscribed"}
    served = len(legacy.app.served_list_offsets())
    run([*args, "--report-dir", str(tmp_path / "r2")], env)
    assert len(legacy.app.served_list_offsets()) == served  # from the snapshot
    fresh = run([*args, "--legacy-fresh", "--report-dir", str(tmp_path / "r3")], env)
    assert fresh.exit_code == 0 and "legacy API: read contacts 1–" in fresh.output
    assert len(legacy.app.served_list_offsets()) > served


def _one_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    return lines[0]


def test_a_wrong_legacy_token_exits_4_with_one_line(
    run: Run, legacy_api_factory, target: dict[str, str], tmp_path: Path
) -> None:
    legacy = legacy_api_factory(contacts=5)
    env = {**target, "LEGACY_API_TOKEN": "not-the-token"}
    result = run(["migrate", _source(legacy.url), "--state-dir", str(tmp_path / "s")], env)
    assert result.exit_code == 4, result.output
    line = _one_line(result.output)
    assert line.startswith("error: ") and "legacy API rejected the token" in line
    assert "not-the-token" not in line


def test_a_missing_legacy_token_exits_2_with_one_line(
    run: Run, legacy_api_factory, target: dict[str, str], tmp_path: Path
) -> None:
    legacy = legacy_api_factory(contacts=5)
    for command in ("migrate", "validate"):
        result = run([command, _source(legacy.url), "--state-dir", str(tmp_path / "s")], target)
        assert result.exit_code == 2, result.output
        assert "LEGACY_API_TOKEN" in _one_line(result.output)
    assert legacy.app.requests == []


def test_mixing_the_api_with_files_and_misplaced_legacy_flags_are_refused(
    run: Run, legacy_api_factory, target: dict[str, str], tmp_path: Path
) -> None:
    legacy = legacy_api_factory(contacts=5)
    csv = tmp_path / "a.csv"
    csv.write_text("Email\na@example.com\n", encoding="utf-8")
    env = {**target, "LEGACY_API_TOKEN": legacy.token}
    mixed = run(["migrate", _source(legacy.url), str(csv), "--state-dir", str(tmp_path / "s")], env)
    assert mixed.exit_code == 2 and "only SOURCE of a run" in _one_line(mixed.output)
    misplaced = run(["validate", str(csv), "--legacy-status", "subscribed"], env)
    assert misplaced.exit_code == 2 and "legacy+https://" in _one_line(misplaced.output)
    cleartext = run(["validate", "legacy+http://legacy.example.com"], env)
    assert cleartext.exit_code == 2 and re.search(r"loopback", _one_line(cleartext.output))
    assert legacy.app.requests == []


def test_a_dry_run_extracts_once_and_the_migration_reuses_its_snapshot(
    run: Run, legacy_api_factory, sandbox, target: dict[str, str], tmp_path: Path
) -> None:
    legacy = legacy_api_factory(contacts=30)
    env = {**target, "LEGACY_API_TOKEN": legacy.token}
    args = ["migrate", _source(legacy.url), "--create-fields", "--state-dir", str(tmp_path / "s")]
    dry = run([*args, "--dry-run", "--report-dir", str(tmp_path / "r")], env)
    assert dry.exit_code == 0, dry.output
    assert "dry run — nothing was written" in dry.output and account_contacts(sandbox.app) == {}
    served = len(legacy.app.served_list_offsets())
    real = run([*args, "--no-verify", "--report-dir", str(tmp_path / "r")], env)
    assert real.exit_code == 0, real.output
    assert len(legacy.app.served_list_offsets()) == served
    dry_id = re.search(r"── run (\w+)", dry.output)
    assert dry_id and f"── run {dry_id.group(1)}" in real.output  # the dry run priced this very run


def _migrate(run: Run, legacy, target: dict[str, str], tmp_path: Path, *extra: str) -> tuple[str, dict]:  # type: ignore[no-untyped-def]
    env = {**target, "LEGACY_API_TOKEN": legacy.token}
    args = ["migrate", _source(legacy.url), "--create-fields", "--state-dir", str(tmp_path / "s"), *extra]
    result = run([*args, "--report-dir", str(tmp_path / "r")], env)
    assert result.exit_code == 0, result.output
    assert "state:     complete" in result.output and "verify:    clean" in result.output
    return result.output, json.loads((tmp_path / "r" / "report.json").read_text())


def _one_contact_each(sandbox, contacts: list[dict]) -> dict:  # type: ignore[no-untyped-def]
    """Every one of ``contacts`` is in the account exactly once (and nobody else is)."""
    have = account_contacts(sandbox.app)
    assert set(have) == {c["email"].lower() for c in contacts}
    assert not [k for k, c in have.items() if isinstance(c, list)]
    return have


def test_case_variant_entries_become_one_inactive_contact_and_the_merge_is_reported(
    run: Run, legacy_api_factory, sandbox, target: dict[str, str], tmp_path: Path
) -> None:
    legacy = legacy_api_factory(contacts=40)
    older = legacy.app.contacts()[13]  # every 7th seeded contact is unsubscribed
    assert older["status"] == "unsubscribed"
    newer = legacy.app.add_case_variant(older["id"], status="subscribed", listed_first=True)
    _, doc = _migrate(run, legacy, target, tmp_path)
    t = doc["rows"]
    assert (t["read"], t["valid"], t["merged_duplicate"]) == (41, 40, 1)
    assert t["read"] == t["valid"] + t["rejected"] + t["merged_duplicate"]
    (group,) = doc["duplicates"]["sample"]
    assert (group["key"], group["rows"], group["status"]) == (older["email"].lower(), 2, "unsubscribed")
    assert {m["status"] for m in group["members"]} == {"subscribed", "unsubscribed"}
    have = _one_contact_each(sandbox, legacy.app.contacts())
    person = have[older["email"].lower()]
    assert (person.status, person.secondary) == (BME_INACTIVE, BME_UNSUBSCRIBE)
    values = [value for _, value in person.fields]
    assert newer["id"] in values and older["id"] not in values  # the newer entry won the fields


@pytest.mark.parametrize("before, after", [("subscribed", "unsubscribed"), ("unsubscribed", "subscribed")])
def test_a_status_change_while_paging_ends_inactive_with_nobody_skipped(
    run: Run, legacy_api_factory, sandbox, target: dict[str, str], tmp_path: Path, before: str, after: str
) -> None:
    legacy = legacy_api_factory(contacts=450)
    contacts = legacy.app.contacts()
    mover = next(c for c in contacts[100:200] if c["status"] == before)
    legacy.app.move_after_page(0, mover["id"], status=after)  # listed on page 1 and again at the end
    output, doc = _migrate(run, legacy, target, tmp_path)
    assert "warning: the listing changed while it was paged (1 contact(s) listed twice)" in output
    t = doc["rows"]
    # 450 + the mover's second entry + contacts[200] (skipped by the first read, found by the second)
    assert (t["read"], t["valid"], t["merged_duplicate"], t["failed"]) == (451, 450, 1, 0)
    assert t["read"] == t["valid"] + t["rejected"] + t["merged_duplicate"]
    assert doc["duplicates"]["groups"] == 1 and doc["duplicates"]["sample"][0]["status"] == "unsubscribed"
    have = _one_contact_each(sandbox, legacy.app.contacts())
    person = have[mover["email"].lower()]
    assert (person.status, person.secondary) == (BME_INACTIVE, BME_UNSUBSCRIBE)
    assert have[contacts[200]["email"].lower()].status == "Active"


def test_a_contact_unsubscribing_during_a_subscribed_only_run_ends_inactive(
    run: Run, legacy_api_factory, sandbox, target: dict[str, str], tmp_path: Path
) -> None:
    legacy = legacy_api_factory(contacts=450)
    subscribed = [c for c in legacy.app.contacts() if c["status"] == "subscribed"]
    leaver = subscribed[100]
    legacy.app.move_after_page(0, leaver["id"], status="unsubscribed")  # leaves the filtered listing
    output, doc = _migrate(run, legacy, target, tmp_path, "--legacy-status", "subscribed")
    assert "looked up by id" in output
    t = doc["rows"]
    assert (t["valid"], t["merged_duplicate"], t["failed"]) == (len(subscribed), 1, 0)
    (group,) = doc["duplicates"]["sample"]  # the look-up's answer is the latest entry: it is kept
    assert (
        group["kept"] == f"{legacy.url}/api/v1/contacts/{leaver['id']}:1"
        and group["status"] == "unsubscribed"
    )
    assert t["read"] == t["valid"] + t["rejected"] + t["merged_duplicate"]
    have = _one_contact_each(sandbox, subscribed)
    assert (have[leaver["email"].lower()].status, have[leaver["email"].lower()].secondary) == (
        BME_INACTIVE,
        BME_UNSUBSCRIBE,
    )
    assert sum(c.status == BME_INACTIVE for c in have.values()) == 1
