"""``migrate`` reads the account by export when it can, and says what reading costs (dry run and report).

Over real HTTP against a sandbox holding 1,000 of the contacts: the dry run and the report name the read
strategy with its price next to the alternatives'; an unusable export is said once on stderr and once in
events.jsonl, and the next run of the same state dir does not probe it again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from etl.sandbox.knobs import Knobs
from etl.sandbox.rows import ContactRow, iso
from tests.e2e.test_report_schemas import _checked
from tests.load_support import people_csv

N = 1000
EXPORT = "POST /api/contact/export"


def _remote(sandbox_factory: Any, **knobs: Any) -> tuple[Any, dict[str, str]]:
    box = sandbox_factory(knobs=Knobs(hourly_limit=10**6, monthly_limit=10**9, **knobs))
    s = box.app.store.structures()[0]
    first = next(f["_id"] for f in s.fields if f["label"] == "First Name")
    now = box.app.clock.now()
    box.app.store.bulk_insert(
        ContactRow(
            box.app.store.ids.new(now),
            s.id,
            f"person{i}@example.com",
            [(first, f"First{i}")],
            [],
            [],
            "Active",
            None,
            0,
            iso(now),
            iso(now),
        )
        for i in range(N)
    )
    return box, {"BME_BASE_URL": box.url, "BME_API_KEY": box.api_key}


def _migrate(
    run: Any, tmp_path: Path, env: dict[str, str], *flags: str, name: str = "r", verify: bool = False
) -> Any:
    source = people_csv(tmp_path, N)
    args = [
        "migrate",
        str(source),
        "--state-dir",
        str(tmp_path / "state"),
        *([] if verify else ["--no-verify"]),
    ]
    return run([*args, "--report-dir", str(tmp_path / name), *flags], env)


def _report(tmp_path: Path, name: str) -> dict[str, Any]:
    """report.json of the run reported in ``tmp_path/name``, asserted valid against its schema."""
    (path,) = (tmp_path / name).rglob("report.json")
    return _checked("report", path)


def test_dry_run_and_report_show_the_export_read_and_its_price(run, sandbox_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    box, env = _remote(sandbox_factory, export_columns="label")
    dry = _migrate(run, tmp_path, env, "--dry-run", name="dry")
    assert dry.exit_code == 0, dry.output
    assert "reading the account: export, " in dry.out and "paging 9 (0.00 h)" in dry.out, dry.out
    plan = _report(tmp_path, "dry")["dry_run"]
    assert plan["read"]["strategy"] == "export" and plan["read"]["alternatives"]["paging"]["requests"] == 9

    box.app.reset_counts()
    real = _migrate(run, tmp_path, env, name="real")
    assert real.exit_code == 0, real.output
    served = box.app.request_counts()
    assert served[EXPORT] == 1 and "POST /api/contact" not in served and "note:" not in real.err
    load = _report(tmp_path, "real")["load"]
    assert load["index_strategy"] == "export"
    read = load["read"]
    assert read["strategy"] == "export" and read["export_fallback"] is None
    assert set(read["alternatives"]) == {"paging", "batched", "export"} and read["hours"] >= 0
    (page,) = (tmp_path / "real").rglob("report.html")
    assert "reading the account: export, " in page.read_text(encoding="utf-8")


def test_an_unusable_export_is_said_once_and_not_probed_by_the_next_run(
    run, sandbox_factory, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    box, env = _remote(sandbox_factory, export_columns="label", export_drop="status")
    first = _migrate(run, tmp_path, env, name="first")
    assert first.exit_code == 0, first.output
    assert first.err.count("note: export not used: the export has no column for status") == 1, first.err
    events = [json.loads(line) for line in (tmp_path / "state" / "events.jsonl").read_text().splitlines()]
    notes = [e for e in events if e["event"] == "index_note"]
    assert len(notes) == 1 and "no column for status" in notes[0]["note"]
    assert _report(tmp_path, "first")["load"]["read"]["strategy"] == "paging"

    (tmp_path / "contacts.csv").write_text(
        (tmp_path / "contacts.csv").read_text(encoding="utf-8") + "newcomer@example.com,New\n",
        encoding="utf-8",
    )  # another export: another run, same state dir and account
    box.app.reset_counts()
    second = run(
        [
            "migrate",
            str(tmp_path / "contacts.csv"),
            "--no-verify",
            "--state-dir",
            str(tmp_path / "state"),
            "--report-dir",
            str(tmp_path / "second"),
        ],
        env,
    )
    assert second.exit_code == 0, second.output
    assert EXPORT not in box.app.request_counts()
    assert "export not tried" in second.err and "--index-strategy export" in second.err
    fallback = _report(tmp_path, "second")["load"]["read"]["export_fallback"]  # the report says until when
    assert "the export failed here on " in fallback and "trying it again after " in fallback, fallback


def test_verify_reuses_the_export_when_the_run_wrote_nothing_and_reads_back_otherwise(  # type: ignore[no-untyped-def]
    run, sandbox_factory, tmp_path: Path
) -> None:
    box, env = _remote(sandbox_factory, export_columns="id")
    box.app.reset_counts()
    same = _migrate(
        run, tmp_path, env, name="same", verify=True
    )  # verified: nothing to write, nothing to read again
    assert same.exit_code == 0, same.output
    served = box.app.request_counts()
    assert served[EXPORT] == 1 and "POST /api/contact" not in served and sum(served.values()) <= 6, served
    (path,) = (tmp_path / "same").rglob("verify.json")
    checked = _checked("verify", path)
    assert checked["clean"] and checked["checked"] == N
    assert checked["requests"]["total"] == 0 and checked["requests"]["plan"]["strategy"] == "export"

    source = tmp_path / "contacts.csv"  # a newer export with one more person: the run writes, verify reads
    source.write_text(source.read_text(encoding="utf-8") + "newcomer@example.com,New\n", encoding="utf-8")
    box.app.reset_counts()
    args = [
        "migrate",
        str(source),
        "--state-dir",
        str(tmp_path / "state"),
        "--report-dir",
        str(tmp_path / "new"),
    ]
    wrote = run(args, env)
    assert wrote.exit_code == 0, wrote.output
    (path,) = (tmp_path / "new").rglob("verify.json")
    checked = _checked("verify", path)  # only the newcomer is read back: the rest is as the export showed
    assert checked["clean"] and checked["checked"] == N + 1, checked
    plan = checked["requests"]["plan"]
    assert plan["strategy"] == "batched" and plan["keys"] == 1 and 0 < checked["requests"]["total"] <= 3


def test_export_timeout_reaches_the_dry_run_and_the_load(run, sandbox_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """An export answering after 3 s (real time): read by it with --export-timeout 10s, by paging with 2s;
    each case in a state dir of its own, so no remembered verdict decides instead of the timeout."""
    box, env = _remote(sandbox_factory, export_columns="label", export_delay_seconds=3)
    source = people_csv(tmp_path, N)

    def migrate(name: str, *flags: str) -> Any:
        box.app.reset_counts()
        state, reports = tmp_path / name, tmp_path / "reports" / name
        return run(
            [
                "migrate",
                str(source),
                "--no-verify",
                "--state-dir",
                str(state),
                "--report-dir",
                str(reports),
                *flags,
            ],
            env,
        )

    dry = migrate("dry", "--dry-run", "--export-timeout", "2s")
    assert dry.exit_code == 0, dry.output
    assert "reading the account: paging" in dry.out and "ReadTimeout" in dry.output, dry.output
    assert box.app.request_counts()[EXPORT] == 1
    assert "tries the export again" not in dry.output  # the dry run remembers nothing: the next run probes

    short = migrate("short", "--export-timeout", "2s")
    assert short.exit_code == 0, short.output
    assert short.err.count("note: export not used: ") == 1 and "ReadTimeout" in short.err, short.err
    assert "(auto tries the export again after " in short.err  # a timeout: a day later
    assert box.app.request_counts()[EXPORT] == 1
    assert _report(tmp_path / "reports", "short")["load"]["read"]["strategy"] == "paging"

    long = migrate("long", "--export-timeout", "10s")
    assert long.exit_code == 0, long.output
    assert "note:" not in long.err and box.app.request_counts()[EXPORT] == 1, long.err
    assert _report(tmp_path / "reports", "long")["load"]["read"]["strategy"] == "export"

    zero = migrate("zero", "--export-timeout", "0")
    assert zero.exit_code == 2 and "--export-timeout '0'" in zero.err and "above 0" in zero.err, zero.output
    assert len(zero.err.strip().splitlines()) == 1 and not box.app.request_counts(), zero.output
