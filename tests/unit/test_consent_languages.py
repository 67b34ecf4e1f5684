"""Consent columns and words in the languages exports come in (de, fr, es, it, nl, pt, sv, da): a localized
name is read for what it says, an accent lost on the way changes nothing, and a mis-read can only make a
person less Active or stop the run."""

from __future__ import annotations

import unicodedata

import pytest

from etl.presets.consent import (
    FALSE_WORDS,
    NO_SIGNAL,
    SUPPRESSION_WORDS,
    TRUE_WORDS,
    UNREADABLE,
    VOCABULARY,
    classify_header,
    normalise_value,
)
from etl.presets.consent_words import STATUS_WORDS, spellings
from tests.unit.test_consent_signals import run, statuses


@pytest.mark.parametrize(
    ("header", "kind", "status"),
    [
        # German
        ("Newsletter abgemeldet", "negative", "unsubscribed"),  # not weak: the name says what it means
        ("Abgemeldet am", "event", "unsubscribed"),
        ("Abmeldedatum", "event", "unsubscribed"),
        ("Abmeldegrund", "event", "unsubscribed"),
        ("Newsletterabmeldung", "negative", "unsubscribed"),
        ("abbestellt", "negative", "unsubscribed"),
        ("Einwilligung", "positive", "no_consent"),
        ("Marketing-Einwilligung", "positive", "no_consent"),
        ("Angemeldet", "positive", "unsubscribed"),
        ("Status", "status", "unsubscribed"),
        ("Abonnementstatus", "status", "unsubscribed"),
        ("Newsletter", "weak", "unsubscribed"),
        ("Werbung", "weak", "unsubscribed"),
        ("Unzustellbar", "negative", "cleaned"),
        ("Ungültige E-Mail", "negative", "cleaned"),
        ("Bounce", "negative", "cleaned"),
        ("Nicht angemeldet", "negative", "unsubscribed"),  # a negation turns the name around
        ("Keine Werbung", "negative", "unsubscribed"),
        ("Keine Einwilligung", "negative", "no_consent"),
        # a negated opt-out ("not unsubscribed") is never guessed: read as a status column, its yes/no stop
        ("Nicht abgemeldet", "status", "unsubscribed"),
        ("Kein Widerspruch", "status", "unsubscribed"),
        ("not unsubscribed", "status", "unsubscribed"),
        ("Werbewiderspruch", "negative", "unsubscribed"),
        # French
        ("Désabonné", "negative", "unsubscribed"),
        ("desabonne", "negative", "unsubscribed"),  # the accents lost by the export
        (unicodedata.normalize("NFD", "Désinscrit le"), "event", "unsubscribed"),  # decomposed (macOS)
        ("Désinscrit le", "event", "unsubscribed"),
        ("Date de désinscription", "event", "unsubscribed"),
        ("Motif de désabonnement", "event", "unsubscribed"),
        ("Consentement", "positive", "no_consent"),
        ("Abonné(e)", "positive", "unsubscribed"),
        ("Statut", "status", "unsubscribed"),
        ("Statut d'abonnement", "status", "unsubscribed"),
        ("Infolettre", "weak", "unsubscribed"),
        ("Lettre d'information", "weak", "unsubscribed"),
        ("Pas de newsletter", "negative", "unsubscribed"),
        ("Erreur permanente", "negative", "cleaned"),
        ("EMAIL_BLACKLISTE", "negative", "unsubscribed"),
        # Spanish
        ("Dado de baja", "negative", "unsubscribed"),
        ("Baja", "negative", "unsubscribed"),
        ("Fecha de baja", "event", "unsubscribed"),
        ("Motivo de baja", "event", "unsubscribed"),
        ("Desuscrito", "negative", "unsubscribed"),
        ("Suscrito", "positive", "unsubscribed"),
        ("Consentimiento", "positive", "no_consent"),
        ("Acepta publicidad", "positive", "no_consent"),
        ("Estado", "status", "unsubscribed"),
        ("Estado de suscripción", "status", "unsubscribed"),
        ("Boletín", "weak", "unsubscribed"),
        ("Rebotado", "negative", "cleaned"),
        ("No acepta publicidad", "negative", "no_consent"),
        # Italian
        ("Disiscritto", "negative", "unsubscribed"),
        ("Data cancellazione", "event", "unsubscribed"),
        ("Disiscritto il", "event", "unsubscribed"),
        ("Consenso", "positive", "no_consent"),
        ("Iscritto", "positive", "unsubscribed"),
        ("Stato", "status", "unsubscribed"),
        ("Stato iscrizione", "status", "unsubscribed"),
        ("Non iscritto", "negative", "unsubscribed"),
        # Dutch
        ("Afgemeld", "negative", "unsubscribed"),
        ("Afgemeld op", "event", "unsubscribed"),
        ("Afmelddatum", "event", "unsubscribed"),
        ("Uitgeschreven", "negative", "unsubscribed"),
        ("Ingeschreven", "positive", "unsubscribed"),
        ("Toestemming", "positive", "no_consent"),
        ("Nieuwsbrief", "weak", "unsubscribed"),
        ("Onbestelbaar", "negative", "cleaned"),
        ("Geen nieuwsbrief", "negative", "unsubscribed"),
        # Portuguese
        ("Descadastrado", "negative", "unsubscribed"),
        ("Descadastrado em", "event", "unsubscribed"),
        ("Motivo do descadastro", "event", "unsubscribed"),
        ("Inscrito", "positive", "unsubscribed"),
        ("Consentimento", "positive", "no_consent"),
        ("Aceita receber e-mails", "positive", "no_consent"),
        ("Situação", "status", "unsubscribed"),
        ("Situacao da inscricao", "status", "unsubscribed"),
        ("Boletim informativo", "weak", "unsubscribed"),
        # Swedish, Danish
        ("Avregistrerad", "negative", "unsubscribed"),
        ("Afmeldt", "negative", "unsubscribed"),
        ("Nyhetsbrev", "weak", "unsubscribed"),
    ],
)
def test_localized_headers_are_read_for_what_they_say(header: str, kind: str, status: str) -> None:
    shape = classify_header(header)
    assert shape is not None and (shape.kind, shape.status) == (kind, status), (header, shape)


@pytest.mark.parametrize(
    "header",
    [
        "E-Mail",
        "Vorname",
        "Nachname",
        "Geburtsdatum",
        "Prénom",
        "Nom",
        "Apellido",
        "Fecha de alta",  # when a person was added: not a consent signal
        "Einwilligungsdatum",  # when/where a consent was given: evidence, not a signal
        "Quelle der Einwilligung",
        "Abonné le",
        "Iscritto il",
        "Ingeschreven op",
        "Fecha de suscripción",
        "SMS abgemeldet",  # another channel
        "Telefono dado de baja",
        "Idioma",
        "Bewerbung",  # a job application, not "Werbung"
        "Widerrufsbelehrung",  # a shop's notice of the right to return an order
    ],
)
def test_localized_evidence_and_ordinary_columns_are_not_signals(header: str) -> None:
    assert classify_header(header) is None


@pytest.mark.parametrize(
    ("header", "cell", "reading"),
    [
        ("Newsletter abgemeldet", "ja", "unsubscribed"),  # yes, unsubscribed — read the right way round
        ("Newsletter abgemeldet", "nein", NO_SIGNAL),
        ("Newsletter abgemeldet", "Wahr", "unsubscribed"),
        ("Newsletter abgemeldet", "vielleicht", UNREADABLE),
        ("Einwilligung", "nein", "no_consent"),
        ("Einwilligung", "ja", NO_SIGNAL),
        ("Consentement", "non", "no_consent"),
        ("Consentement", "Vrai", NO_SIGNAL),
        ("Consentimiento", "falso", "no_consent"),
        ("Consenso", "sì", NO_SIGNAL),
        ("Toestemming", "nee", "no_consent"),
        ("Consentimento", "não", "no_consent"),
        ("Consentimento", "nao", "no_consent"),
        ("Consentimento", "sim", NO_SIGNAL),
        ("Abgemeldet am", "2024-02-05", "unsubscribed"),
        ("Abgemeldet am", "nie", NO_SIGNAL),
        ("Abgemeldet am", "keine", "unsubscribed"),  # "none" may be the reason left empty: fires
        ("Fecha de baja", "05/02/2024", "unsubscribed"),
        ("Statut", "désabonné", "unsubscribed"),
        ("Statut", "desabonne", "unsubscribed"),
        ("Statut", "DÉSINSCRIT", "unsubscribed"),
        ("Statut", "abonné", NO_SIGNAL),
        ("Statut", "en attente", "pending"),
        ("Estado", "dado de baja", "unsubscribed"),
        ("Estado", "rebotado", "cleaned"),
        ("Estado", "pendiente", "pending"),
        ("Status", "abgemeldet", "unsubscribed"),
        ("Status", "ungueltig", "cleaned"),
        ("Status", "ausstehend", "pending"),
        ("Stato", "disiscritto", "unsubscribed"),
        ("Situação", "descadastrado", "unsubscribed"),
        ("Newsletter", "ja", NO_SIGNAL),
        ("Newsletter", "nein", UNREADABLE),  # a weak column's "no" still needs a person
        ("Nicht abgemeldet", "ja", UNREADABLE),
        ("Nicht abgemeldet", "nein", UNREADABLE),
        ("Nicht abgemeldet", "abgemeldet", "unsubscribed"),
    ],
)
def test_localized_cells_are_read_in_their_column(header: str, cell: str, reading: str) -> None:
    shape = classify_header(header)
    assert shape is not None and shape.read(normalise_value(cell)) == reading


def test_every_spelling_of_a_status_word_reads_the_same() -> None:
    for by_status in STATUS_WORDS.values():
        for status, ws in by_status.items():
            for w in ws:
                decomposed = unicodedata.normalize("NFD", w)
                assert {VOCABULARY[s] for s in spellings(w) | {decomposed}} == {status}, w
    assert "desabonne" in VOCABULARY and "ungueltig" in VOCABULARY and "nao" in FALSE_WORDS
    assert unicodedata.normalize("NFD", "não") in FALSE_WORDS and "sì" in TRUE_WORDS


def test_no_word_means_two_things() -> None:
    """A word that two languages (or English) read differently would make the reading depend on the order
    the tables were merged in."""
    seen: dict[str, str] = {}
    for by_status in STATUS_WORDS.values():
        for status, ws in by_status.items():
            for w in ws:
                for s in spellings(w):
                    assert seen.setdefault(s, status) == status, s
                    assert VOCABULARY[s] == status, s
    assert not set(TRUE_WORDS) & set(FALSE_WORDS)
    assert not (set(TRUE_WORDS) | set(FALSE_WORDS)) & set(VOCABULARY)


def test_only_unambiguous_words_make_an_unknown_column_a_question() -> None:
    for w in ("abgemeldet", "désabonné", "desabonne", "dado de baja", "afgemeld", "descadastrado"):
        assert w in SUPPRESSION_WORDS, w
    for w in ("baja", "cancelado", "cancellato", "inaktiv", "gelöscht", "ausgetragen", "aktiv"):
        assert w not in SUPPRESSION_WORDS, w  # an order's or an account's state as often
    res = run(
        [
            {"email": "a@x.com", "Feld 3": "désabonné", "Bestellung": "cancelado"},
            {"email": "b@x.com", "Feld 3": "blau", "Bestellung": "bezahlt"},
        ]
    )
    assert [c.column for c in res.consent.unclear] == ["Feld 3"]


def test_localized_columns_decide_the_status_through_validate() -> None:
    res = run(
        [
            {"E-Mail": "a@x.com", "Newsletter abgemeldet": "ja", "Einwilligung": "ja", "Statut": "abonné"},
            {
                "E-Mail": "b@x.com",
                "Newsletter abgemeldet": "nein",
                "Einwilligung": "nein",
                "Statut": "abonné",
            },
            {
                "E-Mail": "c@x.com",
                "Newsletter abgemeldet": "nein",
                "Einwilligung": "ja",
                "Statut": "desabonne",
            },
            {"E-Mail": "d@x.com", "Newsletter abgemeldet": "nein", "Einwilligung": "ja", "Statut": "Abonné"},
        ]
    )
    assert not res.consent.unclear
    assert statuses(res) == {
        "a@x.com": "unsubscribed",
        "b@x.com": "no_consent",
        "c@x.com": "unsubscribed",
        "d@x.com": "subscribed",
    }


def test_a_preset_status_column_reads_localized_status_words() -> None:
    res = run(
        [
            {"email": "a@x.com", "Status": "Dado de baja"},
            {"email": "b@x.com", "Status": "abgemeldet"},
            {"email": "c@x.com", "Status": "désinscrit"},
            {"email": "d@x.com", "Status": "rebotado"},
            {"email": "e@x.com", "Status": "aktiv"},
        ]
    )
    assert statuses(res) == {
        "a@x.com": "unsubscribed",
        "b@x.com": "unsubscribed",
        "c@x.com": "unsubscribed",
        "d@x.com": "cleaned",
        "e@x.com": "subscribed",
    }
