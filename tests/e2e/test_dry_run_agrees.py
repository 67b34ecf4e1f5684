"""``migrate --dry-run`` promises the real run's numbers: the same outcome split (contacts and rows) and the
same requests, in total and by endpoint — on every sample, into a fresh account and into one that already
holds half the contacts, under every ``--on-existing`` policy (issue #12 item 7).

Each case runs the real CLI entry point on the real files: the dry run, then the real run with the same
flags against the same (untouched) account, each with its own report dir; a fresh state dir per case.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from etl.load.ledger import Ledger
from etl.pipeline.inputs import read_inputs
from etl.sandbox.knobs import Knobs
from tests.load_support import account_contacts

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
LOADABLE = (
    "mailchimp_audience.zip",
    "constant_contact.csv",
    "brevo_cp1252_semicolon.csv",
    "hubspot.csv",
    "klaviyo.csv",
    "excel_utf16.txt",
    "bom_utf8.csv",
    "quoted_newlines.csv",
    "ragged_rows.csv",
    "duplicate_headers.csv",
    "blank_lines.csv",
    "pipe_delimited.txt",
    "contacts.ndjson",
    "contacts.json",
    "contacts.xlsx",
)
REFUSED = ("empty.csv", "binary.bin", "missing_email_column.csv")
# several sources in one run: the same people in two files (merged across files), two platforms at once
MULTI = (("contacts.json", "contacts.ndjson"), ("hubspot.csv", "excel_utf16.txt"))
PLATFORMS = LOADABLE[:5]
CREATE = ["--create-fields", "--create-lists", "--create-tags"]


def test_every_sample_is_covered() -> None:
    on_disk = {p.name for p in SAMPLES.iterdir() if p.name not in ("README.md", "generate.py")}
    assert on_disk == {*LOADABLE, *REFUSED}


def _rows_line(output: str) -> str:
    found = re.search(r"^rows: .*$", output, re.MULTILINE)
    assert found, output
    return found.group(0)


def _agree(
    run: Any, sources: list[str], tmp: Path, state: Path, env: dict[str, str] | None = None, *flags: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Dry run, then the real run; assert they agree; return (dry plan, real report)."""
    base = ["migrate", *sources, *flags, "--state-dir", str(state)]
    dry = run([*base, "--dry-run", "--report-dir", str(tmp / "dry")], env)
    assert dry.exit_code == 0, dry.output
    real = run([*base, "--no-verify", "--report-dir", str(tmp / "real")], env)
    assert real.exit_code == 0, real.output
    planned = json.loads((tmp / "dry" / "report.json").read_text(encoding="utf-8"))
    done = json.loads((tmp / "real" / "report.json").read_text(encoding="utf-8"))
    plan = planned["dry_run"]
    assert done["state"] == "complete"
    assert planned["rows"] == done["rows"]  # every row's outcome: created … rejected, failed, pending
    assert plan["by_endpoint"] == done["requests"]["by_endpoint"]
    assert plan["total_requests"] == done["requests"]["total"] == sum(plan["requests"].values())
    with Ledger.open(state, readonly=True) as ledger:
        contacts = {k: v for k, v in ledger.run(done["run_id"]).contact_totals().items() if v}
    assert plan["contacts"] == contacts
    assert plan["rows"] == {k: done["rows"][k] for k in plan["rows"]}
    assert _rows_line(dry.output) == _rows_line(real.output)  # the summary block says the same
    return plan, done


@pytest.mark.parametrize("name", LOADABLE)
def test_dry_run_equals_the_real_run_into_a_fresh_account(run, name: str, tmp_path: Path) -> None:
    plan, done = _agree(run, [str(SAMPLES / name)], tmp_path, tmp_path / "state")
    assert plan["requests"]["setup"] >= 1 and plan["contacts"].get("created", 0) > 0


FLAGGED = (
    ("constant_contact.csv", ("--import-unconfirmed",)),  # pending/no-consent rows load as Inactive
    ("klaviyo.csv", ("--list", "Imported 2026")),  # one more list for everyone: one more list POST
    ("mailchimp_audience.zip", ("--on-existing", "skip", "--list", "Imported 2026")),
)


@pytest.mark.parametrize(("name", "flags"), FLAGGED, ids=[f"{n}{' '.join(f)}" for n, f in FLAGGED])
def test_dry_run_equals_the_real_run_with_flags(
    run, name: str, flags: tuple[str, ...], tmp_path: Path
) -> None:
    plan, _ = _agree(run, [str(SAMPLES / name)], tmp_path, tmp_path / "state", None, *flags)
    assert plan["contacts"].get("created", 0) > 0


@pytest.mark.parametrize("names", MULTI, ids=["+".join(m) for m in MULTI])
def test_dry_run_equals_the_real_run_for_several_sources(run, names: tuple[str, ...], tmp_path: Path) -> None:
    plan, done = _agree(run, [str(SAMPLES / n) for n in names], tmp_path, tmp_path / "state")
    assert plan["contacts"].get("created", 0) > 0


@pytest.mark.parametrize("name", REFUSED)
def test_a_refused_sample_is_refused_by_both_alike(run, name: str, tmp_path: Path) -> None:
    base = ["migrate", str(SAMPLES / name), "--state-dir", str(tmp_path / "s")]
    dry = run([*base, "--dry-run", "--report-dir", str(tmp_path / "d")])
    real = run([*base, "--report-dir", str(tmp_path / "r")])
    assert dry.exit_code == real.exit_code == 2
    assert dry.err.strip().splitlines()[-1] == real.err.strip().splitlines()[-1]


# --- an account that already holds half the contacts ------------------------------------------------------
@pytest.fixture
def remote(sandbox_factory, tmp_path: Path):  # type: ignore[no-untyped-def]
    def start(**knobs: Any) -> tuple[Any, dict[str, str]]:
        box = sandbox_factory(knobs=Knobs(hourly_limit=10**6, monthly_limit=10**9, **knobs))
        return box, {"BME_BASE_URL": box.url, "BME_API_KEY": box.api_key}

    return start


def _keys(sources: list[str], tmp: Path) -> list[str]:
    read = read_inputs(sources, preset=None, state_dir=tmp / "keys")
    return sorted(read.validation.canonical.get_column("key").to_list())


def _seed_bare(box: Any, keys: list[str]) -> None:
    """Every other key, as another tool left it: no fields, lists or tags; some spelled in upper case
    (the account keeps the case, our keys are lower-case), some unsubscribed already."""
    with httpx.Client(base_url=box.url, headers={"X-API-Key": box.api_key}, trust_env=False) as http:
        sid = http.get("/api/contact-structure").json()[0]["_id"]
        for i, key in enumerate(keys):
            if i % 2 == 0:
                continue
            body: dict[str, Any] = {"key": key.upper() if i % 4 == 1 else key, "contactStructureId": sid}
            if i % 8 == 7:
                body["status"] = {"primary": "Inactive", "secondary": "Unsubscribe"}
            r = http.post("/api/contact", json=body)
            assert r.status_code in (200, 201), r.text


def _alter_migrated(box: Any) -> None:
    """After a real migration: a third of its contacts deleted, a third replaced by a bare Active contact
    of the same key (fields, lists, tags gone; an unsubscribe undone), a third left as migrated."""
    with httpx.Client(base_url=box.url, headers={"X-API-Key": box.api_key}, trust_env=False) as http:
        sid = http.get("/api/contact-structure").json()[0]["_id"]
        for i, (key, row) in enumerate(sorted(account_contacts(box.app).items())):
            if i % 3 == 2:
                continue
            assert http.delete(f"/api/contact/{row.id}").status_code in (200, 204)
            if i % 3 == 1:
                r = http.post("/api/contact", json={"key": key, "contactStructureId": sid})
                assert r.status_code in (200, 201), r.text


@pytest.mark.parametrize(
    ("name", "policy"),
    [
        *((n, "merge") for n in PLATFORMS),
        ("mailchimp_audience.zip", "skip"),
        ("constant_contact.csv", "overwrite"),
    ],
)
def test_dry_run_equals_the_real_run_into_an_account_holding_half_the_contacts(
    run, remote, name: str, policy: str, tmp_path: Path
) -> None:
    box, env = remote()
    sources = [str(SAMPLES / name)]
    _seed_bare(box, _keys(sources, tmp_path))
    plan, _ = _agree(run, sources, tmp_path, tmp_path / "state", env, *CREATE, "--on-existing", policy)
    assert plan["existing_in_account"] > 0
    assert sum(plan["contacts"].get(k, 0) for k in ("updated", "unchanged", "skipped")) > 0


@pytest.mark.parametrize(
    ("name", "policy"),
    [
        ("mailchimp_audience.zip", "merge"),
        ("constant_contact.csv", "merge"),
        ("brevo_cp1252_semicolon.csv", "skip"),
        ("mailchimp_audience.zip", "overwrite"),
    ],
)
def test_dry_run_equals_the_real_run_after_part_of_a_migration_was_undone(
    run, remote, name: str, policy: str, tmp_path: Path
) -> None:
    box, env = remote()
    sources = [str(SAMPLES / name)]
    first = ["migrate", *sources, *CREATE, "--no-verify", "--state-dir", str(tmp_path / "first")]
    assert run([*first, "--report-dir", str(tmp_path / "first_r")], env).exit_code == 0
    _alter_migrated(box)
    plan, _ = _agree(run, sources, tmp_path, tmp_path / "state", env, *CREATE, "--on-existing", policy)
    assert plan["requests"]["setup"] >= 1 and not plan["would_create"]  # the fields and lists exist now
    assert plan["contacts"].get("created", 0) > 0


@pytest.mark.parametrize(
    ("name", "status", "tags"),
    [
        ("mailchimp_audience.zip", "ignore", "ignore"),
        ("brevo_cp1252_semicolon.csv", "ignore", "accept"),
        ("mailchimp_audience.zip", "reject", "accept"),
    ],
)
def test_an_account_that_ignores_status_or_tags_on_create_costs_what_the_dry_run_says(
    run, remote, name: str, status: str, tags: str, tmp_path: Path
) -> None:
    """The one thing a dry run cannot read from the account: the bill names it (``if_status_ignored``,
    ``if_tags_ignored``), and the real run costs exactly that much more — one more if the account refuses
    a status outright (the first create, sent again without it) — with the same outcomes."""
    box, env = remote(status_on_create=status, tags_on_create=tags)
    sources = [str(SAMPLES / name)]
    base = ["migrate", *sources, *CREATE, "--state-dir", str(tmp_path / "s")]
    assert run([*base, "--dry-run", "--report-dir", str(tmp_path / "d")], env).exit_code == 0
    assert run([*base, "--no-verify", "--report-dir", str(tmp_path / "r")], env).exit_code == 0
    planned = json.loads((tmp_path / "d" / "report.json").read_text(encoding="utf-8"))
    done = json.loads((tmp_path / "r" / "report.json").read_text(encoding="utf-8"))
    plan = planned["dry_run"]
    assert plan["if_status_ignored"] > 0 and (plan["if_tags_ignored"] > 0 or tags == "accept")
    patches = plan["if_status_ignored"]
    puts = plan["if_tags_ignored"] if tags == "ignore" else 0
    refused = 1 if status == "reject" else 0
    assert done["requests"]["total"] == plan["total_requests"] + patches + puts + refused
    expected = Counter(plan["by_endpoint"])
    expected.update(
        {
            "PATCH /api/contact/{contactId}": patches,
            "PUT /api/contact/{contactId}": puts,
            "POST /api/contact": refused,
        }
    )
    assert done["requests"]["by_endpoint"] == {k: v for k, v in expected.items() if v}
    assert planned["rows"] == done["rows"]


@pytest.mark.parametrize(
    "name", ["mailchimp_audience.zip", "constant_contact.csv", "brevo_cp1252_semicolon.csv"]
)
def test_dry_run_equals_the_real_run_when_the_index_is_built_by_batched_key_searches(
    run, remote, name: str, tmp_path: Path
) -> None:
    """A larger account (small pages: paging it costs more than searching our keys) is indexed by batched
    key searches, whose price counts the export's raw spellings too: the dry run searches what the real run
    searches. In the account as the export spelled them: every other contact, and every contact whose
    spelling is not its lower-cased key (the server's key match is case-sensitive: only that spelling
    finds it)."""
    box, env = remote(max_page_size=10)
    sources = [str(SAMPLES / name)]
    read = read_inputs(sources, preset=None, state_dir=tmp_path / "keys")
    spelled = sorted(read.validation.canonical.select("key", "email_raw").iter_rows())
    with httpx.Client(base_url=box.url, headers={"X-API-Key": box.api_key}, trust_env=False) as http:
        sid = http.get("/api/contact-structure").json()[0]["_id"]
        others = [f"someone{i}@example.net" for i in range(40)]
        seeded = [
            (raw or key).strip()
            for i, (key, raw) in enumerate(spelled)
            if i % 2 or (raw or key).strip() != key
        ]
        for key in [*others, *seeded]:
            r = http.post("/api/contact", json={"key": key, "contactStructureId": sid})
            assert r.status_code in (200, 201), r.text
    plan, _ = _agree(run, sources, tmp_path, tmp_path / "state", env, *CREATE)
    assert plan["index_strategy"] == "batched" and plan["existing_in_account"] > 40
    assert plan["contacts"].get("updated", 0) > 0  # found by the batched searches
