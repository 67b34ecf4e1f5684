"""Deterministic, realistic contacts for the legacy-API emulator (tests, demos, benchmarks).

The data has to look like a real export to exercise the extractor honestly: mixed-case emails, an
unsubscribed person every few rows, sparse ``properties`` (not every contact has every key) with string,
number and boolean values, and a date. Everything derives from the index, so ``n`` contacts are the same
on every run and every machine.
"""

from __future__ import annotations

from typing import Any

FIRST_NAMES = (
    "Ana",
    "Bruno",
    "Chloé",
    "Dmitri",
    "Emeka",
    "Fatima",
    "Grace",
    "Hiroshi",
    "Inès",
    "José",
    "Kwame",
    "Lena",
    "Mateo",
    "Nadia",
    "Oskar",
    "Priya",
    "Quentin",
    "Rosa",
    "Søren",
    "Tomás",
)
LAST_NAMES = (
    "Almeida",
    "Becker",
    "Chen",
    "Dubois",
    "Eriksen",
    "Fischer",
    "García",
    "Haddad",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "López",
    "Müller",
    "Nakamura",
    "O'Brien",
    "Petrov",
    "Rossi",
    "Silva",
    "Tanaka",
    "Van Dijk",
)
COMPANIES = (
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella Ltd",
    "Stark Industries",
    "Wayne Enterprises",
    "Hooli",
    "Vandelay Imports",
    "Soylent",
    "Cyberdyne",
)
CITIES = (
    "Lisbon",
    "Berlin",
    "Toronto",
    "Nairobi",
    "São Paulo",
    "Osaka",
    "Lyon",
    "Austin",
    "Kraków",
    "Madrid",
)
SIGNUP_SOURCES = ("website", "checkout", "webinar", "import", "landing-page", "referral")
PLANS = ("free", "starter", "pro", "enterprise")
DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com")


def seed_contact(i: int, *, unsubscribed_every: int = 7, with_properties: bool = True) -> dict[str, Any]:
    """The create body of the ``i``-th seeded contact (0-based); the emulator adds id and timestamps."""
    first = FIRST_NAMES[i % len(FIRST_NAMES)]
    last = LAST_NAMES[(i // len(FIRST_NAMES)) % len(LAST_NAMES)]
    local = f"{_ascii(first)}.{_ascii(last)}{i}"
    if i % 5 == 0:
        local = local.title()  # some exports keep the case people typed
    body: dict[str, Any] = {
        "email": f"{local}@{DOMAINS[i % len(DOMAINS)]}",
        "first_name": first,
        "last_name": last if i % 11 else None,  # a few people never gave a last name
        "status": "unsubscribed"
        if unsubscribed_every and i % unsubscribed_every == unsubscribed_every - 1
        else "subscribed",
    }
    if with_properties:
        props: dict[str, Any] = {
            "company": COMPANIES[i % len(COMPANIES)],
            "city": CITIES[(i * 3) % len(CITIES)],
            "signup_source": SIGNUP_SOURCES[i % len(SIGNUP_SOURCES)],
            "signup_date": f"{2019 + i % 6:04d}-{1 + i % 12:02d}-{1 + i % 28:02d}",
        }
        if i % 3:
            props["plan"] = PLANS[i % len(PLANS)]
        if i % 4 == 0:
            props["orders"] = i % 17
        if i % 9 == 0:
            props["vip"] = i % 2 == 0
        body["properties"] = props
    return body


def _ascii(name: str) -> str:
    table = str.maketrans({"é": "e", "è": "e", "ø": "o", "á": "a", "í": "i", "ü": "u", "ó": "o", "'": ""})
    return name.lower().translate(table).replace(" ", "")
