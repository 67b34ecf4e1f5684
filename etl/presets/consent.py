"""Consent signals in columns no preset names: recognised by name and by value, whatever the platform.

Why this exists: on real exports, people who had opted out arrived Active whenever their opt-out sat in a
column the preset did not know (Ghost ``subscribed_to_emails=false``, Substack ``email_disabled=true``,
beehiiv ``unsubscribed_at`` filled while ``status`` said active, Shopify ``Accepts Marketing=no``). So every
column that no preset rule claims is read here first, and only a column that carries no consent signal
may become a plain custom field.

A column's *shape* is decided from its name (``classify_header``):

* ``positive`` — a consent that can be withdrawn: "subscribed", "opted in", "accepts (email) marketing",
  "consent", "marketing consent" … A false/no/0 cell is an opt-out.
* ``negative`` — a suppression flag: "email disabled", "do not email", "opted out", "unsubscribed",
  "bounced", "blocklisted", "suppressed", "global unsubscribe" … A true/yes/1 cell (or a date) is an opt-out.
* ``event`` — a suppression that happened: an unsubscribe/bounce/clean *date*, *time* or *reason*. Any
  filled cell is an opt-out.
* ``status`` — a status word column ("status", "email status", "subscription", "marketing status" …):
  cells read with the status vocabulary (``VOCABULARY``).
* ``weak`` — a name that may be about consent ("newsletter", "marketing", "mailing list" …): only
  affirmative cells pass; anything else needs a person's decision.
* ``value`` — no consent word in the name, but a cell holds a suppression word of the vocabulary
  ("unsubscribed", "bounced" …) — decided by validate from the data.

A negation right before a consent or newsletter word ("Nicht angemeldet", "no consent", "Pas de
newsletter") makes a ``negative`` column; before an opt-out word ("not unsubscribed", "Kein Widerspruch")
it makes a ``status`` column, never a guess. Words of other languages come from ``consent_words``.

A cell is read as a status, as "no signal" (affirmative or empty), or as *unreadable*. A column with an
unreadable cell, and every ``weak``/``value`` column with a non-affirmative cell, *needs a decision*: the
run stops before its first write, naming the column, its values and the flags that settle it
(``--status-column`` with ``--status-value``, or ``--ignore-column``). Readable signals always apply, and
when signals disagree the most restrictive wins (``RANK``), the same rule as for duplicate rows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from etl.model import Status
from etl.presets import consent_words as local
from etl.presets.preset import FlagRule

# Most restrictive last. A person's status is the highest-ranked status any signal gives.
RANK: Mapping[str, int] = MappingProxyType(
    {
        Status.SUBSCRIBED.value: 0,
        Status.PENDING.value: 1,
        Status.NO_CONSENT.value: 2,
        Status.UNSUBSCRIBED.value: 3,
        Status.CLEANED.value: 4,
    }
)
NO_SIGNAL = "-"  # a cell that says nothing against consent (affirmative or empty)
UNREADABLE = "?"  # a cell that cannot be read with confidence

_S, _U, _C, _P, _N = (s.value for s in Status)

# English and the other languages' words (``consent_words``), each in every spelling an export may use
TRUE_WORDS = local.spelled(
    ("true", "yes", "y", "1", "t", "on", "x", "checked", "ja", "oui", "si", "sí", *local.TRUE_WORDS)
)
FALSE_WORDS = local.spelled(
    ("false", "no", "n", "0", "f", "off", "unchecked", "nein", "non", *local.FALSE_WORDS)
)
# cells of an event column that say the event never happened
_NEVER = local.spelled(
    (
        "false",
        "no",
        "n",
        "0",
        "never",
        "none",
        "null",
        "nil",
        "nein",
        "non",
        *local.FALSE_WORDS,
        *local.NEVER_WORDS,
    )
)

# Status words of the platforms (normalised: lower case, runs of space/_/- as one space).
VOCABULARY: Mapping[str, str] = MappingProxyType(
    {
        **local.vocabulary(),  # first: an English word keeps its English meaning
        **dict.fromkeys(
            (
                "subscribed",
                "active",
                "confirmed",
                "opted in",
                "opt in",
                "optin",
                "enabled",
                "subscriber",
                "explicit",
                "implicit",
                "express",
                "implied",
                "single opt in",
                "double opt in",
                "accepted",
            ),
            _S,
        ),
        **dict.fromkeys(
            (
                "unsubscribed",
                "unsubscribe",
                "unsubscribed from all",
                "opted out",
                "opt out",
                "optout",
                "cancelled",
                "canceled",
                "inactive",
                "archived",
                "deleted",
                "disabled",
                "removed",
                "do not contact",
                "do not email",
                "blocklisted",
                "blacklisted",
                "blocked",
                "blocklist",
                "suppressed",
                "global unsubscribe",
                "revoked",
                "withdrawn",
                "declined",
                "not subscribed anymore",
            ),
            _U,
        ),
        **dict.fromkeys(
            (
                "cleaned",
                "bounced",
                "bounce",
                "hard bounce",
                "hard bounced",
                "hardbounce",
                "complained",
                "complaint",
                "spam",
                "spam complaint",
                "marked as spam",
                "reported spam",
                "unreachable",
                "invalid",
                "invalid email",
                "undeliverable",
                "quarantined",
                "junk",
            ),
            _C,
        ),
        **dict.fromkeys(
            (
                "pending",
                "unconfirmed",
                "not confirmed",
                "awaiting confirmation",
                "pending confirmation",
                "waiting for confirmation",
                "double opt in pending",
                "temp hold",
            ),
            _P,
        ),
        **dict.fromkeys(
            (
                "non subscribed",
                "nonsubscribed",
                "never subscribed",
                "not subscribed",
                "no permissions set",
                "no permission",
                "not set",
                "no consent",
                "no_consent",
                "transactional",
                "none",
            ),
            _N,
        ),
    }
)
# The words that make a column with no consent word in its name worth a question: unambiguous suppression
# words only ("cancelled", "archived", "inactive" are just as often an order's or an account's state).
SUPPRESSION_WORDS = (
    "unsubscribed",
    "unsubscribe",
    "opted out",
    "opt out",
    "optout",
    "bounced",
    "hard bounce",
    "hard bounced",
    "cleaned",
    "complained",
    "spam complaint",
    "marked as spam",
    "blocklisted",
    "blacklisted",
    "suppressed",
    "do not contact",
    "do not email",
    "global unsubscribe",
    "unreachable",
    "undeliverable",
    "quarantined",
    *local.spelled(local.SUPPRESSION_WORDS),
)


# Unicode White_Space, which polars' (Rust's) whitespace handling uses; Python's ``str.isspace`` also takes
# the separators \x1c–\x1f, so both sides name the set explicitly to read a cell alike.
WHITESPACE = " \t\n\x0b\x0c\r\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
SEPARATORS = "[" + WHITESPACE + "_\\-]+"  # (no character of WHITESPACE is special inside a class)


INVISIBLE = "[\u00ad\u200b\u200c\u200d\u2060\ufeff]"  # soft hyphen, zero-width characters, BOM


def normalise_value(value: str) -> str:
    """The form cells are compared in: invisible characters dropped, lower case, runs of space, ``_`` and
    ``-`` as one space (``Unsubscribed`` with a zero-width space pasted after it is still unsubscribed)."""
    return re.sub(SEPARATORS, " ", re.sub(INVISIBLE, "", value).lower()).strip(" ")


def words(header: str) -> list[str]:
    """A header as lower-case words: ``HasOptedOutOfEmail`` → has opted out of email, ``unsub_time`` →
    unsub time, ``Accepts Email Marketing`` → accepts email marketing."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", header.replace("\ufeff", ""))
    return [w for w in re.split(r"[^0-9a-zA-Z\u00c0-\uffff]+", spaced.casefold()) if w]


# Header patterns, English first and then the other languages' (``consent_words``); a header's words are
# matched with their accents stripped, so one pattern takes "désinscrit" and "desinscrit".
_CLEAN_ANY = (
    r"hard ?bounced?|bounced?|bounces|complain(ed|t|ts)?|spam|quarantined|unreachable|undeliverable|"
    r"invalid (email|address)|e ?mail invalid|clean(ed)?|" + local.CLEAN
)
_UNSUB_ANY = (
    r"unsubscribed?|unsubscribes|unsub|opted ?out|opt ?out|optout|do ?not ?(e ?mail|contact|mail|send)|"
    r"do ?not ?allow( bulk)? e ?mails?|do ?not ?bulk ?e ?mails?|"
    r"donotemail|dnc|e ?mail disabled|disabled|blocklisted|blocklist|blacklisted|blacklist|blocked|"
    r"bl(a|o)ck listed|suspended|"
    r"suppress(ed|ion)?|no (e ?mail|marketing)|"
    r"excluded from (campaigns?|marketing|e ?mails?|mailings?|newsletters?)|exclusion list|" + local.UNSUB
)
_CLEAN_WORDS = re.compile(r"\b(" + _CLEAN_ANY + r")\b")
_UNSUB_WORDS = re.compile(r"\b(" + _UNSUB_ANY + r")\b")
_POSITIVE_EN = (
    r"subscribed|opted ?in|opt ?in|optin|accepts?( e ?mail)? marketing|marketing (consent|opt ?in|ok)|"
    r"consent(ed|s)?|gdpr|marketable|can e ?mail|allow(s)? e ?mail|receive e ?mails?|wants? e ?mails?|"
    r"e ?mail marketing|subscribed to e ?mails?"
)
_POSITIVE_WORDS = re.compile(r"\b(" + _POSITIVE_EN + "|" + local.POSITIVE + r")\b")
_GAVE = re.compile(
    r"\b(accepts?|consent(ed|s)?|gdpr|marketable|allow(s)?|can|wants?|receive|opted ?in|opt ?in|optin|"
    + local.GAVE
    + r")\b"
)
_EVENT_WORDS = re.compile(
    r"\b(at|date|time|timestamp|on|when|datetime|since|reason|cause|dt|ts|" + local.EVENT + r")\b"
    r"|\b(" + local.EVENT_LAST + r")$"
)
_BY = re.compile(r"\bby\b")
_STATUS_NAMES = re.compile(
    r"^((e ?mail|subscription|subscriber|member|contact|marketing|consent|opt ?in|optin|newsletter|list|"
    r"e ?mail marketing|e ?mail permission|permission|mailing) (status|state)|status|state|subscription|"
    r"subscription state|permission|" + local.STATUS_NAMES + r")$"
)
# "IsOptInPending", "Confirmation pending", "Opt-in unbestätigt": a consent word that is still waiting. Its
# true is a pending consent, not a given one (read as a positive flag, every confirmed person would be
# no_consent and every waiting one Active).
_PENDING_NAME = re.compile(
    r"\b(pending|unconfirmed|awaiting|not confirmed|waiting|ausstehend|unbestatigt|en attente|pendiente|"
    r"in attesa|pendente)\b"
)
_AWAITED = re.compile(r"\b(" + _POSITIVE_EN + "|" + local.POSITIVE + r"|confirm(ed|ation)?|double opt ?in)\b")
_WEAK_EN = r"newsletters?|marketing|mailing list|e ?mail (preferences?|list)|communications?"
_WEAK_WORDS = re.compile(r"\b(" + _WEAK_EN + "|" + local.WEAK + r")\b")
# Evidence *about* a consent (when, where, how it was given) is not a signal itself.
_METADATA = re.compile(
    r"\b(ip|source|method|form|id|version|level|type|campaign|title|url|link|count|updated|modified|changed|"
    r"created|language|timezone|channel|medium|referrer|page|score|rating|sms|whatsapp|push|phone|text ?message|"
    r"other|" + local.METADATA + r")\b"
)
_POSITIVE_EVENT = re.compile(
    r"\b(opted ?in|opt ?in|optin|subscribed|consent(ed)?|confirm(ed)?|signup|joined|"
    + local.POSITIVE_EVENT
    + r")\b"
)
# "Nicht angemeldet", "Keine Einwilligung", "Pas de newsletter", "No consent": a negation right before a
# consent or newsletter word (one small word may sit between) turns the name around
_NEGATED = re.compile(
    r"\b("
    + local.NEGATION
    + r")( ("
    + local.NEGATION_FILLER
    + r"))? ("
    + _POSITIVE_EN
    + "|"
    + local.POSITIVE
    + "|"
    + _WEAK_EN
    + "|"
    + local.WEAK
    + r")\b"
)
# "Nicht abgemeldet", "not unsubscribed", "Kein Widerspruch": a negated opt-out word. Its yes is a consent
# and its no an opt-out, but a negation mis-read would turn an opt-out into Active, so such a column is
# never guessed: it is read as a status column (its yes/no cells stop the run for a person to settle).
_NEGATED_OPT_OUT = re.compile(
    r"\b("
    + local.NEGATION
    + r")( ("
    + local.NEGATION_FILLER
    + r"))? ("
    + _UNSUB_ANY
    + "|"
    + _CLEAN_ANY
    + r")\b"
)


@dataclass(frozen=True)
class ConsentShape:
    """How one column carries consent: ``kind`` (see the module doc) and the status an opt-out gives."""

    kind: str  # positive | negative | event | status | weak | value | address
    status: str  # the status a firing cell gives (for status/value: the vocabulary decides)

    def read(self, value: str | None) -> str:
        """One normalised cell → a status, ``NO_SIGNAL`` or ``UNREADABLE`` (the reference semantics;
        validate's vectorised reading uses ``value_table`` and must agree)."""
        if value is None or not value:
            return NO_SIGNAL
        return self.value_table().get(value, self.default_reading(value))

    def value_table(self) -> dict[str, str]:
        """Known cells → their reading. Cells not in the table read as ``default_reading``."""
        if self.kind == "event":
            return dict.fromkeys(_NEVER, NO_SIGNAL)
        table = {w: (NO_SIGNAL if s == _S else s) for w, s in VOCABULARY.items()}
        if self.kind == "positive":
            table.update(dict.fromkeys(TRUE_WORDS, NO_SIGNAL))
            table.update(dict.fromkeys(FALSE_WORDS, self.status))
            table.update({"allow": NO_SIGNAL, "do not allow": self.status})
        elif self.kind == "negative":
            table.update(dict.fromkeys(TRUE_WORDS, self.status))
            table.update(dict.fromkeys(FALSE_WORDS, NO_SIGNAL))
            # a CRM's option set instead of a yes/no (Dynamics 365 "Do not allow Bulk Emails": Allow / Do Not Allow)
            table.update({"do not allow": self.status, "allow": NO_SIGNAL})
            # in a suppression flag, "active"/"subscribed" mean the flag is off, not a consent word
        elif self.kind == "weak":
            table = {w: (NO_SIGNAL if s == _S else UNREADABLE) for w, s in VOCABULARY.items()}
            table.update(dict.fromkeys(TRUE_WORDS, NO_SIGNAL))
            table.update(dict.fromkeys(FALSE_WORDS, UNREADABLE))
        elif self.kind == "value":
            table = dict.fromkeys(SUPPRESSION_WORDS, UNREADABLE)
        elif self.kind == "address":  # "State" beside "City": TX is an address; any status word is asked
            table = {w: (NO_SIGNAL if s == _S else UNREADABLE) for w, s in VOCABULARY.items()}
            table.update(dict.fromkeys(TRUE_WORDS, NO_SIGNAL))
            table.update(dict.fromkeys(FALSE_WORDS, UNREADABLE))
        return table

    def default_reading(self, value: str) -> str:
        """A cell outside the table: a filled event (or a date in a flag) fires; a ``value`` column's
        other cells are ordinary data; anything else is unreadable."""
        if self.kind == "event":
            return self.status
        if self.kind == "negative" and _DATE.match(value):
            return self.status
        if self.kind in ("value", "address"):
            return NO_SIGNAL
        return UNREADABLE

    @property
    def needs_all_values(self) -> bool:
        """Whether a column's distinct values are worth listing (an event column's are timestamps)."""
        return self.kind != "event"


# a cell that starts like a date, once normalised ("-" reads as " "); validate's vectorised reading uses it too
DATE_LIKE = r"^\d{1,4}[-/. ]\d{1,2}[-/. ]\d{1,4}"
_DATE = re.compile(DATE_LIKE)


def classify_header(header: str) -> ConsentShape | None:
    """The consent shape a column's name suggests, or None when the name says nothing about consent."""
    joined = local.fold(" ".join(words(header)))
    if not joined:
        return None
    clean = bool(_CLEAN_WORDS.search(joined))
    unsub = bool(_UNSUB_WORDS.search(joined))
    opt_out = _C if clean else _U
    if (clean or unsub) and _NEGATED_OPT_OUT.search(joined):
        return None if _METADATA.search(joined) else ConsentShape("status", opt_out)
    if clean or unsub:
        # "UnsubscribedBy" (who did it: an id, a name) is filled only once someone opted out: an event
        if _EVENT_WORDS.search(joined) or _BY.search(joined):
            return None if _METADATA.search(joined) else ConsentShape("event", opt_out)
        if _METADATA.search(joined):
            return None
        if re.search(r"\b(status|state)\b", joined):
            return ConsentShape("status", opt_out)
        return ConsentShape("negative", opt_out)
    if _STATUS_NAMES.match(joined):
        return ConsentShape("status", _U)
    if _PENDING_NAME.search(joined) and _AWAITED.search(joined):
        if _METADATA.search(joined):
            return None
        return ConsentShape("event" if _EVENT_WORDS.search(joined) else "negative", _P)
    negated = _NEGATED.search(joined)
    if negated:
        if _METADATA.search(joined):
            return None
        # "keine Einwilligung = ja" never consented; "keine Werbung = ja" / "nicht angemeldet = ja" opted out
        return ConsentShape("negative", _N if _GAVE.search(negated.group(0)) else _U)
    if _POSITIVE_WORDS.search(joined):
        if _METADATA.search(joined) or (_EVENT_WORDS.search(joined) and _POSITIVE_EVENT.search(joined)):
            return None  # when/where/how a consent was given: evidence, not a signal
        if re.search(r"\b(status|state)\b", joined):
            return ConsentShape("status", _U)
        # "subscribed = false" is an unsubscribe; "accepts marketing = no" / "opted in = no" never consented
        return ConsentShape("positive", _N if _GAVE.search(joined) else _U)
    if _WEAK_WORDS.search(joined) and not _METADATA.search(joined):
        return ConsentShape("weak", _U)
    return None


VALUE_SHAPE = ConsentShape("value", _U)
ADDRESS_SHAPE = ConsentShape("address", _U)

# A bare "State" (es/pt "Estado", it "Stato", fr "État") is a subscription's state as often as a postal
# address's. Beside an address column it is the address: a US CRM's "State" = TX, MA must not stop the run.
# It is still read for consent, as ``address``: its cells are kept as a field, but any status word in it
# (inactive, unsubscribed, pending …) or a no/false is a question — never a silent Active. CRMs prefix the
# address part with the address it belongs to (Zoho's and Salesforce's "Mailing State" / MailingState beside
# "Mailing City"); "mailing state" is also a status name, so it gets the same reading.
_ADDRESS_AMBIGUOUS = re.compile(r"^(mailing )?(state|estado|stato|etat)$")
_ADDRESS_SIBLING = re.compile(
    r"\b(city|town|zip|zip ?code|zipcode|postal|post ?code|postcode|country|address|street|county|province|"
    r"ciudad|localidad|municipio|provincia|codigo postal|cidade|cep|citta|comune|cap|indirizzo|ville|"
    r"code postal|pays|"
    r"stadt|ort|plz|postleitzahl|strasse|land)\b"
)


def address_part(header: str, headers: Sequence[str]) -> bool:
    """Whether ``header`` is a bare "State"-like name (or "Mailing State") beside an address column of the same file (see
    ``ADDRESS_SHAPE``): read as an address, not as a subscription status."""
    if not _ADDRESS_AMBIGUOUS.match(local.fold(" ".join(words(header)))):
        return False
    return any(h != header and _ADDRESS_SIBLING.search(local.fold(" ".join(words(h)))) for h in headers)


def flag_check(rule: FlagRule) -> ConsentShape | None:
    """The shape that reads a preset's yes/no status flag the way the preset does — every value the preset
    lists fires it with the flag's status — so that a cell it does not list and no shape can read ("maybe",
    "unknown") is a question rather than a silent "not fired". None for flags that are not yes/no: "any
    filled cell", "contains", "absent", or values no shape reads alike (a preset's own words)."""
    if not rule.values or rule.match != "equals" or rule.absent:
        return None
    for kind in ("negative", "positive"):
        shape = ConsentShape(kind, rule.status.value)
        if all(shape.read(normalise_value(v)) == rule.status.value for v in rule.values):
            return shape
    return None


def name_says(stem: str) -> str | None:
    """The status a source's own name gives its rows, read like a column name: "unsubscribed.csv",
    "Bounced contacts 2024.csv", "abgemeldet.xlsx", "pending_confirmation.csv" → unsubscribed, cleaned,
    unsubscribed, pending. People keep their opt-outs in a file of their own when a platform has no status
    column, and such a file's rows arriving Active would be the silent opt-in the engine exists to prevent.
    Only a name that states an opt-out (a negative flag or an event's words) speaks; "subscribers.csv",
    "newsletter.csv" or "Nicht abgemeldet.csv" (a negation is never guessed) say nothing."""
    shape = classify_header(stem)
    if shape is None or shape.kind not in ("negative", "event"):
        return None
    return shape.status


def parse_status(word: str) -> Status:
    """A ``--status-value`` right-hand side: a Status, or a vocabulary word naming one."""
    w = normalise_value(word)
    for s in Status:
        if w == s.value or w == s.value.replace("_", " "):
            return s
    if w in VOCABULARY:
        return Status(VOCABULARY[w])
    raise ValueError(f"{word!r} is not a status ({', '.join(s.value for s in Status)})")
