"""Consent in the languages exports come in, end to end: a German cp1252 ``;`` export, a French and a Spanish
one migrate through the CLI against the sandbox with each person's opt-out read from the localized column,
and a localized column that stays ambiguous still stops before the first write."""

from __future__ import annotations

import json
from pathlib import Path

from tests.load_support import account_contacts, migrate_into, statuses


def test_a_german_cp1252_export_reads_newsletter_abgemeldet_the_right_way_round(
    run, sandbox_factory, tmp_path: Path
) -> None:
    box = sandbox_factory()
    src = tmp_path / "kunden.csv"
    src.write_bytes(
        (
            "E-Mail;Vorname;Nachname;Newsletter abgemeldet\r\n"
            "juergen@example.de;Jürgen;Müller;ja\r\n"
            "aenne@example.de;Änne;Weiß;nein\r\n"
            "otto@example.de;Otto;Größe;nein\r\n"
        ).encode("cp1252")
    )
    done = migrate_into(run, box, [src], tmp_path)
    assert done.exit_code == 0, done.output
    assert statuses(box) == {
        "juergen@example.de": "Inactive",  # "ja": yes, unsubscribed
        "aenne@example.de": "Active",
        "otto@example.de": "Active",
    }
    values = {v for c in account_contacts(box.app).values() for _, v in c.fields}
    assert {"Jürgen", "Müller", "Änne", "Weiß", "Größe"} <= values  # cp1252 read as cp1252
    doc = json.loads((tmp_path / "r" / "report.json").read_text(encoding="utf-8"))
    by = {(d["by"], d["value"]): d["rows"] for d in doc["consent"]["decided_by"]}
    assert by[('column "Newsletter abgemeldet"', "ja")] == 1
    assert not {"ja", "nein"} & values  # a consent column, not a custom field


def test_a_french_export_reads_statut_and_the_date_of_unsubscription(
    run, sandbox_factory, tmp_path: Path
) -> None:
    box = sandbox_factory()
    src = tmp_path / "contacts.csv"
    src.write_text(
        "Adresse e-mail,Prénom,Nom,Statut,Date de désinscription\n"
        "ada@example.fr,Adèle,Dupré,Abonné,\n"
        "bea@example.fr,Béatrice,Lefèvre,désabonné,\n"
        "cyr@example.fr,Cyrille,Noël,abonné,12/03/2024\n"
        "dom@example.fr,Dominique,Faure,REJETE,\n",
        encoding="utf-8-sig",
    )
    done = migrate_into(run, box, [src], tmp_path)
    assert done.exit_code == 0, done.output
    assert statuses(box) == {
        "ada@example.fr": "Active",
        "bea@example.fr": "Inactive",
        "cyr@example.fr": "Inactive",  # unsubscribed on 12/03/2024, whatever the status says
        "dom@example.fr": "Inactive",  # rejected (a bounce): cleaned
    }


def test_a_spanish_export_reads_consentimiento_and_fecha_de_baja(
    run, sandbox_factory, tmp_path: Path
) -> None:
    box = sandbox_factory()
    src = tmp_path / "clientes.csv"
    src.write_text(
        "Correo electrónico;Nombre;Apellido;Consentimiento;Fecha de baja\n"
        "ana@example.es;Ana;Muñoz;sí;\n"
        "ben@example.es;Benito;Pérez;si;2024-01-05\n"
        "cruz@example.es;Cruz;Ibáñez;no;\n",
        encoding="utf-8",
    )
    done = migrate_into(run, box, [src], tmp_path)
    assert done.exit_code == 0, done.output
    # "no" in a consent column: consent never given, so the person is not written (no_consent is skipped)
    assert statuses(box) == {"ana@example.es": "Active", "ben@example.es": "Inactive"}
    doc = json.loads((tmp_path / "r" / "report.json").read_text(encoding="utf-8"))
    by = {(d["by"], d["value"], d["status"]): d["rows"] for d in doc["consent"]["decided_by"]}
    assert by[('column "Consentimiento"', "no", "no_consent")] == 1


def test_an_ambiguous_localized_column_still_stops_before_any_write(
    run, sandbox_factory, tmp_path: Path
) -> None:
    box = sandbox_factory()
    src = tmp_path / "kunden.csv"
    src.write_bytes(
        "E-Mail;Vorname;Werbung\r\nada@example.de;Ada;ja\r\nbob@example.de;Bob;nein\r\n".encode("cp1252")
    )
    stopped = migrate_into(run, box, [src], tmp_path)
    assert stopped.exit_code == 2, stopped.output
    assert stopped.err.startswith("error: consent is unclear in 1 column; nothing was written")
    assert 'column "Werbung" may carry consent' in stopped.err and '"nein" 1' in stopped.err
    assert "Traceback" not in stopped.output
    assert account_contacts(box.app) == {}
    assert sum(box.app.request_counts().values()) == 0
