"""The preset files and the additions to the preset model (flag match/absent, list format/prefix, notes)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from etl.errors import ConfigError
from etl.model import Status
from etl.presets.preset import DEFAULT_DIR, FlagRule, load_all, load_preset, norm_header

REQUIRED = {
    "mailchimp",
    "constant_contact",
    "brevo",
    "klaviyo",
    "hubspot",
    "activecampaign",
    "kit",
    "mailerlite",
    "aweber",
    "campaign_monitor",
    "getresponse",
    "sendgrid",
    "benchmark_legacy",
    "legacy_api",
    "ghost",
    "substack",
    "beehiiv",
    "shopify",
    "mautic",
    "listmonk",
    "generic",
    "keila",
    "sendy",
    "mailpoet",
    "drip",
    "omnisend",
    "moosend",
    "squarespace",
    "wix",
    "zoho_campaigns",
    "salesforce",
    "zoho_crm",
    "pipedrive",
    "dynamics365",
    "marketo",
    "intercom",
    "braze",
    "iterable",
    "icontact",
    "emma",
    "benchmark_export",
}


def test_every_platform_has_a_preset_with_an_evidence_comment() -> None:
    presets = {p.name: p for p in load_all()}
    assert set(presets) == REQUIRED
    for name in REQUIRED:
        head = (DEFAULT_DIR / f"{name}.toml").read_text(encoding="utf-8").splitlines()[0]
        assert head.startswith("# "), name


@pytest.mark.parametrize("preset", sorted(REQUIRED))
def test_preset_is_internally_consistent(preset: str) -> None:
    p = load_preset(preset)
    targets = [norm_header(f.target) for f in p.fields]
    assert len(targets) == len(set(targets)), "two rules feed the same target"
    sources = [n for f in p.fields for n in {norm_header(s) for s in f.sources}]
    assert len(sources) == len(set(sources)), "one source column feeds two targets"
    assert not {norm_header(e) for e in p.email} & set(sources)
    raw = tomllib.loads((DEFAULT_DIR / f"{preset}.toml").read_text(encoding="utf-8"))
    assert len(p.fields) == len(raw.get("fields", [])), "a shipped preset ignores a column it also maps"
    predefined = {f.predefined for f in p.fields if f.predefined}
    assert predefined <= {"firstName", "lastName"}
    if preset != "generic":
        # a platform whose every column is a generic name (kit, legacy_api) is recognised by its files only
        assert p.detect_headers and (p.detect_strong or p.detect_files)
        assert {norm_header(h) for h in p.detect_strong} <= {norm_header(h) for h in p.detect_headers} | {
            norm_header(h) for h in p.detect_strong
        }


@pytest.mark.parametrize(
    ("rule", "cell", "fires"),
    [
        (FlagRule(("x",), Status.UNSUBSCRIBED), "2020-01-01", True),
        (FlagRule(("x",), Status.UNSUBSCRIBED), "  ", False),
        (FlagRule(("x",), Status.UNSUBSCRIBED, ("true", "yes")), "TRUE", True),
        (FlagRule(("x",), Status.UNSUBSCRIBED, ("true", "yes")), "false", False),
        (FlagRule(("x",), Status.NO_CONSENT, ("email_marketing",), "contains", True), "sms_marketing", True),
        (
            FlagRule(("x",), Status.NO_CONSENT, ("email_marketing",), "contains", True),
            "email_marketing,sms",
            False,
        ),
        (FlagRule(("x",), Status.NO_CONSENT, ("email_marketing",), "contains", True), None, True),
    ],
)
def test_flag_semantics(rule: FlagRule, cell: str | None, fires: bool) -> None:
    assert rule.fires(cell) is fires


def test_brevo_flags_and_list_ids() -> None:
    p = load_preset("brevo")
    blocked, consent = p.status.flags
    assert blocked.fires("1") and not blocked.fires("")
    # per channel (Brevo help 5317448358034): an SMS-only blocklisting or a 0/false cell is no email opt-out
    assert blocked.fires("email_marketing") and blocked.fires("email_marketing,sms_marketing")
    assert not blocked.fires("sms_marketing") and not blocked.fires("0") and not blocked.fires("false")
    assert consent.absent and consent.match == "contains" and consent.status is Status.NO_CONSENT
    assert p.lists.format == "brackets_pipe" and p.lists.prefix == "Brevo list "


def write(tmp_path: Path, text: str) -> Path:
    f = tmp_path / "user.toml"
    f.write_text(text, encoding="utf-8")
    return f


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        ('[[status.flags]]\ncolumn = "a"\nstatus = "unsubscribed"\nmatch = "regex"\n', "match = 'regex'"),
        (
            '[[status.flags]]\ncolumn = "a"\nstatus = "unsubscribed"\nabsent = "yes"\n',
            "absent must be true or false",
        ),
        ('[lists]\nmode = "column"\ncolumn = "L"\nformat = "xml"\n', "lists.format = 'xml'"),
    ],
)
def test_bad_additions_are_config_errors(tmp_path: Path, snippet: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_preset(write(tmp_path, '[email]\naliases = ["email"]\n' + snippet))


def test_user_mapping_extends_a_preset(tmp_path: Path) -> None:
    f = write(
        tmp_path,
        'extends = "mailchimp"\n[[fields]]\nsource = ["Phone Number", "Mobile"]\n'
        'target = "Phone"\nnote = "mine"\n[[fields]]\nsource = "Shoe Size"\ntarget = "Shoe Size"\n'
        'type = "number"\n',
    )
    p = load_preset(f)
    base = load_preset("mailchimp")
    assert p.extends == "mailchimp" and p.email == base.email and p.status == base.status
    phone = [r for r in p.fields if r.target == "Phone"]
    assert len(phone) == 1 and phone[0].sources == ("Phone Number", "Mobile") and phone[0].note == "mine"
    assert any(r.target == "Shoe Size" and r.data_type == "number" for r in p.fields)
    assert len(p.fields) == len(base.fields) + 1


def test_ignore_in_a_user_mapping_drops_a_preset_field(tmp_path: Path) -> None:
    p = load_preset(
        write(
            tmp_path,
            'extends = "mailchimp"\nignore = ["OPTIN_IP", "ZIP Code", "zip", "PLZ", "Code postal"]\n',
        )
    )
    targets = {r.target for r in p.fields}
    assert "Opt-in IP" not in targets and "Zip Code" not in targets and "Confirm IP" in targets
    assert p.ignore == ("OPTIN_IP", "ZIP Code", "zip", "PLZ", "Code postal")
    partial = load_preset(write(tmp_path, 'extends = "mailchimp"\nignore = ["FNAME"]\n'))
    first = next(r for r in partial.fields if r.target == "First Name")
    assert "FNAME" not in first.sources and "First Name" in first.sources


def test_the_readme_example_mapping_file_works(tmp_path: Path) -> None:
    text = (DEFAULT_DIR / "README.md").read_text(encoding="utf-8")
    section = text.split("## Your own mapping file", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    p = load_preset(write(tmp_path, example))
    targets = {r.target for r in p.fields}
    assert "Colour" in targets and "Opt-in IP" not in targets and "Confirm IP" in targets
    assert p.lists.name == "Spring import" and set(load_preset("mailchimp").ignore) < set(p.ignore)


@pytest.mark.parametrize("preset", sorted(REQUIRED))
def test_every_date_format_is_accepted_by_the_parser(preset: str) -> None:
    """A format polars rejects or warns about (``.%f``) would fail a real run: catch it here."""
    import polars as pl

    from etl.validate import rules

    p = load_preset(preset)
    sample = pl.Series("v", ["2020-01-02 03:04:05", "01/02/2020", "Apr 27, 2018"], dtype=pl.String)
    rules.parse_date(sample, p.date_formats)
    for r in p.fields:
        if r.data_type == "date":
            rules.parse_date(sample, (*r.formats, *p.date_formats))
        elif r.data_type == "recurrent_date":
            rules.parse_recurrent(sample, r.formats)


def test_klaviyo_consent_column_is_a_channel_list_not_a_status(tmp_path: Path) -> None:
    """Klaviyo's older Consent property lists channels (['email','web']): such cells are not unknown status
    words (they rejected their rows before); a Consent cell still carrying a status word is honoured."""
    from etl.validate import validate_sources

    f = tmp_path / "List Export 2019-03-01.csv"
    f.write_text(
        "Email,Klaviyo ID,First Name,Consent,Profile Created On\n"
        "ann@example.com,01A,Ann,\"['email', 'web']\",2019-01-01 10:00:00\n"
        "bob@example.com,01B,Bob,,2019-01-01 10:00:00\n"
        "cat@example.com,01C,Cat,UNSUBSCRIBED,2019-01-01 10:00:00\n"
        "dan@example.com,01D,Dan,NEVER_SUBSCRIBED,2019-01-01 10:00:00\n",
        encoding="utf-8",
    )
    result = validate_sources([f], preset=load_preset("klaviyo"))
    assert result.counts.rejected == 0
    got = dict(zip(result.canonical["key"], result.canonical["status"], strict=True))
    assert got == {
        "ann@example.com": "subscribed",
        "bob@example.com": "subscribed",  # on the list, no opt-out recorded
        "cat@example.com": "unsubscribed",
        "dan@example.com": "no_consent",
    }
