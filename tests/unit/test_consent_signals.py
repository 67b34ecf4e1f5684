"""Consent fails closed: columns no preset names are read for consent by name and by value, signals in one
row combine to the most restrictive, and a column that cannot be read is listed for a person to settle."""

from __future__ import annotations

from types import SimpleNamespace

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl.model import STATUS, Status
from etl.presets.consent import (
    FALSE_WORDS,
    NO_SIGNAL,
    TRUE_WORDS,
    UNREADABLE,
    VOCABULARY,
    ConsentShape,
    classify_header,
    normalise_value,
    parse_status,
)
from etl.presets.preset import ConsentChoices, load_all, load_preset
from etl.validate.core import ValidationResult, validate_frame
from etl.validate.status import reading
from tests.unit.test_validate_rules import make_raw


def run(
    rows: list[dict[str, str | None]], preset: str = "generic", consent: ConsentChoices | None = None
) -> ValidationResult:
    chosen = load_preset(preset)
    raw = make_raw(rows)
    return validate_frame(
        SimpleNamespace(frame=raw, rejects=None, files=()), consent.apply(chosen) if consent else chosen
    )


def statuses(res: ValidationResult) -> dict[str, str]:
    return dict(res.canonical.select("key", STATUS).iter_rows())


@pytest.mark.parametrize(
    ("header", "kind", "status"),
    [
        ("subscribed_to_emails", "positive", "unsubscribed"),  # Ghost
        ("email_disabled", "negative", "unsubscribed"),  # Substack
        ("unsubscribed_at", "event", "unsubscribed"),  # beehiiv
        ("Accepts Marketing", "positive", "no_consent"),  # Shopify, legacy export
        ("Accepts Email Marketing", "positive", "no_consent"),  # Shopify, newer export
        ("Email Marketing Consent", "positive", "no_consent"),  # Klaviyo
        ("HasOptedOutOfEmail", "negative", "unsubscribed"),  # Salesforce
        ("Do Not Email", "negative", "unsubscribed"),
        ("global_unsubscribe", "negative", "unsubscribed"),
        ("Blocklisted", "negative", "unsubscribed"),
        ("Bounced", "negative", "cleaned"),
        ("Email hard bounce reason", "event", "cleaned"),
        ("CLEAN_TIME", "event", "cleaned"),
        ("UNSUB_TIME", "event", "unsubscribed"),
        ("Email status", "status", "unsubscribed"),
        ("Subscription Status", "status", "unsubscribed"),
        ("newsletter", "weak", "unsubscribed"),
        ("IsExcludedFromCampaigns", "negative", "unsubscribed"),  # Mailjet's exclusion list
        ("IsOptInPending", "negative", "pending"),  # Mailjet: true = double opt-in not confirmed
        ("Confirmation pending", "negative", "pending"),
        ("Opt-in pending since", "event", "pending"),
        ("UnsubscribedBy", "event", "unsubscribed"),  # Mailjet: who unsubscribed them (an id)
        ("Do not allow Bulk Emails", "negative", "unsubscribed"),  # Dynamics 365 (DoNotBulkEMail)
        ("Do not allow Emails", "negative", "unsubscribed"),  # Dynamics 365 (DoNotEMail)
        ("DoNotBulkEMail", "negative", "unsubscribed"),
        # Marketo's lead fields: the words in the other order, two-word "Black Listed", a "Cause" beside each
        ("Email Invalid", "negative", "cleaned"),
        ("Black Listed", "negative", "unsubscribed"),
        ("Marketing Suspended", "negative", "unsubscribed"),  # was "weak": its "true" read as a consent
        ("Email Invalid Cause", "event", "cleaned"),
        ("Marketing Suspended Cause", "event", "unsubscribed"),
    ],
)
def test_consent_shapes_are_recognised_by_name(header: str, kind: str, status: str) -> None:
    shape = classify_header(header)
    assert shape is not None and (shape.kind, shape.status) == (kind, status)


@pytest.mark.parametrize(
    "header",
    [
        "First Name",
        "OPTIN_TIME",
        "OPTIN_IP",
        "$consent_timestamp",
        "$consent_method",
        "Accepts SMS Marketing",
        "UNSUB_CAMPAIGN_TITLE",
        "Mailing Country",
        "Mailing Street",
        "Lead Status",
        "created_at",
        "active_subscription",
        "Opt-in date",
        "email_type",
        "Do not allow Phone Calls",  # Dynamics 365: the phone, not email
    ],
)
def test_evidence_about_consent_and_other_columns_are_not_signals(header: str) -> None:
    assert classify_header(header) is None


_SHAPES = [
    ConsentShape(k, s)
    for k in ("positive", "negative", "event", "status", "weak", "value", "address")
    for s in ("unsubscribed", "cleaned", "no_consent", "pending")
]
_CELLS = st.one_of(
    st.sampled_from([*TRUE_WORDS, *FALSE_WORDS, *VOCABULARY, "2024-01-05", "1/2/24 1:51", "maybe", ""]),
    st.text(max_size=12),
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(shape=st.sampled_from(_SHAPES), cells=st.lists(_CELLS, min_size=1, max_size=12))
def test_vectorised_reading_agrees_with_the_reference(shape: ConsentShape, cells: list[str]) -> None:
    frame = pl.DataFrame(
        {"c": cells, "source_file": ["f"] * len(cells)}, schema={"c": pl.String, "source_file": pl.String}
    )
    got = frame.select(reading("c", shape, None)).to_series().to_list()
    want = [None if not normalise_value(c) else shape.read(normalise_value(c)) for c in cells]
    assert got == want


def test_signals_in_one_row_combine_to_the_most_restrictive() -> None:
    res = run(
        [
            {"email": "a@x.com", "status": "active", "unsubscribed_at": "2023-03-24 10:23:10 UTC"},
            {"email": "b@x.com", "status": "active", "unsubscribed_at": None},
            {"email": "c@x.com", "status": "subscribed", "email_disabled": "true", "unsubscribed_at": None},
            {"email": "d@x.com", "status": "unsubscribed", "Bounced": "yes"},
            {"email": "e@x.com", "status": "pending", "email_disabled": "false"},
        ]
    )
    assert statuses(res) == {
        "a@x.com": "unsubscribed",
        "b@x.com": "subscribed",
        "c@x.com": "unsubscribed",
        "d@x.com": "cleaned",
        "e@x.com": "pending",
    }
    assert not res.consent.unclear
    decided = {(b, v, s): n for b, v, s, n in res.consent.decided_by}
    assert decided[('column "unsubscribed_at"', "(filled)", "unsubscribed")] == 1
    assert decided[('column "Bounced"', "yes", "cleaned")] == 1
    assert not any(f.source in ("unsubscribed_at", "email_disabled", "Bounced") for f in res.fields)


def test_an_opt_in_still_pending_is_pending_not_a_consent() -> None:
    """Mailjet's contact record: IsOptInPending = true is a double opt-in nobody confirmed. Read as a positive
    "opt in" flag, its false skipped every confirmed contact as no_consent and its true let the waiting one
    in Active; the exclusion list and an "unsubscribed by" id are opt-outs of their own."""
    base = {"IsOptInPending": "false", "IsExcludedFromCampaigns": "false", "UnsubscribedBy": ""}
    res = run(
        [
            {"email": "ok@example.com", **base},
            {"email": "wait@example.com", **base, "IsOptInPending": "true"},
            {"email": "out@example.com", **base, "IsExcludedFromCampaigns": "true"},
            {"email": "gone@example.com", **base, "UnsubscribedBy": "1480106401"},
        ]
    )
    assert not res.consent.unclear
    assert statuses(res) == {
        "ok@example.com": "subscribed",
        "wait@example.com": "pending",
        "out@example.com": "unsubscribed",
        "gone@example.com": "unsubscribed",
    }


def test_a_status_word_the_preset_lacks_is_read_with_the_vocabulary() -> None:
    res = run([{"email": "a@x.com", "status": "unreachable"}, {"email": "b@x.com", "status": "complained"}])
    assert statuses(res) == {"a@x.com": "cleaned", "b@x.com": "cleaned"}  # bounced, not rejected


def test_an_unreadable_consent_column_is_listed_and_the_flags_settle_it() -> None:
    rows: list[dict[str, str | None]] = [
        {"email": "a@x.com", "Newsletter": "yes", "Custom 3": "unsubscribed"},
        {"email": "b@x.com", "Newsletter": "maybe", "Custom 3": "blue"},
    ]
    res = run(rows)
    assert [c.column for c in res.consent.unclear] == ["Newsletter", "Custom 3"]
    msg = res.consent.stop_message()
    assert msg.splitlines()[0].startswith("consent is unclear in 2 columns; nothing was written")
    assert (
        '--status-column "Newsletter"' in msg and '--ignore-column "Custom 3"' in msg and '"maybe" 1' in msg
    )
    settled = run(
        rows,
        consent=ConsentChoices(
            "Newsletter",
            {"yes": Status.SUBSCRIBED, "maybe": Status.PENDING},
            ("Custom 3",),
        ),
    )
    assert not settled.consent.unclear
    assert statuses(settled) == {"a@x.com": "subscribed", "b@x.com": "pending"}
    assert "Custom 3" in {f.source for f in settled.fields}  # not consent: an ordinary custom field


def test_a_person_with_an_unreadable_consent_cell_is_undecided_not_their_default() -> None:
    """Rows with a cell nobody can read — in a consent column or a watched one — are undecided: counted
    apart by the status they would otherwise get, per person (a duplicate row's cell counts for its
    person), and ``decided_by`` names the column and cell, never "default". A rejected row counts not."""
    rows: list[dict[str, str | None]] = [
        {"email": "a@x.com", "Newsletter": "yes", "Custom 3": "red"},
        {"email": "b@x.com", "Newsletter": "maybe", "Custom 3": "blue"},
        {"email": "c@x.com", "Newsletter": "yes", "Custom 3": "unsubscribed"},
        {"email": "d@x.com", "Newsletter": "yes", "Custom 3": "red", "status": "unsubscribed"},
        {"email": "D@x.com", "Newsletter": "maybe", "Custom 3": "red"},  # d's second row
        {"email": "not-an-address", "Newsletter": "maybe", "Custom 3": "red"},  # rejected
    ]
    res = run(rows)
    assert res.consent.undecided == (("subscribed", 2), ("unsubscribed", 1))
    assert res.consent.undecided_rows == 3 and res.consent.to_dict()["undecided_rows"] == 3
    by = {(b, v, s): n for b, v, s, n in res.consent.decided_by}
    assert by[('column "Newsletter"', "maybe", "undecided")] == 2  # b and d's second row
    assert by[('column "Custom 3"', "unsubscribed", "undecided")] == 1
    assert by[("default", None, "subscribed")] == 1  # a alone
    assert "3 contact(s) undecided" in res.consent.stop_line()
    settled = run(rows, consent=ConsentChoices(None, {}, ("Newsletter", "Custom 3")))
    assert settled.consent.undecided == () and settled.consent.undecided_rows == 0
    assert {s for _, _, s, _ in settled.consent.decided_by} == {"subscribed", "unsubscribed"}


def _field_values(res: ValidationResult, source: str) -> dict[str, str | None]:
    label = next(f.label for f in res.fields if f.source == source)
    return dict(res.canonical.select("key", label).iter_rows())


@pytest.mark.parametrize(
    ("state", "sibling", "city"),
    [
        ("State", "City", "Austin"),
        ("Estado", "Ciudad", "Quito"),
        ("Stato", "CAP", "1"),
        ("Mailing State", "Mailing City", "Boston"),  # Zoho CRM / Salesforce contacts
    ],
)
def test_a_state_beside_an_address_column_is_an_address_not_a_question(
    state: str, sibling: str, city: str
) -> None:
    """A US CRM's "State" (TX, MA) beside "City" is the address, kept as a field — not a consent column that
    stops the run; a status word or a no in it is still a question, never a silent Active."""
    rows: list[dict[str, str | None]] = [
        {"email": "a@x.com", sibling: city, state: "TX"},
        {"email": "b@x.com", sibling: city, state: "MA"},
        {"email": "c@x.com", sibling: city, state: None},
    ]
    res = run(rows)
    assert not res.consent.unclear and res.consent.undecided_rows == 0
    assert statuses(res) == dict.fromkeys(("a@x.com", "b@x.com", "c@x.com"), "subscribed")
    assert _field_values(res, state) == {"a@x.com": "TX", "b@x.com": "MA", "c@x.com": None}
    for word in ("Inactive", "unsubscribed", "no", "pending"):
        asked = run([*rows, {"email": "d@x.com", sibling: city, state: word}])
        assert [c.column for c in asked.consent.unclear] == [state], word
        assert asked.consent.undecided_rows == 1, word
    alone = run([{"email": "a@x.com", state: "TX"}])  # no address beside it: a status column, as before
    assert [c.column for c in alone.consent.unclear] == [state]


def test_a_crm_option_set_allow_or_do_not_allow_is_read_in_an_opt_out_column() -> None:
    """Dynamics 365 writes its email preferences as the option labels Allow / Do Not Allow, not yes/no: a
    contact whose bulk email is "Do Not Allow" used to arrive Active, the column read as nothing at all."""
    rows: list[dict[str, str | None]] = [
        {"email": "a@x.com", "Do not allow Emails": "Allow", "Do not allow Bulk Emails": "Allow"},
        {"email": "b@x.com", "Do not allow Emails": "Allow", "Do not allow Bulk Emails": "Do Not Allow"},
        {"email": "c@x.com", "Do not allow Emails": "Do Not Allow", "Do not allow Bulk Emails": "Allow"},
        {"email": "d@x.com", "Do not allow Emails": None, "Do not allow Bulk Emails": None},
    ]
    res = run(rows)
    assert not res.consent.unclear
    assert statuses(res) == {
        "a@x.com": "subscribed",
        "b@x.com": "unsubscribed",
        "c@x.com": "unsubscribed",
        "d@x.com": "subscribed",
    }
    # the same labels in a positive column ("Allow Email": Allow) mean the reverse
    positive = run(
        [
            {"email": "a@x.com", "Email consent": "Allow"},
            {"email": "b@x.com", "Email consent": "Do Not Allow"},
        ]
    )
    assert statuses(positive) == {"a@x.com": "subscribed", "b@x.com": "no_consent"}


def test_a_mapping_file_can_say_a_column_is_not_consent(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "mine.toml"
    path.write_text('extends = "generic"\nnot_consent = ["Newsletter"]\n', encoding="utf-8")
    raw = make_raw([{"email": "a@x.com", "Newsletter": "maybe"}])
    res = validate_frame(SimpleNamespace(frame=raw, rejects=None, files=()), load_preset(path))
    assert not res.consent.unclear and "Newsletter" in {f.source for f in res.fields}


def test_parse_status_takes_statuses_and_vocabulary_words() -> None:
    assert parse_status("no_consent") is Status.NO_CONSENT
    assert parse_status("Bounced") is Status.CLEANED
    with pytest.raises(ValueError):
        parse_status("sometimes")


# --- the property: an opt-out in any column never leaves a person Active -------------------------------

_OPT_OUTS: dict[str, tuple[list[str], list[str]]] = {
    "positive": (
        [
            "subscribed",
            "Opted In",
            "accepts_marketing",
            "Accepts Email Marketing",
            "email consent",
            "Marketing Consent",
            "consent",
            "subscribed_to_emails",
            "is_subscribed",
            "EmailOptIn",
            # other languages (etl/presets/consent_words.py)
            "Einwilligung",
            "Angemeldet",
            "Consentement",
            "Abonné",
            "Consentimiento",
            "Suscrito",
            "Consenso",
            "Iscritto",
            "Toestemming",
            "Ingeschreven",
            "Consentimento",
            "Inscrito",
        ],
        [
            *("false", "no", "0", "FALSE", "No", "N", "unsubscribed"),
            *(
                "nein",
                "Nein",
                "non",
                "faux",
                "falsch",
                "nee",
                "não",
                "nao",
                "falso",
                "désabonné",
                "abgemeldet",
            ),
        ],
    ),
    "negative": (
        [
            "email_disabled",
            "Do Not Email",
            "DoNotEmail",
            "opted_out",
            "Unsubscribed",
            "is_unsubscribed",
            "Bounced",
            "blocklisted",
            "Suppressed",
            "global_unsubscribe",
            "HasOptedOutOfEmail",
            "Email Opt Out",
            "hard_bounce",
            "Spam Complaint",
            "Newsletter abgemeldet",
            "Abgemeldet",
            "Newsletterabmeldung",
            "Unzustellbar",
            "Nicht angemeldet",
            "Keine Werbung",
            "Désabonné",
            "desinscrit",
            "Pas de newsletter",
            "Dado de baja",
            "Rebotado",
            "Disiscritto",
            "Afgemeld",
            "Uitgeschreven",
            "Descadastrado",
        ],
        [
            *("true", "yes", "1", "TRUE", "Yes", "Y", "x", "2024-02-05"),
            *("ja", "Ja", "JA", "oui", "Oui", "sí", "si", "sì", "sim", "wahr", "vrai", "waar", "verdadero"),
        ],
    ),
    "event": (
        [
            "unsubscribed_at",
            "Unsubscribe Date",
            "UNSUB_TIME",
            "bounced_at",
            "Date Unsubscribed",
            "opt_out_date",
            "cleaned_at",
            "suppressed_at",
            "Unsubscribe Reason",
            "Abgemeldet am",
            "Abmeldedatum",
            "Abmeldegrund",
            "Désinscrit le",
            "Date de désinscription",
            "Fecha de baja",
            "Motivo de baja",
            "Data cancellazione",
            "Afgemeld op",
            "Descadastrado em",
        ],
        ["2023-03-24 10:23:10 UTC", "2/5/24 1:51", "1700000000", "Too many emails", "05.02.2024", "Zu viele"],
    ),
    "status": (
        [
            *("status", "Email Status", "Subscription Status", "subscriber_status", "Member Status"),
            *("Statut", "Estado", "Stato", "Situação", "Abonnementstatus", "Estado de suscripción"),
        ],
        [
            "unsubscribed",
            "bounced",
            "cleaned",
            "complained",
            "spam",
            "unreachable",
            "pending",
            "unconfirmed",
            "non-subscribed",
            "archived",
            "Never Subscribed",
            "blocklisted",
            "UNSUBSCRIBED",
            "Hard Bounce",
            *("abgemeldet", "Abgemeldet", "ungültig", "ungueltig", "ausstehend", "désabonné", "desabonne"),
            *("en attente", "dado de baja", "baja", "rebotado", "pendiente", "disiscritto", "afgemeld"),
            *("onbestelbaar", "descadastrado", "não confirmado", "DÉSINSCRIT"),
        ],
    ),
    "value": (
        ["Custom Field 7", "Segment X"],
        [
            *("unsubscribed", "Bounced", "UNSUBSCRIBED", "opted out"),
            *(
                "abgemeldet",
                "Désabonné",
                "DÉSINSCRIT",
                "desabonne",
                "Dado de baja",
                "Afgemeld",
                "descadastrado",
            ),
        ],
    ),
}
_PRESETS = [p.name for p in load_all()]


@st.composite
def _case(draw: st.DrawFn) -> tuple[str, dict[str, str | None], str, str]:
    preset = draw(st.sampled_from(_PRESETS))
    p = load_preset(preset)
    row: dict[str, str | None] = {p.email[0]: draw(st.sampled_from(["ada@example.com", "Ada@Example.com"]))}
    for i in range(draw(st.integers(0, 3))):
        row[f"Extra {i}"] = draw(st.one_of(st.none(), st.text(alphabet="abcdefgh xyz", max_size=10)))
    if p.status.columns and draw(st.booleans()):
        row[p.status.columns[0]] = draw(st.sampled_from(["subscribed", "active", "Active", "SUBSCRIBED"]))
    kind = draw(st.sampled_from(list(_OPT_OUTS)))
    names, values = _OPT_OUTS[kind]
    return preset, row, draw(st.sampled_from(names)), draw(st.sampled_from(values))


@settings(max_examples=500, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(case=_case())
def test_adding_an_opt_out_column_never_makes_the_outcome_active(case: tuple[str, dict, str, str]) -> None:
    from etl.presets.preset import norm_header

    preset, row, name, value = case
    if norm_header(name) in {norm_header(c) for c in row}:
        return  # the row already has that column: nothing is added
    p = load_preset(preset)
    documented = {norm_header(s) for rule in p.fields for s in rule.sources} | {
        norm_header(c) for c in p.ignore
    }
    suppression = VOCABULARY.get(normalise_value(value)) in ("unsubscribed", "cleaned")
    if norm_header(name) in documented and not suppression:
        return  # a column the platform's documentation gives another meaning speaks only in suppression words
    res = run([{**row, name: value}], preset)
    active = res.canonical.filter(pl.col(STATUS) == Status.SUBSCRIBED.value).height > 0
    assert not active or res.consent.unclear, (preset, name, value, res.consent)


def test_reading_constants_are_distinct_from_statuses() -> None:
    assert {NO_SIGNAL, UNREADABLE}.isdisjoint({s.value for s in Status})


def test_docs_list_every_shape_and_every_vocabulary_word() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "consent.md").read_text(encoding="utf-8")
    for kind in ("positive flag", "negative flag", "event", "status", "weak", "value", "address"):
        assert f"| {kind} |" in doc, kind
    from etl.presets.consent_words import STATUS_WORDS, spellings

    vocab = doc[doc.index("## Status vocabulary") :]
    # a word of another language is documented once, as written; its accent-less spellings come with it
    written = {s: w for by in STATUS_WORDS.values() for ws in by.values() for w in ws for s in spellings(w)}
    missing = [
        w
        for w in VOCABULARY
        if written.get(w, w).replace("_", " ") not in vocab and not w.startswith(("single", "double"))
    ]
    assert not missing, missing


@pytest.mark.parametrize(
    ("stem", "status"),
    [
        ("unsubscribed", "unsubscribed"),
        ("Bounced contacts 2024", "cleaned"),
        ("cleaned_members_export_2024", "cleaned"),
        ("abgemeldet", "unsubscribed"),
        ("désinscrits", "unsubscribed"),
        ("pending_confirmation", "pending"),
        ("do-not-email list", "unsubscribed"),
        ("subscribers", None),
        ("subscribed_members_export_2024", None),
        ("newsletter", None),
        ("Nicht abgemeldet", None),
        ("contacts", None),
        ("unsubscribe_campaign_report", None),  # about a campaign, not people who opted out
    ],
)
def test_a_source_name_states_an_opt_out_or_says_nothing(stem: str, status: str | None) -> None:
    from etl.presets.consent import name_says

    assert name_says(stem) == status


def test_a_cell_a_presets_yes_no_flag_does_not_list_is_a_question_not_subscribed() -> None:
    """Intercom's has_hard_bounced = "maybe": the preset fires on true/1/yes and nothing else, so the cell
    used to say nothing and the person arrived Active. It is a question now; the flag's own values and the
    no-words still read as before, and --ignore-column settles it (the flag keeps firing on its values)."""
    rows: list[dict[str, str | None]] = [
        {"email": "a@x.com", "unsubscribed_from_emails": "false", "has_hard_bounced": "true"},
        {"email": "b@x.com", "unsubscribed_from_emails": "no", "has_hard_bounced": "false"},
        {"email": "c@x.com", "unsubscribed_from_emails": "false", "has_hard_bounced": "maybe"},
        {"email": "d@x.com", "unsubscribed_from_emails": None, "has_hard_bounced": None},
    ]
    res = run(rows, "intercom")
    assert [c.column for c in res.consent.unclear] == ["has_hard_bounced"]
    assert res.consent.undecided_rows == 1
    settled = run(rows, "intercom", consent=ConsentChoices(None, {}, ("has_hard_bounced",)))
    assert not settled.consent.unclear
    assert statuses(settled) == {
        "a@x.com": "cleaned",
        "b@x.com": "subscribed",
        "c@x.com": "subscribed",
        "d@x.com": "subscribed",
    }
    clean = run([r for r in rows if r["email"] != "c@x.com"], "intercom")  # nothing to ask: as before
    assert not clean.consent.unclear and statuses(clean)["a@x.com"] == "cleaned"


def test_flag_check_reads_a_flag_as_its_preset_does() -> None:
    from etl.presets.consent import flag_check
    from etl.presets.preset import FlagRule

    assert flag_check(FlagRule(("x",), Status.UNSUBSCRIBED, ("true", "1", "yes"))) == ConsentShape(
        "negative", "unsubscribed"
    )
    assert flag_check(FlagRule(("x",), Status.NO_CONSENT, ("no", "false"))) == ConsentShape(
        "positive", "no_consent"
    )
    assert flag_check(FlagRule(("x",), Status.CLEANED)) is None  # any filled cell fires: nothing to ask
    assert flag_check(FlagRule(("x",), Status.UNSUBSCRIBED, ("email",), match="contains")) is None
    assert flag_check(FlagRule(("x",), Status.UNSUBSCRIBED, ("true",), absent=True)) is None
    assert flag_check(FlagRule(("x",), Status.UNSUBSCRIBED, ("0", "1", "2"))) is None  # ids, not yes/no
