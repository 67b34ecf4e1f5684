"""``bme-migrate mappings …`` through click (CliRunner) and, for exit codes, the installed entry point."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from etl.cli import cli
from etl.errors import InputError
from etl.presets.preset import preset_names
from tests.unit.test_mapping_exports import EXPORTS

BIN = Path(sys.executable).with_name("bme-migrate")


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, ["mappings", *args], env=env, catch_exceptions=True)


def mailchimp_zip(tmp_path: Path) -> Path:
    z = tmp_path / "audience.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for name, text in EXPORTS["mailchimp"].files.items():
            zf.writestr(name, text)
    return z


def test_list_names_every_preset() -> None:
    r = invoke("list", "--json")
    assert r.exit_code == 0
    assert [p["name"] for p in json.loads(r.output)["presets"]] == preset_names()
    text = invoke("list").output
    assert all(n in text for n in preset_names())


def test_show_prints_columns_status_tags_lists_and_ignored() -> None:
    r = invoke("show", "mailchimp")
    assert r.exit_code == 0, r.output
    out = r.output
    assert "Email Address" in out and "key (email)" in out
    assert "First Name [firstName]" in out and "OPTIN_TIME" in out
    assert "file name starting 'unsubscribed' → unsubscribed" in out
    assert "flag UNSUB_TIME: when non-empty → unsubscribed" in out
    assert "tags: TAGS (mailchimp)" in out and "every contact joins 'Mailchimp audience'" in out
    assert "ignored: EMAIL_TYPE, MEMBER_RATING" in out


def test_show_a_user_mapping_that_extends_a_preset(tmp_path: Path) -> None:
    f = tmp_path / "mine.toml"
    f.write_text(
        'extends = "mailchimp"\n[[fields]]\nsource = ["Favourite Colour"]\ntarget = "Colour"\n'
        '[lists]\nmode = "fixed"\nname = "Spring import"\n',
        encoding="utf-8",
    )
    out = invoke("show", str(f)).output
    assert "mine: Mailchimp audience export (extends mailchimp)" in out
    assert "Favourite Colour" in out and "OPTIN_TIME" in out and "'Spring import'" in out


def test_detect_a_mailchimp_zip_as_json(tmp_path: Path) -> None:
    r = invoke("detect", str(mailchimp_zip(tmp_path)), "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert list(doc) == ["schema", "version", "platform", "confidence", "evidence"]
    assert doc["platform"] == "mailchimp" and 0.5 < doc["confidence"] <= 1
    assert any("MEMBER_RATING" in e for e in doc["evidence"])
    assert any("subscribed_*.csv" in e or "cleaned_*.csv" in e for e in doc["evidence"])


def test_detect_text_output_and_generic(tmp_path: Path) -> None:
    f = tmp_path / "people.csv"
    f.write_text("\ufeffemail;Vorname;Lieblingsfarbe\r\na@example.com;Ann;blau\r\n", encoding="utf-8")
    r = invoke("detect", str(f))
    assert r.exit_code == 0
    assert r.output.startswith(
        "platform: generic\nconfidence: 0.00 (closest preset; 0.50 needed to apply one)\n"
    )
    assert (
        "\nnote: no preset above 50%; closest: " in r.output and "pick one with --preset NAME\n" in r.output
    )
    assert "evidence:\n  - " in r.output


def test_detect_missing_file_is_an_input_error(tmp_path: Path) -> None:
    r = invoke("detect", str(tmp_path / "nope.csv"))
    assert isinstance(r.exception, InputError) and "nope.csv: no such file" in str(r.exception)


@pytest.fixture
def target_env(sandbox, tmp_path: Path) -> dict[str, str]:
    return {
        "BME_API_KEY": sandbox.api_key,
        "BME_BASE_URL": sandbox.url,
        "BME_STATE_DIR": str(tmp_path / "st"),
    }


def write(tmp_path: Path, platform: str) -> list[str]:
    paths = []
    for name, text in EXPORTS[platform].files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        paths.append(str(p))
    return paths


def test_apply_creates_and_shows_every_route(tmp_path: Path, target_env, sandbox) -> None:
    paths = write(tmp_path, "klaviyo")
    r = invoke(
        "apply",
        *paths,
        "--create-fields",
        "--create-lists",
        "--create-tags",
        "--list",
        "Migrated",
        env=target_env,
    )
    assert r.exit_code == 0, r.output
    assert "preset: klaviyo" in r.output
    assert "Klaviyo ID" in r.output and "field 'Klaviyo ID' (" in r.output
    assert "list 'Migrated' →" in r.output and "(created)" in r.output
    assert "contacts: 2 to write (1 Active, 1 Inactive), 1 row(s) skipped" in r.output
    labels = {f["label"] for f in sandbox.app.store.structures()[0].fields}
    assert {"Klaviyo ID", "Company", "Created Date"} <= labels
    again = invoke("plan", *paths, "--list", "Migrated", "--import-unconfirmed", env=target_env)
    assert again.exit_code == 0, again.output  # everything exists now: no flag needed
    assert "contacts: 3 to write (1 Active, 2 Inactive), 0 row(s) skipped" in again.output
    assert "(created)" not in again.output


WRITES = {"PUT", "POST", "PATCH", "DELETE"}


def _writes(sandbox) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Requests that reached the sandbox and could change it (a search is a POST that only reads)."""
    return {
        route: n
        for route, n in sandbox.app.request_counts().items()
        if route.split(" ")[0] in WRITES and route != "POST /api/contact/search"
    }


def test_plan_never_writes_and_apply_creates_once(tmp_path: Path, target_env, sandbox) -> None:
    """`plan --create-*` shows what would be created and sends only reads; `apply` creates it and says
    what; a second apply creates nothing."""
    paths = write(tmp_path, "klaviyo")
    flags = ["--create-fields", "--create-lists", "--create-tags", "--list", "Migrated"]
    before = {f["label"] for f in sandbox.app.store.structures()[0].fields}
    planned = invoke("plan", *paths, *flags, env=target_env)
    assert planned.exit_code == 0, planned.output
    sent = sandbox.app.request_counts()
    assert sent and all(r.startswith("GET ") or r == "POST /api/contact/search" for r in sent), sent
    assert {f["label"] for f in sandbox.app.store.structures()[0].fields} == before
    assert "list 'Migrated' → not in the account (would be created)" in planned.output
    assert "→ field 'Klaviyo ID' (text)  [field would be created]" in planned.output
    assert "plan only, nothing was written: would create 11 fields ('Klaviyo ID', " in planned.output
    assert "2 lists ('List Export 2022-08-15', 'Migrated'), 2 tags ('wholesale', 'vip')" in planned.output
    assert "`bme-migrate mappings apply`" in planned.output
    assert "(created)" not in planned.output
    as_json = json.loads(invoke("plan", *paths, *flags, "--json", env=target_env).output)
    migrated = next(x for x in as_json["lists"] if x["name"] == "Migrated")
    assert migrated["would_create"] and migrated["_id"] is None and not migrated["created"]
    assert _writes(sandbox) == {}

    applied = invoke("apply", *paths, *flags, env=target_env)
    assert applied.exit_code == 0, applied.output
    assert "\ncreated 11 fields ('Klaviyo ID', " in applied.output
    assert "2 lists ('List Export 2022-08-15', 'Migrated'), 2 tags ('wholesale', 'vip')" in applied.output
    assert _writes(sandbox) == {  # one structure PUT for every field and tag, one POST per list
        "PUT /api/contact-structure/{contactStructureId}": 1,
        "POST /api/contact-structure/{contactStructureId}/lists": 2,
    }
    assert {"Klaviyo ID", "Company", "Created Date"} <= {
        f["label"] for f in sandbox.app.store.structures()[0].fields
    }
    sandbox.app.reset_counts()
    again = invoke("apply", *paths, *flags, env=target_env)
    assert again.exit_code == 0, again.output
    assert "nothing created: every field, list and tag it needs was already in the account" in again.output
    assert _writes(sandbox) == {} and "(created)" not in again.output
    replanned = invoke("plan", *paths, *flags, env=target_env)
    assert "plan only, nothing was written: every field, list and tag it needs is already" in replanned.output


def test_plan_json_is_the_report_section(tmp_path: Path, target_env) -> None:
    paths = write(tmp_path, "hubspot")
    r = invoke("plan", *paths, "--create-fields", "--json", env=target_env)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["preset"] == "hubspot" and doc["structure"]["label"]
    kinds = {c["source"]: c["kind"] for c in doc["columns"]}
    assert kinds["Email"] == "email" and kinds["Unsubscribed from all email"] == "status_flag"
    assert kinds["Contact owner"] == "ignored"


def test_plan_offline_makes_no_request(tmp_path: Path) -> None:
    paths = write(tmp_path, "sendgrid")
    r = invoke("plan", *paths, "--offline", env={"BME_STATE_DIR": str(tmp_path / "st")})
    assert r.exit_code == 0, r.output
    assert "preset: sendgrid" in r.output and "contact structure" not in r.output
    assert not (tmp_path / "st").exists()  # no embedded sandbox was started


def test_missing_targets_exit_2_with_one_line(tmp_path: Path, target_env) -> None:
    paths = write(tmp_path, "kit")
    env = {k: v for k, v in target_env.items()}
    p = subprocess.run(
        [str(BIN), "mappings", "plan", *paths], capture_output=True, text=True, env=env, timeout=60
    )
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: fields not in the account: ")
    assert "--create-fields" in lines[0] and "--create-tags" in lines[0] and "nothing was written" in lines[0]
    assert lines[0].endswith(
        "; in `mappings plan` those flags show what would be created, and `mappings apply` (or `migrate`) "
        "with them creates it"
    )


def test_plan_with_a_user_mapping_and_a_preset_override(tmp_path: Path) -> None:
    paths = write(tmp_path, "kit")
    mine = tmp_path / "mine.toml"
    mine.write_text('extends = "kit"\nignore = ["city", "state", "country"]\n', encoding="utf-8")
    r = invoke(
        "plan", *paths, "--mapping", str(mine), "--offline", env={"BME_STATE_DIR": str(tmp_path / "st")}
    )
    assert r.exit_code == 0, r.output
    assert (
        "preset: mine" in r.output and "city" in r.output and "listed in the mine preset's ignore" in r.output
    )
    forced = invoke(
        "plan", *paths, "--preset", "generic", "--offline", env={"BME_STATE_DIR": str(tmp_path / "st")}
    )
    assert forced.exit_code == 0 and "preset: generic" in forced.output
    both = invoke("plan", *paths, "--preset", "kit", "--mapping", str(mine), "--offline")
    assert "either --preset or --mapping" in str(both.exception)
    unknown = invoke("plan", *paths, "--preset", "nope", "--offline")
    assert "unknown preset 'nope'" in str(unknown.exception)
