"""Regenerate every file in ``samples/`` deterministically, or write a large benchmark export.

Usage::

    python samples/generate.py                      # rewrite the small samples next to this script
    python samples/generate.py --large 1000000 --out bench/data/large_1m.csv

Every person is invented (example.com / example.org / example.net addresses). The small samples are
written byte for byte (encodings, BOMs, line endings and quoting are the point of most of them), so the
writers below build bytes by hand instead of going through ``csv.writer``. The large file is
Mailchimp-shaped with about 5 % problems: duplicates in another letter case, invalid addresses, quoted
newlines in NOTES, and unsubscribed people (``UNSUB_TIME`` set).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

# Hand-laid data tables below: ruff format would put every cell on its own line.
# fmt: off
HERE = Path(__file__).resolve().parent
FIXED_ZIP_TIME = (2024, 3, 1, 12, 0, 0)  # fixed member timestamps keep the ZIP bytes reproducible

MC_COMMON = (
    "Email Address,First Name,Last Name,Company,Position,ZIP Code,MEMBER_RATING,OPTIN_TIME,OPTIN_IP,"
    "CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION"
)
MC_SUBSCRIBED = MC_COMMON + ",LAST_CHANGED,LEID,EUID,NOTES,TAGS"
MC_UNSUBSCRIBED = (
    MC_COMMON + ",UNSUB_TIME,UNSUB_CAMPAIGN_TITLE,UNSUB_CAMPAIGN_ID,UNSUB_REASON,"
    "UNSUB_REASON_OTHER,LEID,EUID,NOTES,TAGS"
)
MC_CLEANED = MC_COMMON + ",CLEAN_TIME,CLEAN_CAMPAIGN_TITLE,CLEAN_CAMPAIGN_ID,LEID,EUID,NOTES,TAGS"

FIRST = (
    "Ada", "Bruno", "Chloé", "Dmitri", "Eun-ji", "Farah", "Gustavo", "Hana", "Ivo", "Jana", "Kofi", "Lena",
    "Mateo", "Nia", "Oskar", "Priya", "Quentin", "Rosa", "Sven", "Tamsin",
)
LAST = (
    "Abbott", "Brandt", "Castillo", "Dubois", "Eriksen", "Fischer", "García", "Hughes", "Ito", "Jovanović",
    "Kowalski", "Laurent", "Moreau", "Nakamura", "Okafor", "Petrov", "Quinn", "Rossi", "Schmidt", "Tanaka",
)
DOMAINS = ("example.com", "example.org", "example.net")


def q(value: str) -> str:
    """RFC 4180 quoting: wrap in quotes and double any quote inside."""
    return '"' + value.replace('"', '""') + '"'


def csv_line(cells: Iterable[str], sep: str = ",", quote_all: bool = False) -> str:
    out = []
    for c in cells:
        needs = quote_all or any(ch in c for ch in (sep, '"', "\n", "\r")) or " " in c
        out.append(q(c) if needs and c != "" else c)
    return sep.join(out)


def ascii_fold(text: str) -> str:
    """Strip accents so generated addresses stay plain ASCII (the invalid ones are invalid on purpose)."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def write(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def mc_tags(tags: Sequence[str]) -> str:
    """Mailchimp's TAGS cell content: each tag wrapped in quotes, comma-separated (``"VIP","Blog"``)."""
    return ",".join(f'"{t}"' for t in tags)


# --- Mailchimp -----------------------------------------------------------------------------------------


def mailchimp_zip(path: Path) -> None:
    geo = ["47.6614000", "-122.2930000", "-8", "-7", "America/Los_Angeles", "US", "WA"]
    sub_rows = [
        [
            "ada.abbott@example.com", "Ada", "Abbott", "Lorem Co.", "Editor", "98101", "4",
            "2021-03-02 10:11:12", "203.0.113.5", "2021-03-02 10:12:40", "203.0.113.5", *geo,
            "2023-01-05 08:00:00", "44877845", "c2cb0681af", "", mc_tags(["VIP", "Blog"]),
        ],
        [
            "bruno.brandt@example.org", "Bruno", " Brandt ", " Ipsum Ltd ", "", "10115", "2",
            "2022-06-25 17:38:27", "", "2022-06-25 17:38:27", "", "", "", "", "", "", "DE", "BE",
            "2023-02-11 09:30:00", "44877846", "d3dc1792b0", "Met at the 2022 fair.\nPrefers German.",
            mc_tags(["Lorem Editors"]),
        ],
        [
            "Chloe.Castillo@Example.com", "Chloé", "Castillo", "", "", "", "3", "2020-11-02 07:00:00", "",
            "", "", "", "", "", "", "", "FR", "", "2023-03-01 12:00:00", "44877847", "e4ed28a3c1", "",
            "Editors",
        ],
        [
            "not-an-email", "Dmitri", "Dubois", "", "", "", "1", "2023-01-01 00:00:00", "", "", "", "", "",
            "", "", "", "", "", "2023-01-02 00:00:00", "44877848", "f5fe39b4d2", "", "",
        ],
        [
            "eunji.eriksen@example.net", "Eun-ji", "Eriksen", "", "", "", "5", "2019-05-01 12:34:56", "", "",
            "", "", "", "", "", "", "", "", "2019-05-01 12:34:56", "44877849", "a6af40c5e3", "",
            mc_tags(["VIP"]),
        ],
    ]
    unsub_rows = [
        [
            "chloe.castillo@example.com", "Chloé", "Castillo", "", "", "", "2", "2020-11-02 07:00:00", "",
            "", "", "", "", "", "", "", "FR", "", "2023-04-10 15:20:00", "Spring newsletter", "8a1b2c3d4e",
            "NORMAL", "Too many emails", "44877850", "b7ba51d6f4", "", mc_tags(["Blog"]),
        ],
        [
            "farah.fischer@example.org", "Farah", "Fischer", "", "", "", "2", "2021-01-01 09:00:00", "", "",
            "", "", "", "", "", "", "", "", "2022-12-24 18:00:00", "Holiday sale", "9b2c3d4e5f", "SPAM", "",
            "44877851", "c8cb62e7a5", "", "",
        ],
    ]
    clean_rows = [
        [
            "gustavo.garcia@example.com", "Gustavo", "García", "", "", "", "1", "2018-02-02 10:00:00", "",
            "", "", "", "", "", "", "", "ES", "", "2023-05-05 05:05:05", "May update", "0c3d4e5f6a",
            "44877852", "d9dc73f8b6", "", "",
        ],
    ]
    members = {
        "members_export_bd91baeb6f/subscribed_members_export_bd91baeb6f.csv": (MC_SUBSCRIBED, sub_rows),
        "members_export_bd91baeb6f/unsubscribed_members_export_bd91baeb6f.csv": (MC_UNSUBSCRIBED, unsub_rows),
        "members_export_bd91baeb6f/cleaned_members_export_bd91baeb6f.csv": (MC_CLEANED, clean_rows),
    }
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, (header, rows) in members.items():
            head = csv_line(header.split(","))
            body = "\n".join(csv_line(r) for r in rows)
            info = zipfile.ZipInfo(name, date_time=FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, (head + "\n" + body + "\n").encode("utf-8"))


# --- other platforms ---------------------------------------------------------------------------------------


def constant_contact(path: Path) -> None:
    header = [
        "Email address", "First name", "Last name", "Company", "Job title", "Email status",
        "Email permission status", "Email update source", "Confirmed Opt-Out Date", "Phone - mobile",
        "City - Home", "Country - Home", "Tags", "Email Lists", "Source Name", "Created At", "Updated At",
    ]
    rows = [
        [
            "hana.hughes@example.com", "Hana", "Hughes", "Hughes & Co", "Owner", "Active", "Explicit",
            "Contact", "", "+1 555 0100", "Portland", "US", "VIP, Customer", "Newsletter, Events",
            "Website sign-up form", "2020-09-25 16:45:13 -0400", "2023-01-10 08:15:00 -0500",
        ],
        [
            "ivo.ito@example.org", "Ivo", "Ito", "", "", "Unsubscribed", "Unsubscribed", "Contact",
            "2022-04-01 10:00:00 -0400", "", "", "JP", "", "Newsletter", "", "2019-01-02 03:04:05 -0500",
            "2022-04-01 10:00:00 -0400",
        ],
        [
            "jana.jovanovic@example.net", "Jana", "Jovanović", "", "", "Awaiting Confirmation", "Pending",
            "Account", "", "", "", "", "", "Events", "Import", "2023-06-01 12:00:00 -0400", "",
        ],
        [
            "kofi.okafor@example.com", "Kofi", "Okafor", "", "", "No Permissions Set", "Not set", "Account",
            "", "", "", "", "Lead", "", "", "2021-07-07 07:07:07 -0400", "",
        ],
        [
            "HANA.HUGHES@example.com", "Hana", "Hughes", "", "", "Active", "Implicit", "Account", "", "", "",
            "", "", "Newsletter", "", "2020-09-25 16:45:13 -0400", "2021-01-01 00:00:00 -0500",
        ],
        [
            "lena@", "Lena", "Laurent", "", "", "Active", "Implicit", "Account", "", "", "", "", "",
            "Newsletter", "", "2021-02-02 02:02:02 -0500", "",
        ],
    ]
    lines = [csv_line(header)] + [csv_line(r) for r in rows]
    write(path, ("\r\n".join(lines) + "\r\n").encode("utf-8"))


def brevo(path: Path) -> None:
    header = [
        "EMAIL", "FIRSTNAME", "LASTNAME", "SMS", "_listIds", "_SUBSCRIBED", "_BLOCKLISTED", "ADDED_TIME",
    ]
    rows = [
        [
            "mateo.moreau@example.com", "Mateo", "Moreau", "33612345678", "[2|21]", "email_marketing", "",
            "12-04-2022 09:30",
        ],
        [
            "nia.nakamura@example.org", "Nia", "Nakamura", "", "[2]", "email_marketing", "1",
            "13-04-2022 10:00",
        ],
        [
            "oskar.ostergaard@example.net", "Øskar", "Østergaard", "", "[21|24]", "sms_marketing", "",
            "14-04-2022 11:00",
        ],
        [
            "quentin.quere@example.com", "Quentin", "Quéré", "", "[2|21|24]",
            "email_marketing,sms_marketing", "", "15-04-2022 12:00",
        ],
        ["rosa.rossi@example", "Rosa", "Rossi", "", "[2]", "email_marketing", "", "16-04-2022 13:00"],
        [
            "MATEO.MOREAU@EXAMPLE.COM", "Mateo", "Moreau-Lefèvre", "", "[24]", "email_marketing", "",
            "17-04-2022 14:00",
        ],
    ]
    lines = [";".join(header)] + [csv_line(r, sep=";") for r in rows]
    write(path, ("\r\n".join(lines) + "\r\n").encode("cp1252"))


def hubspot(path: Path) -> None:
    header = [
        "Record ID", "First Name", "Last Name", "Email", "Phone Number", "Contact owner", "Lifecycle Stage",
        "Marketing contact status", "Unsubscribed from all email", "Create Date", "Associated Company",
    ]
    rows = [
        [
            "1001", "Priya", "Petrov", "priya.petrov@example.com", "+1 555 0101", "Sales Team", "customer",
            "Marketing contact", "false", "2022-01-15 10:00", "Petrov Labs",
        ],
        [
            "1002", "Quentin", "Quinn", "quentin.quinn@example.org", "", "", "lead", "Non-marketing contact",
            "true", "2022-02-20 11:30", "",
        ],
        [
            "1003", "Rosa", "Rossi", "", "", "", "subscriber", "Marketing contact", "false",
            "2022-03-01 09:00", "",
        ],
        [
            "1004", "Sven", "Schmidt", "sven.schmidt@example.net ", "", "", "lead", "Marketing contact", "",
            "", "",
        ],
    ]
    lines = [csv_line(header, quote_all=True)] + [csv_line(r, quote_all=True) for r in rows]
    write(path, ("\n".join(lines) + "\n").encode("utf-8"))


def klaviyo(path: Path) -> None:
    header = [
        "Email", "Klaviyo ID", "First Name", "Last Name", "City", "State / Region", "Country", "Zip Code",
        "Source", "Email Marketing Consent", "Profile Created On", "Date Added",
    ]
    rows = [
        [
            "tamsin.tanaka@example.com", "01HABCDEF1", "Tamsin", "Tanaka", "Austin", "TX", "United States",
            "73301", "Signup form", "SUBSCRIBED", "2023-03-24 10:23:10", "2023-03-24 10:23:10",
        ],
        [
            "ada.abbott@example.org", "01HABCDEF2", "Ada", "Abbott", "", "", "", "", "Import",
            "NEVER_SUBSCRIBED", "2023-04-01 00:00:00", "2023-04-01 00:00:00",
        ],
        [
            "bruno.b@example.net", "01HABCDEF3", "Bruno", "Brandt", "", "", "", "02134", "Import",
            "UNSUBSCRIBED", "2023-05-01 00:00:00", "2023-05-01 00:00:00",
        ],
        [
            "Tamsin.Tanaka@example.com", "01HABCDEF4", "Tamsin", "Tanaka", "", "", "", "", "API",
            "SUBSCRIBED", "2023-06-01 00:00:00", "2023-06-01 00:00:00",
        ],
    ]
    lines = [",".join(header)] + [csv_line(r) for r in rows]
    write(path, ("\n".join(lines) + "\n").encode("utf-8"))


def excel_utf16(path: Path) -> None:
    header = ["Email", "First Name", "Last Name", "City"]
    rows = [
        ["sven.schmidt@example.com", "Sven", "Schmidt", "München"],
        ["tamsin.tanaka@example.org", "Tamsin", "Tanaka", "東京"],
        ["ada.abbott@example.net", "Ada", "Abbott", "Zürich"],
    ]
    text = "\r\n".join("\t".join(r) for r in [header, *rows]) + "\r\n"
    write(path, b"\xff\xfe" + text.encode("utf-16-le"))


# --- edge cases --------------------------------------------------------------------------------------------


def edge_cases(out: Path) -> None:
    write(
        out / "bom_utf8.csv",
        b"\xef\xbb\xbf"
        + "Email;First name;Last name\r\nada@example.com;Ada;Åberg\r\n"
        "bruno@example.org;Bruno;Brandt\r\n".encode(),
    )
    write(
        out / "quoted_newlines.csv",
        (
            "Email,Name,Notes\n"
            'ada@example.com,Ada,"first line\nsecond line"\n'
            'bruno@example.org,Bruno,"said ""hi""\n\nthen left"\n'
            "chloe@example.net,Chloé,plain\n"
        ).encode(),
    )
    write(
        out / "ragged_rows.csv",
        (
            "Email,First Name,Last Name,City\n"
            "ada@example.com,Ada,Abbott,Oslo\n"
            "bruno@example.org,Bruno,Brandt,Berlin,extra\n"
            "chloe@example.net,Chloé\n"
            "dmitri@example.com,Dmitri,Dubois,Paris\n"
        ).encode(),
    )
    write(
        out / "duplicate_headers.csv",
        (
            b"Email Address,Name,UNSUB_REASON,UNSUB_TIME,UNSUB_REASON,Name\n"
            b"ada@example.com,Ada,NORMAL,2023-01-01 00:00:00,Too many emails,Ada A.\n"
            b"bruno@example.org,Bruno,,,,\n"
        ),
    )
    write(
        out / "missing_email_column.csv",
        (b"First Name,Last Name,Phone\nAda,Abbott,555-0100\nBruno,Brandt,555-0101\n"),
    )
    write(out / "empty.csv", b"")
    write(out / "binary.bin", bytes(range(256)) * 4)
    write(
        out / "blank_lines.csv",
        (
            "\nEmail,Name\n\nada@example.com,Ada\n\n\nbruno@example.org,Bruno\n   \n\r\nchloe@example.net,Chloé\n\n"
        ).encode(),
    )
    write(
        out / "pipe_delimited.txt",
        (
            b"email|first_name|last_name|tags\nada@example.com|Ada|Abbott|vip,blog\n"
            b'bruno@example.org|Bruno|"Brandt|Berger"|\n'
        ),
    )
    people = [
        {
            "email": "ada@example.com",
            "first_name": "Ada",
            "status": "subscribed",
            "properties": {"plan": "pro", "seats": 3},
            "vip": True,
        },
        {
            "email": "bruno@example.org",
            "first_name": "Bruno",
            "status": "unsubscribed",
            "properties": {},
            "score": 4.5,
            "tags": ["a", "b"],
        },
        {"email": "chloe@example.net", "first_name": "Chloé", "status": "subscribed", "properties": None},
    ]
    write(
        out / "contacts.ndjson",
        (
            "\n".join(json.dumps(p, ensure_ascii=False) for p in people[:2])
            + "\n\n"
            + json.dumps(people[2], ensure_ascii=False)
            + "\n"
        ).encode(),
    )
    write(out / "contacts.json", (json.dumps(people, ensure_ascii=False, indent=2) + "\n").encode())
    write_xlsx(
        out / "contacts.xlsx",
        [
            ["Email", "First Name", "Last Name", "Zip"],
            ["ada@example.com", "Ada", "Abbott", "02134"],
            ["bruno@example.org", "Bruno", "", 10115],
            ["chloe@example.net", "Chloé", "Castillo", "75001"],
        ],
    )


def write_xlsx(path: Path, rows: Sequence[Sequence[str | int]]) -> None:
    """A minimal valid XLSX (inline strings, numbers as numbers) written with zipfile: no xlsxwriter needed."""
    write_workbook(path, [("Contacts", rows, False)])


def write_workbook(path: Path, sheets: Sequence[tuple[str, Sequence[Sequence[str | int]], bool]]) -> None:
    """An XLSX with one worksheet per ``(name, rows, hidden)``, in order; ``hidden`` sets ``state="hidden"``
    (what Excel's "Hide sheet" writes). Tests build multi-sheet workbooks with it: no openpyxl needed."""

    def col(i: int) -> str:
        name = ""
        i += 1
        while i:
            i, r = divmod(i - 1, 26)
            name = chr(65 + r) + name
        return name

    def esc(s: str) -> str:
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    def sheet_xml(rows: Sequence[Sequence[str | int]]) -> str:
        xml_rows = []
        for r, row in enumerate(rows, start=1):
            cells = []
            for c, v in enumerate(row):
                ref = f"{col(c)}{r}"
                if isinstance(v, int):
                    cells.append(f'<c r="{ref}"><v>{v}</v></c>')
                elif v != "":
                    cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{esc(v)}</t></is></c>')
            if cells:  # as Excel writes it: an empty row has no element at all
                xml_rows.append(f'<row r="{r}">{"".join(cells)}</row>')
        return (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            f"<sheetData>{''.join(xml_rows)}</sheetData></worksheet>"
        )

    numbers = range(1, len(sheets) + 1)
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{n}.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for n in numbers
    )
    entries = "".join(
        f'<sheet name="{esc(name).replace(chr(34), "&quot;")}" sheetId="{n}"{state} r:id="rId{n}"/>'
        for n, (name, _, hidden) in zip(numbers, sheets, strict=True)
        for state in [' state="hidden"' if hidden else ""]
    )
    rels = "".join(
        f'<Relationship Id="rId{n}" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
        f'Target="worksheets/sheet{n}.xml"/>'
        for n in numbers
    )
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            f"{overrides}"
            "</Types>"
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            f"<sheets>{entries}</sheets></workbook>"
        ),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f"{rels}</Relationships>"
        ),
    }
    for n, (_, rows, _) in zip(numbers, sheets, strict=True):
        parts[f"xl/worksheets/sheet{n}.xml"] = sheet_xml(rows)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, text in parts.items():
            info = zipfile.ZipInfo(name, date_time=FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, text.encode("utf-8"))


def write_samples(out: Path) -> list[Path]:
    """Write every small sample into ``out``; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    mailchimp_zip(out / "mailchimp_audience.zip")
    constant_contact(out / "constant_contact.csv")
    brevo(out / "brevo_cp1252_semicolon.csv")
    hubspot(out / "hubspot.csv")
    klaviyo(out / "klaviyo.csv")
    excel_utf16(out / "excel_utf16.txt")
    edge_cases(out)
    return sorted(p for p in out.iterdir() if p.is_file() and p.name not in ("generate.py", "README.md"))


# --- large benchmark file ----------------------------------------------------------------------------------


def write_large(path: Path, rows: int, seed: int = 20240301) -> None:
    """A Mailchimp-style CSV of ``rows`` records (header from the 2023 subscribed export + UNSUB_TIME).

    About 5 % of rows carry a problem: 1.5 % repeat an earlier address in another case, 1 % have an invalid
    address, 1.5 % have a quoted newline in NOTES, 1 % are unsubscribed (``UNSUB_TIME`` set).
    """
    rng = random.Random(seed)
    header = MC_COMMON + ",UNSUB_TIME,LAST_CHANGED,LEID,EUID,NOTES,TAGS"
    path.parent.mkdir(parents=True, exist_ok=True)
    emails: list[str] = []
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(header + "\n")
        buf: list[str] = []
        for i in range(rows):
            fn, ln = rng.choice(FIRST), rng.choice(LAST)
            local = ascii_fold(f"{fn}.{ln}".lower())
            roll = rng.random()
            if roll < 0.015 and emails:
                email = rng.choice(emails).upper()
            elif roll < 0.025:
                email = f"{local}.{i}@@{rng.choice(DOMAINS)}"
            else:
                email = f"{local}.{i}@{rng.choice(DOMAINS)}"
                if len(emails) < 10000:
                    emails.append(email)
            notes = "Called twice.\nLeft a voicemail." if 0.025 <= roll < 0.04 else ""
            unsub = "2023-02-03 04:05:06" if 0.04 <= roll < 0.05 else ""
            tags = mc_tags(rng.sample(["VIP", "Blog", "Customer", "Lead"], k=rng.randint(0, 2)))
            cells = [
                email, fn, ln, "Example Inc", "", f"{rng.randint(10000, 99999)}", str(rng.randint(1, 5)),
                "2021-03-02 10:11:12", "203.0.113.7", "2021-03-02 10:12:40", "203.0.113.7", "47.6614000",
                "-122.2930000", "-8", "-7", "America/Los_Angeles", "US", "WA", unsub, "2023-01-05 08:00:00",
                str(40000000 + i), f"{i:010x}", notes, tags,
            ]
            buf.append(csv_line(cells))
            if len(buf) >= 10000:
                fh.write("\n".join(buf) + "\n")
                buf.clear()
        if buf:
            fh.write("\n".join(buf) + "\n")


# fmt: on


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--large",
        type=int,
        nargs="?",
        const=1_000_000,
        default=None,
        help="write a large Mailchimp-style CSV with this many rows (default 1,000,000)",
    )
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output: a file for --large (default bench/data/large_1m.csv), else a folder",
    )
    args = ap.parse_args(argv)
    if args.large is not None:
        out = args.out or HERE.parent / "bench" / "data" / "large_1m.csv"
        write_large(out, args.large)
        print(f"wrote {out} ({out.stat().st_size:,} bytes, {args.large:,} rows)")
        return 0
    for p in write_samples(args.out or HERE):
        print(f"wrote {p.name} ({p.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
