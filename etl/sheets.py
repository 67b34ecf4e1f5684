"""How one sheet of a workbook is named as a source: ``book.xlsx [Sheet name]``.

Every sheet of a workbook is a source of its own (people keep "Subscribed" and "Unsubscribed" on two
sheets of one hand-made workbook), and the name must say which sheet a row came from wherever a source is
named: the report's files, ``rejects.csv``'s ``source_file``, and the rules that read a status or a list
from a source's name, which must see the sheet's name as they see a ZIP member's. The brackets cannot be
ambiguous: Excel forbids ``[`` and ``]`` in sheet names, so the last ``[`` of a label opens the sheet name.
A workbook inside a ZIP keeps the ZIP's convention in front: ``export.zip::book.xlsx [Unsubscribed]``.
"""

from __future__ import annotations

import re

# a workbook's extension, then " [" + a sheet name (no brackets, as Excel forbids them) + "]" at the end
_SHEET = re.compile(r"^(?P<book>.*\.(?:xlsx|xlsm|xls)) \[(?P<sheet>[^\[\]]*)\]$", re.IGNORECASE)


def sheet_label(book: str, sheet: str) -> str:
    """The source label of ``sheet`` in the workbook labelled ``book``."""
    return f"{book} [{sheet}]"


def sheet_of(label: str) -> str | None:
    """The sheet name a source label ends with, or ``None`` when the source is not a workbook's sheet."""
    found = _SHEET.match(label)
    return found.group("sheet") if found else None


def book_of(label: str) -> str:
    """The workbook's own label for a sheet's label (``book.xlsx [Sheet]`` → ``book.xlsx``); any other
    label as it is. File-name patterns (``MailPoet_export_*.xlsx``) are matched against this."""
    found = _SHEET.match(label)
    return found.group("book") if found else label
