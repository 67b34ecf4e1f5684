"""Issue #15 items 1–2: one mailbox written three ways is one person, and a row whose consent cannot be read
never lets the person's other rows decide "subscribed"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from etl.mailbox import ascii_form, mailbox_key
from tests.fixtures.sandbox import client_for, default_structure
from tests.load_support import account_contacts

NFC = "user@m\u00fcller.de"
PUNY = "user@xn--mller-kva.de"
NFD = "user@mu\u0308ller.de"


def test_the_three_spellings_of_one_mailbox_have_one_key() -> None:
    assert mailbox_key(NFC) == mailbox_key(PUNY) == mailbox_key(NFD) == mailbox_key(" User@XN--MLLER-KVA.DE ")
    assert mailbox_key(NFD) == NFC and ascii_form(NFC) == PUNY and ascii_form("a@b.com") is None


def _migrate(run: Any, box: Any, tmp_path: Path, text: str) -> Any:
    src = tmp_path / "export.csv"
    src.write_text(text, encoding="utf-8")
    env = {"BME_BASE_URL": box.url, "BME_API_KEY": box.api_key}
    args = [
        "migrate",
        str(src),
        "--preset",
        "generic",
        "--state-dir",
        str(tmp_path / "s"),
        "--report-dir",
        str(tmp_path / "r"),
    ]
    return run(args, env)


def test_idn_punycode_and_nfd_variants_end_as_one_inactive_contact(
    run, sandbox_factory, tmp_path: Path
) -> None:
    box = sandbox_factory()
    done = _migrate(
        run, box, tmp_path, f"email,status\n{NFC},unsubscribed\n{PUNY},subscribed\n{NFD},subscribed\n"
    )
    assert done.exit_code == 0, done.output
    have = account_contacts(box.app)
    assert list(have) == [NFC] and have[NFC].status == "Inactive"
    doc = json.loads((tmp_path / "r" / "report.json").read_text())
    assert doc["rows"]["read"] == 3 and doc["duplicates"]["rows_merged"] == 2


def test_a_mailbox_the_account_holds_in_punycode_is_found_not_duplicated(
    run, sandbox_factory, tmp_path: Path
) -> None:
    box = sandbox_factory()
    with client_for(box) as http:
        sid = default_structure(http)["_id"]
        r = http.post(
            "/api/contact", json={"key": PUNY, "contactStructureId": sid, "fields": [], "lists": []}
        )
        assert r.status_code in (200, 201), r.text
    done = _migrate(run, box, tmp_path, f"email,status\n{NFD},unsubscribed\n")
    assert done.exit_code == 0, done.output
    have = account_contacts(box.app)
    assert list(have) == [PUNY] and have[PUNY].status == "Inactive"  # the existing contact, unsubscribed


def test_an_unreadable_status_row_holds_the_person_instead_of_their_subscribed_row(
    run, sandbox_factory, tmp_path: Path
) -> None:
    box = sandbox_factory()
    text = (
        "email,status,updated_at\n"
        "ann@example.com,subscribed,2024-01-01\n"
        "ann@example.com,unsubscrbd,2023-01-01\n"  # a typo: nobody can say what it meant
        "bob@example.com,subscribed,2024-01-01\n"
        "cy@example.com,unsubscribed,2024-01-01\n"
        "cy@example.com,unsubscrbd,2023-01-01\n"  # already unsubscribed by the other row: written Inactive
        + "".join(f"p{i}@example.com,subscribed,2024-01-01\n" for i in range(4))  # (most rows still load)
    )
    done = _migrate(run, box, tmp_path, text)
    assert done.exit_code == 0, done.output
    have = account_contacts(box.app)
    statuses = {k: c.status for k, c in have.items()}
    assert "ann@example.com" not in statuses  # held: her typo may be an unsubscribe
    assert statuses["bob@example.com"] == "Active" and statuses["cy@example.com"] == "Inactive"
    doc = json.loads((tmp_path / "r" / "report.json").read_text())
    t = doc["rows"]
    assert t["rejected"] == 3 and t["created"] == 6 and t["read"] == 9
    assert sum(t[k] for k in ("created", "updated", "unchanged", "skipped", "failed", "rejected")) == 9


def test_item13_an_empty_list_name_is_a_usage_error_before_any_request(
    run, sandbox_factory, tmp_path: Path
) -> None:
    box = sandbox_factory()
    src = tmp_path / "export.csv"
    src.write_text("email\nann@example.com\n", encoding="utf-8")
    env = {"BME_BASE_URL": box.url, "BME_API_KEY": box.api_key}
    done = run(["migrate", str(src), "--list", " ", "--state-dir", str(tmp_path / "s")], env)
    assert (
        done.exit_code == 2 and done.err.strip() == "error: --list needs a list name; an empty one was given"
    )
    assert sum(box.app.request_counts().values()) == 0


def test_item6_a_cell_over_the_csv_field_limit_in_the_first_lines_is_read(run, tmp_path: Path) -> None:
    """The stdlib csv's 131,072-character field limit (delimiter sniffing reads the first lines) used to
    end in "unexpected error"; the cell now reaches validate, whose length rule leaves it out of the contact."""
    src = tmp_path / "notes.csv"
    src.write_text(f"Email;Notes\nann@example.com;{'x' * 200_000}\nbob@example.com;short\n", encoding="utf-8")
    done = run(["validate", str(src), "--report-dir", str(tmp_path / "r")])
    assert done.exit_code == 0, done.output
    doc = json.loads((tmp_path / "r" / "report.json").read_text())
    assert doc["rows"]["valid"] == 2 and doc["field_problems"]["cells"] == 1
