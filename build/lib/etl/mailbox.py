"""One key per mailbox: the form every comparison of addresses uses — dedup of file rows, the account
index, verify and the ledger — and the form written to Benchmark as a contact's ``key``.

A mailbox can be written several ways: ``user@müller.de``, its punycode ``user@xn--mller-kva.de``, or with
the ü decomposed (``u`` + U+0308, as macOS file names and some form libraries write it). Compared as plain
strings they are three people, and an unsubscribe in one form left the others Active. The key is:

* the address trimmed, Unicode NFC-normalised;
* the domain's punycode labels (``xn--…``) decoded to Unicode, then NFC again, lower-cased;
* the local part lower-cased (the tool has always keyed case-insensitively, as Benchmark does).

So ``User@XN--MLLER-KVA.de``, ``user@müller.de`` and ``user@mu\\u0308ller.de`` are all ``user@müller.de``.
"""

from __future__ import annotations

import unicodedata

import polars as pl


def mailbox_key(address: str) -> str:
    """The key of one address (see the module doc). Not a validator: anything without ``@`` is only
    normalised and lower-cased."""
    a = unicodedata.normalize("NFC", address.strip())
    local, at, domain = a.rpartition("@")
    if not at:
        return a.lower()
    labels = [_unicode_label(label) for label in domain.lower().split(".")]
    domain = unicodedata.normalize("NFC", ".".join(labels)).lower()
    return f"{local.lower()}@{domain}"


def _unicode_label(label: str) -> str:
    """A punycode label decoded; any other label, or punycode that is not valid, as written (validate
    judges the address itself)."""
    if not label.startswith("xn--"):
        return label
    try:
        return label.encode("ascii").decode("idna")
    except UnicodeError:
        return label


def ascii_form(key: str) -> str | None:
    """The punycode spelling of a key whose domain is not ASCII (``user@xn--mller-kva.de``), or None: an
    account may hold the mailbox in that form, so the load searches for it too."""
    local, at, domain = key.rpartition("@")
    if not at or domain.isascii():
        return None
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        return None


NEEDS_PYTHON = r"[^\x00-\x7F]|xn--"  # keys whose normal form lower-casing alone may not give


def with_mailbox_keys(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """``frame`` with ``column`` (already trimmed and lower-cased) turned into mailbox keys. Only the few
    distinct values that are not plain ASCII (or hold punycode) go through Python."""
    odd = frame.filter(pl.col(column).str.contains(NEEDS_PYTHON)).get_column(column).unique().to_list()
    fixed = {v: k for v in odd if v is not None and (k := mailbox_key(v)) != v}
    if not fixed:
        return frame
    return frame.with_columns(pl.col(column).replace(fixed))
